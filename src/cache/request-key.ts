/**
 * A request's cache key: its version's identity, its inputs (name, datatype, shape, bytes) in name
 * order, and the outputs it asked for (with any classification count). Triton hashes only the
 * model, version and input bytes; this key is stricter, so a hit can never answer a request that
 * differs in datatype, shape or requested outputs. Request parameters are not part of it, as in
 * Triton.
 *
 * The digest (SHA-256 over the tensors' views, no copy; a small key is its own digest, which
 * starts with a quote that base64 never holds) only finds the candidate entry: a hit is confirmed
 * by comparing the whole key (the text and every byte), so even a digest collision cannot answer
 * a different request.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { CoreRequest, CoreTensor } from "../core/types.js";

export interface RequestKey {
  /** Digest of `text` and the input bytes: the cache's map key. */
  readonly digest: string;
  /** Everything but the input bytes: identity, names, datatypes, shapes, byte lengths, outputs. */
  readonly text: string;
  /** The inputs' bytes, in the order `text` names them (views over the request's buffers). */
  readonly data: readonly Uint8Array[];
  /** Bytes the key itself holds once stored. */
  readonly bytes: number;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function sortedInputs(inputs: readonly CoreTensor[]): readonly CoreTensor[] {
  for (let i = 1; i < inputs.length; i++) if (inputs[i - 1].name > inputs[i].name) return [...inputs].sort(byName);
  return inputs;
}

/**
 * The key of `request` sent to the version that `identity` names (a token that differs between
 * two loads of the same version, so a reloaded model never sees its predecessor's answers).
 */
export function requestKey(request: CoreRequest, identity: string): RequestKey {
  const inputs = sortedInputs(request.inputs);
  // JSON-quoted names: no name can forge another field's separator.
  let text = `${identity}\n`;
  let bytes = 0;
  const data: Uint8Array[] = new Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    text += `${JSON.stringify(t.name)} ${t.datatype} [${t.shape.join(",")}] ${t.data.byteLength}\n`;
    data[i] = t.data;
    bytes += t.data.byteLength;
  }
  const outputs = request.outputs;
  if (outputs && outputs.length > 0) {
    const list = outputs.length > 1 ? [...outputs].sort(byName) : outputs;
    for (const o of list) text += `> ${JSON.stringify(o.name)} ${o.classification ?? 0}\n`;
  } else {
    text += "> *\n";
  }
  return { digest: digestOf(text, data, bytes), text, data, bytes: bytes + text.length };
}

/** Keys up to this many bytes are their own map key (cheaper than hashing them). */
const SMALL_KEY = 1024;

function digestOf(text: string, data: readonly Uint8Array[], bytes: number): string {
  if (bytes + text.length <= SMALL_KEY) {
    let key = text;
    for (const d of data) key += Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("latin1");
    return key;
  }
  const hash = createHash("sha256").update(text);
  for (const d of data) hash.update(d);
  return hash.digest("base64");
}

/** Whether `stored` (a key kept by the cache, its bytes in one buffer) is `key`, byte for byte. */
export function sameKey(stored: StoredKey, key: RequestKey): boolean {
  if (stored.text !== key.text) return false;
  const all = stored.bytes;
  let at = 0;
  for (const d of key.data) {
    const n = d.byteLength;
    if (at + n > all.byteLength) return false;
    if (Buffer.compare(all.subarray(at, at + n), Buffer.from(d.buffer, d.byteOffset, n)) !== 0) return false;
    at += n;
  }
  return at === all.byteLength;
}

/** A key as the cache keeps it: the text, and the input bytes copied into one buffer. */
export interface StoredKey {
  readonly text: string;
  readonly bytes: Buffer;
}

export function storeKey(key: RequestKey): StoredKey {
  let n = 0;
  for (const d of key.data) n += d.byteLength;
  const bytes = Buffer.allocUnsafeSlow(n);
  let at = 0;
  for (const d of key.data) {
    bytes.set(d, at);
    at += d.byteLength;
  }
  return { text: key.text, bytes };
}
