// `npm test`: every suite, then one count. vitest (unit and integration), then the Python
// conformance suite with the official tritonclient (test/python/run.sh installs what it needs on
// first run). Extra arguments go to vitest. The last line is "N passed, N failed" over both.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const reports = mkdtempSync(join(tmpdir(), "tessera-test-"));
const vitestJson = join(reports, "vitest.json");
const pytestXml = join(reports, "pytest.xml");

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
  return r.status ?? 1;
}

const vitestBin = join(root, "node_modules", "vitest", "vitest.mjs");
const vitestStatus = run(process.execPath, [vitestBin, "run", "--reporter=default", "--reporter=json", `--outputFile.json=${vitestJson}`, ...process.argv.slice(2)]);
const pytestStatus = run("bash", [join(root, "test", "python", "run.sh"), `--junitxml=${pytestXml}`], { TESSERA_NODE: process.execPath });

/** vitest's JSON report; a file that failed to load has no failed assertion of its own: one failure. */
function vitestCounts() {
  if (!existsSync(vitestJson)) return { passed: 0, failed: 1, skipped: 0 };
  const r = JSON.parse(readFileSync(vitestJson, "utf8"));
  const broken = (r.testResults ?? []).filter((f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed")).length;
  return { passed: r.numPassedTests, failed: r.numFailedTests + broken, skipped: r.numPendingTests + r.numTodoTests };
}

/** pytest's JUnit XML: the attributes of each <testsuite>. A missing report counts as one failure. */
function pytestCounts() {
  if (!existsSync(pytestXml)) return { passed: 0, failed: 1, skipped: 0 };
  const xml = readFileSync(pytestXml, "utf8");
  const c = { passed: 0, failed: 0, skipped: 0 };
  for (const [, attrs] of xml.matchAll(/<testsuite\b([^>]*)>/g)) {
    const n = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(attrs)?.[1] ?? 0);
    c.failed += n("failures") + n("errors");
    c.skipped += n("skipped");
    c.passed += n("tests") - n("failures") - n("errors") - n("skipped");
  }
  return c;
}

const v = vitestCounts();
const p = pytestCounts();
rmSync(reports, { recursive: true, force: true });
const line = (c) => `${c.passed} passed, ${c.failed} failed` + (c.skipped ? `, ${c.skipped} skipped` : "");
console.log(`\nvitest: ${line(v)}\npytest: ${line(p)}`);
const total = { passed: v.passed + p.passed, failed: v.failed + p.failed, skipped: v.skipped + p.skipped };
console.log(line(total));
process.exit(vitestStatus !== 0 || pytestStatus !== 0 || total.failed > 0 ? 1 : 0);
