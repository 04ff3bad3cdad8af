// Python tools the benchmarks drive as users run them (perf_analyzer, genai-perf, Triton itself),
// each in a venv of its own under ~/.cache/tessera (or TESSERA_PY_CACHE), made on first use from
// bench/python/*.txt and reused while that file is unchanged.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const cache = process.env.TESSERA_PY_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "tessera");

function glibc() {
  const v = process.report?.getReport?.().header?.glibcVersionRuntime ?? "0.0";
  const [major, minor] = v.split(".").map(Number);
  return { text: v, atLeast: (a, b) => major > a || (major === a && minor >= b) };
}

/** A venv under the cache made from `requirements` (reused while they are unchanged); its path. */
export function venv(name, requirements) {
  const key = createHash("sha256").update(readFileSync(requirements)).update(execFileSync("python3", ["--version"])).digest("hex").slice(0, 16);
  const dir = join(cache, `${name}-${key}`);
  if (!existsSync(join(dir, ".complete"))) {
    console.error(`bench: creating ${dir} (first run)`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(cache, { recursive: true });
    execFileSync("python3", ["-m", "venv", dir], { stdio: "inherit" });
    execFileSync(join(dir, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", "-r", requirements], { stdio: "inherit" });
    writeFileSync(join(dir, ".complete"), "");
  }
  return dir;
}

export const sitePackages = (dir) => {
  const lib = join(dir, "lib");
  return join(lib, readdirSync(lib).find((d) => d.startsWith("python")), "site-packages");
};

/** The perf_analyzer binary and the environment it runs in; throws with the reason it cannot run. */
export function perfAnalyzer() {
  const modern = glibc().atLeast(2, 38);
  const dir = venv(modern ? "bench-perf" : "bench-perf-glibc234", join(here, "python", modern ? "perf-analyzer.txt" : "perf-analyzer-glibc234.txt"));
  const bin = join(dir, "bin", "perf_analyzer");
  const env = { ...process.env };
  if (!modern) env.LD_LIBRARY_PATH = [join(sitePackages(dir), "nvidia", "cuda_runtime", "lib"), env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  const probe = spawnSync(bin, ["--help"], { env, encoding: "utf8" });
  if (probe.error || /error while loading shared libraries|not found \(required by/.test(probe.stderr)) {
    const why = probe.error?.message ?? probe.stderr.trim().split("\n")[0];
    throw new Error(`perf_analyzer does not run here (glibc ${glibc().text}): ${why}` +
      (/libb64/.test(why) ? " (install it: apt-get install libb64-0d)" : ""));
  }
  return { bin, env, source: modern ? "perf-analyzer 2.60.0" : "tritonclient 2.50.0 (glibc < 2.38)" };
}


/**
 * One perf_analyzer measurement of `seconds` windows; its CSV row as { rps, p50_us, p99_us } or
 * { error } with its output's last lines. Stability is not required (-s 1000): this machine is shared.
 */
export function perfRun(pa, args, seconds) {
  const dir = mkdtempSync(join(tmpdir(), "tessera-perf-"));
  const csv = join(dir, "out.csv");
  const r = spawnSync(pa.bin, [...args, "-p", String(seconds * 1000), "-s", "1000", "-r", "5", "-f", csv], { env: pa.env, encoding: "utf8", timeout: (seconds * 6 + 60) * 1000 });
  try {
    if (r.status !== 0 || !existsSync(csv)) {
      const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-4).join(" | ");
      return { error: `perf_analyzer ${args.join(" ")}: exit ${r.status ?? r.signal}: ${tail}` };
    }
    const [head, row] = readFileSync(csv, "utf8").trim().split("\n");
    const cols = head.split(",");
    const v = row.split(",").map(Number);
    const at = (name) => v[cols.indexOf(name)];
    return { rps: Math.round(at("Inferences/Second")), p50_us: at("p50 latency"), p99_us: at("p99 latency") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
