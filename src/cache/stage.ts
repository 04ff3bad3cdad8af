/**
 * The response cache as a pipeline stage, between admission and accounting: a request to a
 * version whose config enables `response_cache` is looked up once it is admitted (resolved and
 * validated). A hit is answered here, so nothing behind it runs (no scheduler, no instance, no
 * ensemble step); a miss goes on, and its response, once shaped (the requested outputs, classified
 * where asked), is stored on its way back. Only successful responses reach onResponse, so only
 * they are stored. Statistics follow Triton: a hit is a success with cache_hit time; a miss adds
 * its lookup and insertion time as cache_miss.
 */
import type { Exchange, Stage, Target } from "../core/exchange.js";
import { nowNs } from "../core/statistics.js";
import type { CoreResponse } from "../core/types.js";
import { requestKey, type RequestKey } from "./request-key.js";
import type { ResponseCache } from "./response-cache.js";

/** A missed request's key and the time its lookup (and later its insertion) took. */
interface Miss {
  key: RequestKey;
  ns: number;
  stored: boolean;
}

const release = () => {};

export class ResponseCacheStage implements Stage {
  readonly #cache: ResponseCache;
  /** One token per loaded version object: a reload of the same version starts with no entries. */
  readonly #identity = new WeakMap<Target, string>();
  #loads = 0;

  constructor(cache: ResponseCache) {
    this.#cache = cache;
  }

  onRequest(ex: Exchange): boolean | void {
    const target = ex.target!;
    if (target.config.response_cache?.enable !== true) return;
    const request = ex.request;
    const startNs = nowNs();
    const key = requestKey(request, this.#identityOf(target, request.model));
    const hit = this.#cache.lookup(key);
    if (hit === undefined) {
      ex.cacheNote = { key, ns: nowNs() - startNs, stored: false } satisfies Miss;
      return;
    }
    const response: CoreResponse = {
      model: request.model, version: String(target.version), id: request.id,
      outputs: hit.outputs.slice(), parameters: hit.parameters, release, memo: hit.memo,
    };
    const endNs = nowNs();
    target.stats.recordCacheHit(request.times!, startNs, endNs - startNs, endNs);
    ex.respond(response, true);
    return false;
  }

  onResponse(ex: Exchange, response: CoreResponse): CoreResponse {
    const miss = ex.cacheNote as Miss | undefined;
    if (miss !== undefined && !miss.stored) {
      const startNs = nowNs();
      miss.stored = this.#cache.insert(miss.key, response.outputs, response.parameters);
      miss.ns += nowNs() - startNs;
    }
    return response;
  }

  onSettle(ex: Exchange, error: unknown): void {
    const miss = ex.cacheNote as Miss | undefined;
    if (miss !== undefined && error === undefined) ex.target!.stats.recordCacheMiss(miss.ns);
  }

  #identityOf(target: Target, model: string): string {
    let id = this.#identity.get(target);
    if (id === undefined) {
      id = `${JSON.stringify(model)} ${target.version} ${++this.#loads}`;
      this.#identity.set(target, id);
    }
    return id;
  }
}
