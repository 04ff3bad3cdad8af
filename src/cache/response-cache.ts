/**
 * The server's one response cache (Triton's `local` cache): successful responses by request key,
 * shared by every model that enables it, bounded by bytes and evicted least recently used first.
 *
 * An entry owns copies of its key's input bytes and of the response's outputs (one buffer each),
 * so it never points into a stub's shared memory or a client's request body. A hit hands out
 * views over those copies; evicting an entry only drops the reference, so a response still being
 * written keeps its bytes alive until it is done.
 */
import { Buffer } from "node:buffer";
import type { CoreTensor, Parameters } from "../core/types.js";
import { sameKey, storeKey, type RequestKey, type StoredKey } from "./request-key.js";

/** What a hit answers with: the outputs and parameters of the response that was stored. */
export interface CachedResponse {
  readonly outputs: readonly CoreTensor[];
  readonly parameters: Parameters;
  /** The front ends' encodings of this entry (CoreResponse.memo), dropped with it. */
  readonly memo: Map<string, unknown>;
}

interface Entry extends CachedResponse {
  readonly digest: string;
  readonly key: StoredKey;
  readonly bytes: number;
  /** The recency list: `older` toward the next eviction, `newer` toward the last use. */
  older: Entry | null;
  newer: Entry | null;
}

/** Bookkeeping per entry beyond its key and outputs (map slot, names, shapes): a fixed estimate. */
const ENTRY_OVERHEAD = 128;

export interface CacheCounters {
  entries: number;
  bytes: number;
  capacity: number;
  evictions: number;
  /** Responses not stored because one alone is larger than the whole cache. */
  tooLarge: number;
}

export class ResponseCache {
  readonly capacity: number;
  readonly #entries = new Map<string, Entry>();
  // A doubly linked recency list: a hit moves its entry to the newest end without touching the map.
  #oldest: Entry | null = null;
  #newest: Entry | null = null;
  #bytes = 0;
  #evictions = 0;
  #tooLarge = 0;

  /** `capacity`: the bytes all entries may hold together (--cache-config local,size=...). */
  constructor(capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity >= 0)) throw new RangeError(`cache size must be a non-negative integer, got ${capacity}`);
    this.capacity = capacity;
  }

  /** The stored response for `key`, now the most recently used; undefined on a miss. */
  lookup(key: RequestKey): CachedResponse | undefined {
    const entry = this.#entries.get(key.digest);
    if (entry === undefined || !sameKey(entry.key, key)) return undefined;
    if (entry !== this.#newest) {
      this.#unlink(entry);
      this.#append(entry);
    }
    return entry;
  }

  /**
   * Stores a copy of `outputs` under `key`, evicting the least recently used entries to make room.
   * Returns false (nothing stored; an earlier entry for the key stays) when the entry alone exceeds
   * the capacity.
   */
  insert(key: RequestKey, outputs: readonly CoreTensor[], parameters: Parameters): boolean {
    let dataBytes = 0;
    let metaBytes = 0;
    for (const o of outputs) {
      dataBytes += o.data.byteLength;
      metaBytes += o.name.length + 8 * o.shape.length;
    }
    const bytes = key.bytes + dataBytes + metaBytes + ENTRY_OVERHEAD;
    if (bytes > this.capacity) {
      this.#tooLarge++;
      return false;
    }
    this.#remove(key.digest);
    while (this.#bytes + bytes > this.capacity && this.#oldest !== null) {
      this.#remove(this.#oldest.digest);
      this.#evictions++;
    }
    const block = Buffer.allocUnsafeSlow(dataBytes);
    let at = 0;
    const copies: CoreTensor[] = outputs.map((o) => {
      block.set(o.data, at);
      const data = block.subarray(at, at + o.data.byteLength);
      at += o.data.byteLength;
      return { name: o.name, datatype: o.datatype, shape: [...o.shape], data };
    });
    const entry: Entry = {
      digest: key.digest, key: storeKey(key), outputs: copies, parameters: { ...parameters }, memo: new Map(), bytes, older: null, newer: null,
    };
    this.#entries.set(key.digest, entry);
    this.#append(entry);
    this.#bytes += bytes;
    return true;
  }

  get counters(): CacheCounters {
    return { entries: this.#entries.size, bytes: this.#bytes, capacity: this.capacity, evictions: this.#evictions, tooLarge: this.#tooLarge };
  }

  #remove(digest: string): void {
    const entry = this.#entries.get(digest);
    if (entry === undefined) return;
    this.#entries.delete(digest);
    this.#unlink(entry);
    this.#bytes -= entry.bytes;
  }

  #append(entry: Entry): void {
    entry.older = this.#newest;
    entry.newer = null;
    if (this.#newest !== null) this.#newest.newer = entry;
    else this.#oldest = entry;
    this.#newest = entry;
  }

  #unlink(entry: Entry): void {
    if (entry.older !== null) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    if (entry.newer !== null) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    entry.older = null;
    entry.newer = null;
  }
}
