/** The TypeScript sources of the project, for tests of its structure (they read files, run nothing). */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Every .ts file under `dirs` (relative to the root), as root-relative paths with "/" separators, sorted. */
export function sourceFiles(...dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(relative(ROOT, path).split("\\").join("/"));
    }
  };
  for (const dir of dirs) walk(join(ROOT, dir));
  return out.sort();
}

export function readSource(file: string): string {
  return readFileSync(join(ROOT, file), "utf8");
}
