// npm run bench -- <name>: runs bench/<name>.js (ipc, http, lifecycle, embedding, ocr, ...). Each prints its figures beside a
// baseline measured in the same run, and last one JSON line {"bench": name, ...}.
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here).filter((f) => f.endsWith(".js") && !["run.js", "util.js"].includes(f) && !f.includes("-child")).map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !existsSync(join(here, `${name}.js`))) {
  console.error(`usage: npm run bench -- <${names.join("|")}>`);
  process.exit(2);
}
if (!existsSync(join(here, "..", "dist", "src", "server.js"))) {
  console.error("build first: npm install (or npm run build)");
  process.exit(2);
}
const { run } = await import(`./${name}.js`);
const result = await run(process.argv.slice(3));
console.log(JSON.stringify({ bench: name, ...result }));
process.exit(0);
