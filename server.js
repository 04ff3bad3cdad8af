#!/usr/bin/env node
// tessera's entry point: `node server.js --model-repository ./models` (see --help).
import { run } from "./dist/src/cli.js";

process.exitCode = await run(process.argv.slice(2));
// Stubs, sockets and timers are all closed by now; exit even if a handler left something open.
process.exit();
