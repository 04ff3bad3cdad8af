/**
 * Texts about a model's files, as a client may see them: paths relative to the model repository
 * ("crasher/1", "broken/config.pbtxt:6"), as Triton's clients see model-relative names. Where the
 * server's repositories, or its private handler cache, live on disk is the server's business: the
 * log keeps the full text, the load API and the index `reason` get this one. (Segment names never
 * reach any ServerError text: src/errors takes them out.)
 */
import { realpathSync } from "node:fs";
import { HANDLER_CACHE_DIR } from "../backends/stub/handler-module.js";

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export class ClientPaths {
  /** Each absolute root, with and without "file://", then followed by "/" or ending the path. */
  readonly #pattern: RegExp | null;

  /** `roots`: absolute folders to hide (the repositories); the handler cache is always hidden. */
  constructor(roots: readonly string[]) {
    const all = new Set<string>();
    for (const r of [...roots, HANDLER_CACHE_DIR]) {
      const trimmed = r.replace(/\/+$/, "");
      if (trimmed === "") continue; // "/" itself: nothing sensible to strip
      all.add(trimmed);
      try {
        all.add(realpathSync(trimmed)); // a root reached through a symlink shows up resolved in stack traces
      } catch {
        // not there (yet): its given spelling is enough
      }
    }
    // Longest first, so that a repository nested in another is stripped as a whole.
    const alternatives = [...all].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.#pattern = alternatives.length === 0
      ? null
      : new RegExp(`(?:file://)?(?:${alternatives.join("|")})(/|(?![^\\s'"),;:\\]]))`, "g");
  }

  /** `text` with every root stripped: "<root>/a/b" becomes "a/b", a bare "<root>" becomes ".". */
  text(text: string): string {
    return this.#pattern ? text.replace(this.#pattern, (_m, slash: string) => (slash === "/" ? "" : ".")) : text;
  }
}
