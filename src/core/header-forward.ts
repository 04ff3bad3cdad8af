/**
 * --http-header-forward-pattern / --grpc-header-forward-pattern: request headers whose name the
 * pattern matches (anywhere in the name: RE2::PartialMatch) reach the model as string request
 * parameters, as Triton's front ends add them. Triton prefixes the pattern with "(?i)" (header
 * names are case-insensitive), so a leading "(?-i)" makes it case-sensitive again; JavaScript's
 * RegExp has no inline flags, so leading flag groups are read here and become RegExp flags.
 * A matching header that is a reserved parameter name (exactly, as Triton compares) or starts
 * with "triton_" fails the request with Triton's text.
 */
import { headerForwardPatternInvalid, headerReserved } from "../errors/index.js";
import type { ParamValue } from "./types.js";

/** common.h kReservedParameterKeys: parameters a client may not set, nor a header forward. */
export const RESERVED_PARAMETER_KEYS: readonly string[] = [
  "sequence_id", "sequence_start", "sequence_end", "priority", "timeout", "headers", "binary_data_output",
];

export class HeaderForward {
  readonly #regex: RegExp;

  /** `option` names the flag in the error a bad pattern gets. */
  constructor(pattern: string, option: string) {
    let rest = pattern;
    let insensitive = true; // Triton's "(?i)" prefix
    let dotAll = false;
    let multiline = false;
    for (let m = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?\)/.exec(rest); m; m = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?\)/.exec(rest)) {
      const [on = "", off = ""] = [m[1], m[2]];
      if (!/^[ism]*$/.test(on) || !/^[ism]*$/.test(off) || (on === "" && off === "")) break;
      for (const f of on) (f === "i" ? (insensitive = true) : f === "s" ? (dotAll = true) : (multiline = true));
      for (const f of off) (f === "i" ? (insensitive = false) : f === "s" ? (dotAll = false) : (multiline = false));
      rest = rest.slice(m[0].length);
    }
    const flags = `${insensitive ? "i" : ""}${dotAll ? "s" : ""}${multiline ? "m" : ""}`;
    try {
      this.#regex = new RegExp(rest, flags);
    } catch (err) {
      throw headerForwardPatternInvalid(option, pattern, err);
    }
  }

  matches(name: string): boolean {
    return this.#regex.test(name);
  }

  /**
   * Adds each matching header to `parameters` (a header sent twice: the last one), in the order
   * given; throws headerReserved at the first reserved one, as Triton stops there.
   */
  apply(headers: Iterable<readonly [string, string]>, parameters: Record<string, ParamValue>): void {
    for (const [name, value] of headers) {
      if (!this.#regex.test(name)) continue;
      if (RESERVED_PARAMETER_KEYS.includes(name) || name.startsWith("triton_")) throw headerReserved(name);
      parameters[name] = value;
    }
  }
}

/** Node's rawHeaders ([name, value, name, value, ...], names as the client spelled them) as pairs. */
export function rawHeaderPairs(raw: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
  return pairs;
}
