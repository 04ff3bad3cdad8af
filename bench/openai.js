// The OpenAI-compatible front end: the text_generator (greedy, no pacing) streamed over
// POST /v1/chat/completions, beside the same model over generate_stream, in the same run, at
// concurrency 1 and 16. Figures: time to first token (TTFT), inter-token latency (ITL), tokens/s.
// Goal: OpenAI streaming >= 0.9x the tokens/s of generate_stream (both paths in BENCH_ROUNDS (3)
// interleaved rounds, the median round's comparison), <= 1 ms added TTFT under the same load (probe()).
// Requests ask for 256 tokens on average (lengths()); CPU per token of main, stub and client too.
//
// genai-perf (PyPI) runs against /v1/chat/completions when it can: it is installed on first run
// into a venv under ~/.cache/tessera (or TESSERA_PY_CACHE) from bench/python/genai-perf.txt, and
// drives bench/perf.js's perf_analyzer (python-tools.js). Its tokenizer is a local one of the
// model's own characters (GENAI_PERF_TOKENIZER, a Hugging Face id or folder, overrides it). When it
// cannot run, the reason is printed and put in the JSON line, and the figures are our own client's.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cache, perfAnalyzer, venv } from "./python-tools.js";
import { cpuUs, nowUs, startTessera, stubPids, summarize } from "./util.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TOKENS = 256;
const PROBE_TOKENS = 8;
const PROMPT = "Shall I compare thee";
const CONCURRENCIES = [1, 16];

/** A copy of the text_generator with no pause between tokens: the bench measures the server. */
function repository() {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-openai-"));
  cpSync(join(root, "examples", "model_repository", "text_generator"), join(dir, "text_generator"), { recursive: true });
  const config = join(dir, "text_generator", "config.pbtxt");
  writeFileSync(config, readFileSync(config, "utf8").replace(/string_value: "30"/, 'string_value: "0"'));
  return dir;
}

/**
 * One streamed request: the times (µs from the start) of each event that carried a token. An
 * OpenAI chunk carries one when its delta has content; generate_stream's every event does.
 */
function stream(port, path, body, isToken, agent) {
  return new Promise((resolve, reject) => {
    const t0 = nowUs();
    const times = [];
    const req = http.request({ port, host: "127.0.0.1", path, method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      res.setEncoding("utf8");
      let tail = "";
      res.on("data", (chunk) => {
        const parts = (tail + chunk).split("\n\n");
        tail = parts.pop();
        const t = nowUs() - t0;
        for (const p of parts) if (isToken(p.slice(6))) times.push(t);
      });
      res.on("end", () => resolve({ times, total: nowUs() - t0 }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const generateToken = (data) => !data.startsWith('{"error"');
const chatToken = (data) => data.includes('"delta":{"content":"') || data.includes('"delta":{"role":"assistant","content":"');

/**
 * The lengths client `k` asks for, request after request: TOKENS on average, spread over
 * [TOKENS/2, 3·TOKENS/2) by a fixed sequence of its own, so both paths get the same work. Equal
 * lengths would keep clients that started together finishing together: at c=16 the next
 * requests then arrive as a burst, and the time to first token measures the burst's size (it
 * swung by ±5 ms between rounds of one path) rather than the server.
 */
function lengths(k) {
  let x = (k + 1) * 2654435761 >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return TOKENS / 2 + (x % TOKENS);
  };
}

/**
 * `concurrency` clients calling `one(agent, maxTokens)` for SECONDS, over keep-alive connections
 * of their own (made for this measurement: a pooled one left idle while genai-perf ran may have
 * been closed).
 */
async function measure(concurrency, one, pids) {
  const agent = new http.Agent({ keepAlive: true });
  const cpu0 = [cpuUs(pids.main), cpuUs(pids.stub), process.cpuUsage()];
  const ttft = [];
  const itl = [];
  let tokens = 0;
  const end = Date.now() + SECONDS * 1000;
  const t0 = nowUs();
  await Promise.all(Array.from({ length: concurrency }, async (_, k) => {
    const next = lengths(k);
    while (Date.now() < end) {
      const maxTokens = next();
      const { times } = await one(agent, maxTokens);
      if (times.length !== maxTokens) throw new Error(`expected ${maxTokens} tokens, got ${times.length}`);
      tokens += times.length;
      ttft.push(times[0]);
      for (let i = 1; i < times.length; i++) itl.push(times[i] - times[i - 1]);
    }
  }));
  const secs = (nowUs() - t0) / 1e6;
  const client = process.cpuUsage(cpu0[2]);
  const perToken = (us) => +(us / Math.max(1, tokens)).toFixed(2);
  const cpu = { main: perToken(cpuUs(pids.main) - cpu0[0]), stub: perToken(cpuUs(pids.stub) - cpu0[1]), client: perToken(client.user + client.system) };
  agent.destroy();
  const mean = (a) => Math.round(a.reduce((x, y) => x + y, 0) / Math.max(1, a.length));
  return { tokens_per_s: Math.round(tokens / secs), ttft_p50_us: summarize(ttft).p50, itl_mean_us: mean(itl), requests: ttft.length, cpu_us_per_token: cpu };
}

/**
 * The time to first token each path adds under the same load: `background` clients stream over
 * generate_stream (as in measure()) while one probe client alternates short requests over both
 * paths, in random order per pair. The rounds of measure() compare two different loads (their
 * own path's streams), so their TTFT gap also holds how each load interleaves in the stub; here
 * only the path of the request itself differs.
 */
async function probe(background, paths) {
  const agent = new http.Agent({ keepAlive: true });
  const end = Date.now() + SECONDS * 2000;
  const load = Promise.all(Array.from({ length: background }, async (_, k) => {
    const next = lengths(k);
    while (Date.now() < end) await paths.generate(agent, next());
  }));
  const ttft = { generate: [], openai: [] };
  while (Date.now() < end) {
    for (const path of Math.random() < 0.5 ? ["generate", "openai"] : ["openai", "generate"]) {
      const { times } = await paths[path](agent, PROBE_TOKENS);
      if (times.length !== PROBE_TOKENS) throw new Error(`expected ${PROBE_TOKENS} tokens, got ${times.length}`);
      ttft[path].push(times[0]);
    }
  }
  await load;
  agent.destroy();
  const generate = summarize(ttft.generate).p50, openai = summarize(ttft.openai).p50;
  return { generate_ttft_p50_us: generate, openai_ttft_p50_us: openai, added_ttft_us: Math.round(openai - generate), pairs: ttft.openai.length };
}

/**
 * genai-perf, its environment and a tokenizer; throws with the reason it cannot be had. It drives
 * the same perf_analyzer as bench/perf.js (put first on its PATH). Its tokenizer counts the output
 * tokens: by default a local Hugging Face tokenizer of the text_generator's own characters (one
 * token per character, as the model generates), made once with the venv's `tokenizers`, so that
 * nothing is downloaded and genai-perf's token counts are the model's.
 */
function genaiPerf() {
  if (process.env.BENCH_GENAI_PERF === "0") throw new Error("skipped (BENCH_GENAI_PERF=0)");
  const dir = venv("bench-genai-perf", join(here, "python", "genai-perf.txt"));
  const pa = perfAnalyzer();
  const env = { ...pa.env, PATH: `${dirname(pa.bin)}:${join(dir, "bin")}:${process.env.PATH}`, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" };
  const tokenizer = process.env.GENAI_PERF_TOKENIZER ?? characterTokenizer(join(dir, "bin", "python"));
  return { bin: join(dir, "bin", "genai-perf"), env, tokenizer, perfAnalyzer: pa.source };
}

/** A Hugging Face tokenizer folder whose tokens are the text_generator's characters; its path. */
function characterTokenizer(python) {
  const vocabFile = join(root, "examples", "model_repository", "text_generator", "1", "vocab.json");
  const vocab = JSON.parse(readFileSync(vocabFile, "utf8")).vocab;
  const key = createHash("sha256").update(JSON.stringify(vocab)).digest("hex").slice(0, 16);
  const out = join(cache, `bench-char-tokenizer-${key}`);
  if (existsSync(join(out, "tokenizer.json"))) return out;
  const script = [
    "import json, sys",
    "from tokenizers import Tokenizer, Regex, models, pre_tokenizers",
    "from transformers import PreTrainedTokenizerFast",
    "chars = json.loads(sys.argv[1])",
    "vocab = {c: i for i, c in enumerate(chars)}",
    "vocab['[UNK]'] = len(vocab)",
    "tok = Tokenizer(models.WordLevel(vocab, unk_token='[UNK]'))",
    "tok.pre_tokenizer = pre_tokenizers.Split(Regex('[\\s\\S]'), behavior='isolated')",
    "PreTrainedTokenizerFast(tokenizer_object=tok, unk_token='[UNK]').save_pretrained(sys.argv[2])",
  ].join("\n");
  const r = spawnSync(python, ["-c", script, JSON.stringify(vocab), out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`could not make the character tokenizer: ${`${r.stderr}`.trim().split("\n").slice(-1)[0]}`);
  return out;
}

/** One genai-perf profile of /v1/chat/completions; its TTFT, ITL and tokens/s, or { error }. */
function genaiProfile(gp, port, concurrency) {
  const out = mkdtempSync(join(tmpdir(), "tessera-genai-perf-"));
  const args = ["profile", "-m", "text_generator", "--endpoint-type", "chat", "--streaming", "-u", `127.0.0.1:${port}`,
    "--concurrency", String(concurrency), "--output-tokens-mean", String(TOKENS), "--extra-inputs", `max_tokens:${TOKENS}`,
    "--extra-inputs", "temperature:0", "--measurement-interval", String(SECONDS * 1000), "--artifact-dir", out,
    "--tokenizer", gp.tokenizer];
  const r = spawnSync(gp.bin, args, { env: gp.env, encoding: "utf8", timeout: (SECONDS * 6 + 120) * 1000 });
  try {
    const find = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? find(join(d, e.name)) : e.name === "profile_export_genai_perf.json" ? [join(d, e.name)] : []));
    const file = existsSync(out) ? find(out)[0] : undefined;
    if (r.status !== 0 || !file) {
      return { error: `genai-perf exit ${r.status ?? r.signal}: ${`${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-3).join(" | ")}` };
    }
    const j = JSON.parse(readFileSync(file, "utf8"));
    return {
      tokens_per_s: Math.round(j.output_token_throughput.avg), ttft_p50_us: Math.round(j.time_to_first_token.p50 * 1000),
      itl_mean_us: Math.round(j.inter_token_latency.avg * 1000),
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const cpuLine = (m) => `${m.cpu_us_per_token.main}/${m.cpu_us_per_token.stub}/${m.cpu_us_per_token.client}`;

export async function run() {
  const repo = repository();
  const tessera = await startTessera([repo], ["--openai-port", "0"]);
  const openaiPort = await new Promise((resolve) => {
    let out = "";
    const on = (c) => {
      out += c;
      const m = /Started OpenAIService at [^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    tessera.proc.stdout.on("data", on);
    tessera.proc.stderr.on("data", on);
  });
  let gp = null;
  let genaiPerfUnavailable = null;
  try {
    gp = genaiPerf();
  } catch (err) {
    genaiPerfUnavailable = err.message;
    console.log(`genai-perf cannot run here: ${genaiPerfUnavailable}; measuring with our own OpenAI client only`);
  }
  const generateBody = (maxTokens = TOKENS) => ({ text_input: PROMPT, max_tokens: maxTokens, parameters: { temperature: 0 } });
  const chatBody = (maxTokens = TOKENS) => ({ model: "text_generator", messages: [{ role: "user", content: PROMPT }], max_tokens: maxTokens, temperature: 0, stream: true });
  const rows = {};
  const failures = [];
  try {
    // Warm both paths (JIT, the stub's first session runs) before anything is timed.
    for (let i = 0; i < 3; i++) {
      await stream(tessera.port, "/v2/models/text_generator/generate_stream", generateBody(), generateToken);
      await stream(openaiPort, "/v1/chat/completions", chatBody(), chatToken);
    }
    // The one stub (text_generator has one instance): its CPU per token, beside main's and ours.
    const pids = { main: tessera.proc.pid, stub: stubPids(tessera.proc.pid)[0] };
    const paths = {
      generate: (agent, n) => stream(tessera.port, "/v2/models/text_generator/generate_stream", generateBody(n), generateToken, agent),
      openai: (agent, n) => stream(openaiPort, "/v1/chat/completions", chatBody(n), chatToken, agent),
    };
    for (const c of CONCURRENCIES) {
      // Interleaved rounds: a drift of the machine over time (a noisy neighbour) hits both paths
      // alike; each figure is the median of the rounds' own same-round comparisons.
      const rounds = [];
      for (let r = 0; r < ROUNDS; r++) {
        const generate = await measure(c, paths.generate, pids);
        const openai = await measure(c, paths.openai, pids);
        rounds.push({ generate, openai, ratio: openai.tokens_per_s / generate.tokens_per_s, added: openai.ttft_p50_us - generate.ttft_p50_us });
      }
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const added = median(rounds.map((x) => x.added));
      const { generate, openai } = rounds.find((x) => x.added === added);
      const row = {
        generate_stream: generate, openai,
        ratio_tokens_per_s: +median(rounds.map((x) => x.ratio)).toFixed(3),
        added_ttft_us: Math.round(added),
        rounds: rounds.map((x) => ({ ratio: +x.ratio.toFixed(3), added_ttft_us: Math.round(x.added) })),
        probe: await probe(c - 1, paths),
      };
      if (gp) {
        row.genai_perf = genaiProfile(gp, openaiPort, c);
        if (row.genai_perf.error) failures.push(row.genai_perf.error);
      }
      rows[`c${c}`] = row;
      console.log(`c=${c}: generate_stream ${generate.tokens_per_s} tokens/s (TTFT p50 ${generate.ttft_p50_us} µs, ITL ${generate.itl_mean_us} µs) | ` +
        `OpenAI chat stream ${openai.tokens_per_s} tokens/s (TTFT p50 ${openai.ttft_p50_us} µs, ITL ${openai.itl_mean_us} µs) | ` +
        `CPU µs per token main/stub/client ${cpuLine(generate)} vs ${cpuLine(openai)} | ` +
        `ratio ${row.ratio_tokens_per_s} (goal >= 0.9) | TTFT, OpenAI rounds minus generate_stream rounds: ${row.added_ttft_us} µs (median of ${ROUNDS}: ${row.rounds.map((x) => x.added_ttft_us).join(", ")} µs) | ` +
        `added TTFT under the same load (${c - 1} background streams, ${row.probe.pairs} probe pairs): ${row.probe.openai_ttft_p50_us} vs ${row.probe.generate_ttft_p50_us} µs = ${row.probe.added_ttft_us} µs (goal <= 1000)` +
        (row.genai_perf ? ` | genai-perf: ${row.genai_perf.error ?? `${row.genai_perf.tokens_per_s} tokens/s, TTFT p50 ${row.genai_perf.ttft_p50_us} µs, ITL ${row.genai_perf.itl_mean_us} µs`}` : ""));
    }
  } finally {
    await tessera.stop();
    rmSync(repo, { recursive: true, force: true });
  }
  // The TTFT goal is what the front end adds to a request: the probe's same-load comparison.
  const goal = Object.values(rows).every((r) => r.ratio_tokens_per_s >= 0.9 && r.probe.added_ttft_us <= 1000);
  return { tokens_per_request: TOKENS, ...rows, goal_met: goal, genai_perf_unavailable: genaiPerfUnavailable, failures };
}
