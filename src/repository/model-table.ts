/** The start-up table of models, versions and states, as tritonserver prints it. */
import type { ModelState } from "./model-manager.js";

export interface ModelTableRow {
  name: string;
  versions: number[];
  state: ModelState;
  reason: string;
}

/** The table's lines (with a leading empty line, so it starts under the log prefix). */
export function formatModelTable(states: readonly ModelTableRow[]): string {
  const rows = states.flatMap((s) =>
    s.versions.length > 0
      ? s.versions.map((v) => [s.name, String(v), s.state])
      : [[s.name, "-", s.state === "READY" ? "READY" : `UNAVAILABLE: ${s.reason}`]],
  );
  const head = ["Model", "Version", "Status"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+";
  const fmt = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  return ["", line, fmt(head), line, ...rows.map(fmt), line].join("\n");
}
