/**
 * Restricted APIs, as tritonserver has them (restricted_features.h): `--http-restricted-api` and
 * `--grpc-restricted-protocol` take `<category list>:<header key>=<value>`, and a call in a listed
 * category is served only when it carries that header with that value. Each front end maps its
 * endpoints to categories and answers a refusal its own way (HTTP 403, gRPC UNAVAILABLE, as Triton).
 */

/** Triton's categories, in its order (RESTRICTED_CATEGORY_NAMES). */
export const RESTRICTED_CATEGORIES = [
  "health", "metadata", "inference", "shared-memory", "model-config", "model-repository",
  "statistics", "trace", "logging",
] as const;
export type RestrictedCategory = (typeof RESTRICTED_CATEGORIES)[number];

/** Triton prefixes every gRPC restriction key with this (grpc_server.h). */
export const GRPC_RESTRICTED_HEADER_PREFIX = "triton-grpc-protocol-";

interface Restriction {
  /** As the flag spelt it, for the refusal text. */
  header: string;
  /** Lower-case: HTTP header names and gRPC metadata keys are case-insensitive. */
  lookup: string;
  value: string;
}

export class RestrictedFeatures {
  readonly #restrictions = new Map<RestrictedCategory, Restriction>();
  /** "API" over HTTP, "protocol" over gRPC: Triton's word in both its flag errors and refusals. */
  readonly #feature: "api" | "protocol";

  /**
   * Parses the flag's values (repeatable). Throws Error with tritonserver's texts
   * (command_line_parser.cc, ParseRestrictedFeatureOption) on a bad spec.
   */
  constructor(
    specs: readonly string[],
    options: { option: string; feature: "api" | "protocol"; headerPrefix?: string },
  ) {
    this.#feature = options.feature;
    for (const spec of specs) {
      // Triton splits at the first ':' and the first '=' after it; every part must be non-empty.
      const colon = spec.indexOf(":");
      const equals = colon < 0 ? -1 : spec.indexOf("=", colon + 1);
      const names = colon < 0 ? "" : spec.slice(0, colon);
      const key = equals < 0 ? "" : spec.slice(colon + 1, equals);
      const value = equals < 0 ? "" : spec.slice(equals + 1);
      if (names === "" || key === "" || value === "") {
        throw new Error(`--${options.option} option format is '<config name>:<setting>=<value>'. Got ${spec}`);
      }
      for (const name of names.split(",")) {
        if (!(RESTRICTED_CATEGORIES as readonly string[]).includes(name)) {
          throw new Error(`unknown restricted ${options.feature} '${name}'`);
        }
        const category = name as RestrictedCategory;
        if (this.#restrictions.has(category)) {
          throw new Error(`restricted ${options.feature} '${name}' can not be specified in multiple config groups`);
        }
        const header = (options.headerPrefix ?? "") + key;
        this.#restrictions.set(category, { header, lookup: header.toLowerCase(), value });
      }
    }
  }

  /** No restriction at all: what a server started without the flag has. */
  static readonly NONE = new RestrictedFeatures([], { option: "", feature: "api" });

  get empty(): boolean {
    return this.#restrictions.size === 0;
  }

  /**
   * Null when a call in `category` may be served; otherwise Triton's refusal text. `header` looks
   * a (lower-case) header or metadata key up in the call.
   */
  refusal(category: RestrictedCategory, header: (key: string) => string | undefined): string | null {
    const r = this.#restrictions.get(category);
    if (r === undefined || header(r.lookup) === r.value) return null;
    return `This ${this.#feature === "api" ? "API" : "protocol"} is restricted, expecting header '${r.header}'`;
  }
}
