/**
 * Stop sequences over streamed text. OpenAI's rule: the completion ends before the first stop
 * sequence, which is not part of the text. Text arrives in pieces (one model response each), so a
 * piece that ends with the beginning of a stop sequence is held back until the next piece shows
 * whether the sequence completes; that text is what a streaming client sees late, never wrong.
 */
export class StopMatcher {
  readonly #stops: readonly string[];
  /** Text received but not yet released: it may be the beginning of a stop sequence. */
  #held = "";
  #stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The text that can be released now, and whether a stop sequence ended the completion. */
  push(piece: string): { text: string; stopped: boolean } {
    if (this.#stopped) return { text: "", stopped: true };
    if (this.#stops.length === 0) return { text: piece, stopped: false };
    const text = this.#held + piece;
    let cut = -1;
    for (const stop of this.#stops) {
      const at = text.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.#held = "";
      this.#stopped = true;
      return { text: text.slice(0, cut), stopped: true };
    }
    const keep = this.#partialSuffix(text);
    this.#held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stopped: false };
  }

  /** The end of the stream: whatever was held back is text after all. */
  flush(): string {
    const text = this.#held;
    this.#held = "";
    return this.#stopped ? "" : text;
  }

  /** The length of the longest suffix of `text` that is a proper prefix of some stop sequence. */
  #partialSuffix(text: string): number {
    let best = 0;
    for (const stop of this.#stops) {
      for (let n = Math.min(stop.length - 1, text.length); n > best; n--) {
        if (text.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
