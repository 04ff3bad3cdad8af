/**
 * --model-control-mode=poll against the real server, on a private copy of a repository that the
 * test edits: models added and removed, a new version that takes over while requests keep
 * flowing, an instance-count edit applied in place, a broken edit that leaves the old version
 * serving, an edited label file, a request in flight across a reload; the load / unload APIs (and
 * a handler's loadModel) answer Triton's poll-mode error.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, copyRepository, postJson, startServer, type RunningServer } from "./harness.js";
import { waitUntil } from "./stub-helpers.js";

const POLL_REFUSED = "explicit model load / unload is not allowed if polling is enabled";

describe("poll mode", () => {
  let server: RunningServer;
  let repo: string;

  beforeAll(async () => {
    repo = copyRepository(join(FIXTURES, "lifecycle-repo"));
    for (const m of ["warm", "warm_decoupled", "warm_fails"]) rmSync(join(repo, m), { recursive: true });
    // cold's handler re-exports warm's: keep that file.
    cpSync(join(FIXTURES, "lifecycle-repo", "warm", "1", "model.ts"), join(repo, "cold", "1", "model.ts"));
    server = await startServer(repo, { args: ["--model-control-mode=poll", "--repository-poll-secs=0.25"] });
  }, 60_000);

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(repo, { recursive: true, force: true });
  });

  const ready = async (model: string, version?: string) =>
    (await fetch(`${server.url}/v2/models/${model}${version ? `/versions/${version}` : ""}/ready`)).status === 200;
  const infer = (model: string, parameters: Record<string, unknown> = {}, outputs: unknown[] = [{ name: "HISTORY" }]) =>
    postJson(`${server.url}/v2/models/${model}/infer`, { parameters, inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2], data: [3, 1] }], outputs });
  /** Waits for `pattern` in what the server logs from now on. */
  const nextLog = () => {
    const from = server.log().length;
    return (pattern: RegExp) => waitUntil(() => pattern.test(server.log().slice(from)), 20_000, `${pattern} in the log`);
  };
  const configOf = (model: string) => join(repo, model, "config.pbtxt");
  const edit = (model: string, from: string | RegExp, to: string) => {
    const text = readFileSync(configOf(model), "utf8");
    const next = text.replace(from, to);
    expect(next).not.toBe(text);
    writeFileSync(configOf(model), next);
  };

  it("loads everything at start; the load and unload APIs answer Triton's poll-mode error", async () => {
    expect(await ready("cold")).toBe(true);
    expect(await ready("controller")).toBe(true);
    for (const op of ["load", "unload"]) {
      expect(await postJson(`${server.url}/v2/repository/models/cold/${op}`, {})).toEqual({ status: 503, body: { error: POLL_REFUSED } });
    }
    // A handler's loadModel follows the same rule.
    const r = await postJson(`${server.url}/v2/models/controller/infer`, {
      parameters: { op: "load", target: "cold" }, inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [0] }],
    });
    expect(JSON.parse(r.body.outputs[0].data[0])).toEqual({ ok: false, code: "UNAVAILABLE", message: POLL_REFUSED });
  });

  it("loads a model folder that appears, and unloads one that goes", async () => {
    cpSync(join(repo, "cold"), join(repo, "added"), { recursive: true });
    writeFileSync(configOf("added"), readFileSync(configOf("cold"), "utf8").replace('name: "cold"', 'name: "added"'));
    rmSync(join(repo, "added", "configs"), { recursive: true });
    await waitUntil(() => ready("added"), 20_000, "the added model to be ready");
    expect((await infer("added")).status).toBe(200);
    rmSync(join(repo, "added"), { recursive: true });
    await waitUntil(async () => !(await ready("added")), 20_000, "the removed model to be unloaded");
    expect(server.log()).toMatch(/poll: 'added' is gone from the model repository: unloading/);
  });

  it("a version added beside the others starts alone: an unchanged version serves on in the same process", async () => {
    cpSync(join(repo, "cold"), join(repo, "every"), { recursive: true });
    rmSync(join(repo, "every", "configs"), { recursive: true });
    writeFileSync(configOf("every"), `${readFileSync(configOf("cold"), "utf8").replace('name: "cold"', 'name: "every"')}\nversion_policy: { all {} }\n`);
    await waitUntil(() => ready("every", "1"), 20_000, "every:1 to be ready");
    const v1 = async () => JSON.parse((await postJson(`${server.url}/v2/models/every/versions/1/infer`, {
      inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [1] }], outputs: [{ name: "HISTORY" }],
    })).body.outputs[0].data[0]).calls.length;
    const before = await v1();
    const log = nextLog();
    cpSync(join(repo, "every", "1"), join(repo, "every", "2"), { recursive: true });
    await waitUntil(() => ready("every", "2"), 20_000, "every:2 to be ready");
    await log(/'every' version 1 unchanged: serving on/);
    expect(await v1()).toBe(before + 1); // the same instance: its history goes on
    rmSync(join(repo, "every"), { recursive: true });
    await waitUntil(async () => !(await ready("every", "1")), 20_000, "every to be unloaded");
  });

  it("a new version loads beside the old and takes over, with no failed request meanwhile", async () => {
    let failures = 0;
    let sent = 0;
    let stop = false;
    const load = Promise.all(Array.from({ length: 4 }, async () => {
      while (!stop) {
        sent++;
        if ((await infer("cold")).status !== 200) failures++;
      }
    }));
    cpSync(join(repo, "cold", "1"), join(repo, "cold", "2"), { recursive: true });
    await waitUntil(() => ready("cold", "2"), 20_000, "version 2 to be ready");
    await waitUntil(async () => !(await ready("cold", "1")), 10_000, "version 1 to retire");
    const after = sent;
    await waitUntil(() => sent > after + 8, 10_000, "requests on version 2");
    stop = true;
    await load;
    expect(sent).toBeGreaterThan(4);
    expect(failures).toBe(0);
  });

  it("an instance-count edit is applied in place: the serving instance stays, one joins", async () => {
    const before = JSON.parse((await infer("cold")).body.outputs[0].data[0]);
    expect(before.instance).toBe("cold_0_0");
    const log = nextLog();
    edit("cold", "count: 1", "count: 2");
    await log(/updated the instance groups of 'cold' in place/);
    const config = await (await fetch(`${server.url}/v2/models/cold/config`)).json();
    expect(config.instance_group[0].count).toBe(2);
    const seen = new Map<string, number>();
    for (let i = 0; i < 6 && seen.size < 2; i++) {
      const h = JSON.parse((await infer("cold")).body.outputs[0].data[0]);
      seen.set(h.instance, h.calls.length);
    }
    expect([...seen.keys()].sort()).toEqual(["cold_0_0", "cold_0_1"]);
    expect(seen.get("cold_0_0")).toBeGreaterThan(before.calls.length); // the same process, its history kept
  });

  it("a broken edit keeps the old version serving and logs why", async () => {
    const good = readFileSync(configOf("cold"), "utf8");
    const log = nextLog();
    writeFileSync(configOf("cold"), `${good}\nthis is not pbtxt [`);
    await log(/poll: 'cold' keeps its serving versions: .*config\.pbtxt/);
    expect((await infer("cold")).status).toBe(200);
    const fixed = nextLog();
    writeFileSync(configOf("cold"), good);
    await fixed(/successfully loaded 'cold'/);
  });

  it("an edited label file reloads the model: classification shows the new labels", async () => {
    const classify = async () => {
      const r = await infer("cold", {}, [{ name: "OUTPUT0", parameters: { classification: 1 } }]);
      return r.body.outputs[0].data[0] as string;
    };
    await waitUntil(async () => (await classify()) === "3.000000:0:alpha", 20_000, "the old labels");
    writeFileSync(join(repo, "cold", "labels.txt"), "ALPHA\nBETA\n");
    await waitUntil(async () => (await classify()) === "3.000000:0:ALPHA", 20_000, "the new labels");
  });

  it("a request in flight across a reload finishes where it started", async () => {
    const slow = infer("cold", { delay_ms: 1500 });
    await new Promise((r) => setTimeout(r, 200));
    const log = nextLog();
    edit("cold", /first_call_ms" value: \{ string_value: "\d+" \}/, 'first_call_ms" value: { string_value: "1" }');
    await log(/poll: 'cold' changed: reloading[\s\S]*successfully loaded 'cold'/);
    const r = await slow;
    expect(r.status).toBe(200);
  });
});
