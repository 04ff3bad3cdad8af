/**
 * No module of src/ or stub/ imports itself through others (architecture.md: layers point down,
 * "types at the bottom"). Type-only imports count too: a cycle of types is a cycle of concepts,
 * and the next value import along it becomes a load-order bug.
 *
 * The graph comes from the import/export statements of each file (a regex: every relative
 * specifier of `import ... from`, `export ... from`, `import "..."` and `import("...")`, comments
 * removed). NodeNext makes each specifier name its file ("./x.js" is ./x.ts), so no resolver is
 * needed.
 */
import { dirname, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { readSource, sourceFiles } from "./sources.js";

const SPECIFIER = /\b(?:import|export)\b(?:[\s\w{}*,$]*?\bfrom\b)?\s*\(?\s*["']([^"']+)["']/g;

/** The relative specifiers a file imports (value or type, static or dynamic). */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return [...code.matchAll(SPECIFIER)].map((m) => m[1]).filter((s) => s.startsWith("."));
}

/** file → the project files it imports (root-relative, .ts). */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = importsOf(readSource(file))
      .map((s) => posix.normalize(posix.join(dirname(file), s)).replace(/\.js$/, ".ts"))
      .filter((t) => known.has(t));
    graph.set(file, [...new Set(targets)].sort());
  }
  return graph;
}

/** The strongly connected components with a cycle (Tarjan), each sorted, in a stable order. */
export function cyclicComponents(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/** A shortest cycle through `start` inside its component, as "a → b → a". */
export function cycleThrough(graph: Map<string, string[]>, start: string, component: readonly string[]): string {
  const inside = new Set(component);
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(from.get(path[0])!);
        return [...path, start].join(" → ");
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return start;
}

describe("the import graph of src/ and stub/", () => {
  it("reads import and export statements, and nothing in comments", () => {
    const text = [
      '// import { gone } from "./commented.js";',
      "/* export * from './block.js' */",
      'import { a,',
      '  b } from "./multi-line.js";',
      'import type { T } from "../up/types.js";',
      'export { c } from "./re-export.js";',
      'export * from "./star.js";',
      'import "./side-effect.js";',
      'const m = await import("./dynamic.js");',
      'import { z } from "zod";',
      'type Ort = typeof import("onnxruntime-node");',
    ].join("\n");
    expect(importsOf(text)).toEqual([
      "./multi-line.js", "../up/types.js", "./re-export.js", "./star.js", "./side-effect.js", "./dynamic.js",
    ]);
  });

  it("finds a cycle when there is one", () => {
    const graph = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a", "d"]], ["d", []], ["e", ["e"]]]);
    expect(cyclicComponents(graph)).toEqual([["a", "b", "c"], ["e"]]);
    expect(cycleThrough(graph, "a", ["a", "b", "c"])).toBe("a → b → c → a");
  });

  it("has no cycles", () => {
    const files = sourceFiles("src", "stub");
    expect(files.length).toBeGreaterThan(50);
    const graph = importGraph(files);
    expect([...graph.values()].flat().length).toBeGreaterThan(100);
    // Each component's shortest cycle through each of its files, once per distinct cycle.
    const cycles = new Set<string>();
    for (const component of cyclicComponents(graph)) {
      for (const file of component) {
        const cycle = cycleThrough(graph, file, component).split(" → ").slice(0, -1);
        const first = cycle.indexOf([...cycle].sort()[0]);
        const canonical = [...cycle.slice(first), ...cycle.slice(0, first)];
        cycles.add([...canonical, canonical[0]].join(" → "));
      }
    }
    expect([...cycles]).toEqual([]);
  });
});
