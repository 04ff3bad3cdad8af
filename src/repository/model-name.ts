/**
 * The names a load accepts. A load turns its name into a folder path (<repository>/<name>), so the
 * name is checked first, before anything touches the file system, over every front end alike (the
 * HTTP route has already percent-decoded it: "%2E%2E" arrives as ".."). The rule is Triton's
 * ValidateModelName: the trimmed name must be non-empty, not "..", and hold no "/". Names such as
 * "...", "..m" or "m..1" are valid (they fail later as unknown models if no folder has them). "."
 * is refused too: it would name the repository folder itself.
 */
import { emptyModelName, traversalModelName } from "../errors/index.js";

export function checkLoadModelName(name: string): void {
  const trimmed = name.trim();
  if (trimmed === "") throw emptyModelName();
  if (trimmed === ".." || trimmed === "." || trimmed.includes("/")) throw traversalModelName(name);
}
