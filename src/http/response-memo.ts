/**
 * A cached answer's HTTP encoding, kept with the cache entry (CoreResponse.memo) so that a hit
 * writes bytes encoded once instead of encoding its outputs again. Only answers without a request
 * id are kept (the id is the one part of the body that differs between hits), a few output
 * formats per entry, the JSON part as bytes; binary parts stay views over the entry's own copy.
 * An answer with outputs in shared-memory regions is never kept: its encoding writes them.
 */
import { Buffer } from "node:buffer";
import type { CoreResponse } from "../core/types.js";
import { encodeInferResponse, type EncodedResponse, type OutputFormat } from "./infer-codec.js";

/** Encodings kept per entry: one per output format a client asked for, a few at most. */
const MAX_FORMATS = 4;

function formatKey(format: OutputFormat): string {
  let key = format.defaultBinary ? "http:b" : "http:j";
  for (const [name, binary] of format.binary) key += `\n${binary ? "b" : "j"}${name}`;
  return key;
}

/** encodeInferResponse, from the memo when `response` has one and an earlier hit filled it. */
export function encodeWithMemo(response: CoreResponse, format: OutputFormat): EncodedResponse {
  const memo = response.memo;
  // Outputs into a client's regions are written there by each encoding: never a kept one.
  if (memo === undefined || response.id !== "" || (format.regions?.size ?? 0) > 0) return encodeInferResponse(response, format);
  const key = formatKey(format);
  const kept = memo.get(key) as EncodedResponse | undefined;
  if (kept !== undefined) return kept;
  const encoded = encodeInferResponse(response, format);
  if (memo.size >= MAX_FORMATS) return encoded;
  const json = typeof encoded.json === "string" ? Buffer.from(encoded.json, "utf8") : encoded.json;
  const frozen: EncodedResponse = { json, jsonBytes: encoded.jsonBytes, binary: encoded.binary, binaryBytes: encoded.binaryBytes };
  memo.set(key, frozen);
  return frozen;
}
