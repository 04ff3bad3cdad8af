import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseArgs } from "../../../src/cli.js";
import { ENV_FLAGS, envHelp, withEnvArgs } from "../../../src/deploy/env-args.js";

import { quietly } from "../cli/quietly.js";

describe("TESSERA_* environment variables", () => {
  it("stand for ports, addresses and the repository", () => {
    const env = {
      TESSERA_MODEL_REPOSITORY: "/mnt/models:/extra", TESSERA_HTTP_PORT: "8080", TESSERA_GRPC_PORT: "9000",
      TESSERA_METRICS_PORT: "9100", TESSERA_HTTP_ADDRESS: "127.0.0.1", TESSERA_GRPC_ADDRESS: "::", TESSERA_METRICS_ADDRESS: "0.0.0.0",
      TESSERA_DRAIN_DELAY_SECS: "5", TESSERA_EXIT_TIMEOUT_SECS: "20", TESSERA_ALLOW_GRPC: "false",
    };
    const o = parseArgs(withEnvArgs([], env));
    expect(o).toMatchObject({
      modelRepositories: ["/mnt/models", "/extra"], httpPort: 8080, grpcPort: 9000, metricsPort: 9100, httpAddress: "127.0.0.1",
      grpcAddress: "::", metricsAddress: "0.0.0.0", drainDelaySecs: 5, exitTimeoutSecs: 20, allowGrpc: false,
    });
  });

  it("lose to the flags on the command line, in both spellings", () => {
    const env = { TESSERA_MODEL_REPOSITORY: "/env", TESSERA_HTTP_PORT: "8080", TESSERA_GRPC_PORT: "9000" };
    const o = parseArgs(withEnvArgs(["--model-repository", "/flag", "--http-port=1234", "--grpc-port", "4321"], env));
    expect(o).toMatchObject({ modelRepositories: ["/flag"], httpPort: 1234, grpcPort: 4321 });
  });

  it("are checked as their flags are: a bad value is an error, not a default", () => {
    expect(() => quietly(() => parseArgs(withEnvArgs(["--model-repository=/m"], { TESSERA_HTTP_PORT: "eighty" })))).toThrow(/http-port/);
    expect(() => quietly(() => parseArgs(withEnvArgs(["--model-repository=/m"], { TESSERA_DRAIN_DELAY_SECS: "-1" })))).toThrow(/drain-delay-secs/);
  });

  it("ignore unset and empty variables; the drain delay defaults to 0", () => {
    expect(withEnvArgs(["--model-repository=/m"], { TESSERA_HTTP_PORT: "" })).toEqual(["--model-repository=/m"]);
    expect(parseArgs(["--model-repository=/m"]).drainDelaySecs).toBe(0);
  });

  it("keep the command line as it is, after the variables' flags (property)", () => {
    const names = ENV_FLAGS.map(([n]) => n);
    fc.assert(fc.property(
      fc.array(fc.string()), fc.dictionary(fc.constantFrom(...names), fc.string()),
      (argv, env) => {
        const out = withEnvArgs(argv, env);
        expect(out.slice(out.length - argv.length)).toEqual(argv);
        for (const a of out.slice(0, out.length - argv.length)) {
          const flag = a.slice(0, a.indexOf("="));
          // Every added flag comes from a set variable, and never one the command line gives.
          expect(ENV_FLAGS.some(([n, f]) => f === flag && env[n])).toBe(true);
          expect(argv.some((x) => x === flag || x.startsWith(`${flag}=`))).toBe(false);
        }
      },
    ));
  });

  it("are listed in --help", () => {
    for (const [name, flag] of ENV_FLAGS) expect(envHelp()).toMatch(new RegExp(`${name} +${flag}`));
  });
});
