/**
 * No class of the request path (src/core, src/scheduler, src/backends) grows past 250 lines: a
 * class that does grow is taking on another concern, which belongs in a class of its own (style.md:
 * python_backend's python_be.cc is the warning of what a supervisor becomes when every feature adds
 * a method to it).
 *
 * A class is counted from its `class X` line to its closing brace at column 0, both included:
 * top-level classes only, as the code is formatted.
 */
import { describe, expect, it } from "vitest";
import { readSource, sourceFiles } from "./sources.js";

const MAX_CLASS_LINES = 250;
const CLASS_START = /^(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)/;

/** Each top-level class of a file: its name and its length in lines. */
export function classLengths(text: string): { name: string; lines: number }[] {
  const lines = text.split("\n");
  const out: { name: string; lines: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = CLASS_START.exec(lines[i]);
    if (!m) continue;
    let end = i;
    // A one-line class ends on its own line; otherwise at the first "}" in column 0.
    if (!/}\s*;?\s*$/.test(lines[i])) {
      end = lines.findIndex((line, j) => j > i && line.startsWith("}"));
      if (end < 0) end = lines.length - 1;
    }
    out.push({ name: m[1], lines: end - i + 1 });
    i = end;
  }
  return out;
}

describe("class size", () => {
  it("counts from `class X` to the closing brace at column 0", () => {
    const text = [
      "export class A {",
      "  m() {",
      "  }",
      "}",
      "class B extends A {}",
      "export default class C",
      "  implements I {",
      "}",
    ].join("\n");
    expect(classLengths(text)).toEqual([{ name: "A", lines: 4 }, { name: "B", lines: 1 }, { name: "C", lines: 3 }]);
  });

  it(`keeps every class of src/core, src/scheduler and src/backends within ${MAX_CLASS_LINES} lines`, () => {
    const files = sourceFiles("src/core", "src/scheduler", "src/backends");
    const all = files.flatMap((file) => classLengths(readSource(file)).map((c) => ({ ...c, file })));
    expect(all.length).toBeGreaterThan(10);
    const tooLong = all.filter((c) => c.lines > MAX_CLASS_LINES).map((c) => `${c.file}: class ${c.name}, ${c.lines} lines`);
    expect(tooLong).toEqual([]);
  });
});
