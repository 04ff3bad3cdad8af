/**
 * The client shared-memory regions this stub maps itself (the system shared-memory extension):
 * inputs are viewed in place, outputs written straight into the client's pages. Each region is
 * opened through main's descriptor (/proc/<main>/fd/<n>, so it is the very object main
 * registered, also after the client unlinked its name), its inode checked, and mapped once per
 * mode, cached by region id:
 *  - inputs: an O_RDONLY descriptor, a private copy-on-write mapping: a handler that writes into
 *    an input view changes its own copy of that page, never the client's memory;
 *  - outputs: an O_RDWR descriptor, a shared mapping.
 * A mapping lives until main says the region is gone (DROP_REGION) and the calls here that use it
 * have ended. Before every use the segment's size is checked again: a client that shrank its
 * segment gets an error, not a fault (one that shrinks it while a handler reads it can still
 * fault the stub, which main then replaces; see the README).
 */
import { closeFd, fdStat, mapClientRegion, openClientRegion, unmapSegment } from "../src/ipc/addon.js";
import { KIND, type DropRegionBody, type ExecuteBody, type WireRegion } from "../src/ipc/protocol.js";
import type { MessageRef } from "../src/ipc/endpoint.js";
import type { MessageTable } from "./kind-table.js";
import { TritonError } from "./sdk/errors.js";

interface Mapped {
  fd: number;
  buffer: ArrayBuffer;
  bytes: Uint8Array;
}

interface Entry {
  ro: Mapped | null;
  rw: Mapped | null;
  /** Calls here that reference the region and have not ended. */
  uses: number;
  /** Main dropped it: unmap once `uses` is 0. */
  dropped: boolean;
}

const NOTHING_HELD = () => {};

export class ClientRegions {
  readonly #entries = new Map<number, Entry>();

  /** Mappings held now (for tests). */
  get mapped(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += (e.ro ? 1 : 0) + (e.rw ? 1 : 0);
    return n;
  }

  /** Takes main's DROP_REGION messages. */
  serve(table: MessageTable, release: (ref: MessageRef) => void): void {
    table.register(KIND.DROP_REGION, (body: DropRegionBody, ref: MessageRef) => {
      release(ref);
      this.drop(body.id);
    });
  }

  /** Marks every region `body` references as in use until the returned function runs. */
  hold(body: ExecuteBody): () => void {
    let ids: Set<number> | null = null; // made only for the rare call that uses a region
    for (const r of body.requests) {
      for (const t of r.inputs) if (t.region) (ids ??= new Set()).add(t.region.id);
      if (r.outputRegions) for (const w of Object.values(r.outputRegions)) (ids ??= new Set()).add(w.id);
    }
    if (!ids) return NOTHING_HELD;
    for (const id of ids) this.#entry(id).uses++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const id of ids) {
        const e = this.#entries.get(id);
        if (e && --e.uses === 0 && e.dropped) this.#free(id, e);
      }
    };
  }

  /** The window `w` as bytes: read-only (a private mapping) for inputs, shared for outputs. */
  view(w: WireRegion, writable: boolean): Uint8Array {
    const e = this.#entry(w.id);
    if (e.dropped) throw new TritonError(`shared memory region '${w.name}' is no longer registered`, TritonError.INVALID_ARG);
    let m = writable ? e.rw : e.ro;
    if (!m) {
      m = this.#map(w, writable);
      if (writable) e.rw = m;
      else e.ro = m;
    }
    const { size } = fdStat(m.fd);
    if (size < w.end) {
      throw new TritonError(`shared memory region '${w.name}' is now ${size} bytes, smaller than the ${w.end} bytes its registration covers: the segment was truncated`, TritonError.INVALID_ARG);
    }
    if (w.offset < 0 || w.size < 0 || w.offset + w.size > m.bytes.byteLength) {
      throw new TritonError(`shared memory region '${w.name}': window outside the mapping`, TritonError.INVALID_ARG);
    }
    return m.bytes.subarray(w.offset, w.offset + w.size);
  }

  drop(id: number): void {
    const e = this.#entries.get(id);
    if (!e) return;
    e.dropped = true;
    if (e.uses === 0) this.#free(id, e);
  }

  #entry(id: number): Entry {
    let e = this.#entries.get(id);
    if (!e) this.#entries.set(id, (e = { ro: null, rw: null, uses: 0, dropped: false }));
    return e;
  }

  #map(w: WireRegion, writable: boolean): Mapped {
    let fd: number;
    try {
      fd = openClientRegion(w.path, writable);
    } catch (err) {
      throw new TritonError(`shared memory region '${w.name}' could not be opened: ${(err as Error).message}`, TritonError.INTERNAL);
    }
    try {
      const { size, inode } = fdStat(fd);
      // main has closed that descriptor and reused its number: not the registered object.
      if (inode !== w.inode) throw new TritonError(`shared memory region '${w.name}' is no longer registered`, TritonError.INVALID_ARG);
      if (size < w.end) {
        throw new TritonError(`shared memory region '${w.name}' is now ${size} bytes, smaller than the ${w.end} bytes its registration covers: the segment was truncated`, TritonError.INVALID_ARG);
      }
      const buffer = mapClientRegion(fd, w.end, writable);
      return { fd, buffer, bytes: new Uint8Array(buffer) };
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  #free(id: number, e: Entry): void {
    for (const m of [e.ro, e.rw]) {
      if (!m) continue;
      unmapSegment(m.buffer);
      closeFd(m.fd);
    }
    this.#entries.delete(id);
  }
}

/** The stub's one set of client regions. */
export const clientRegions = new ClientRegions();
