/**
 * --cache-config <cache>,<setting>=<value> (repeatable) and the deprecated
 * --response-cache-byte-size <bytes>, as tritonserver reads them. tessera has one implementation,
 * Triton's `local` (an in-memory cache of `size` bytes); the texts are Triton's where it has them.
 */

export interface CacheSettings {
  /** Bytes the cache may hold (local,size=...). */
  size: number;
}

/** One --cache-config value split as Triton's ParseCacheConfigOption splits it. */
function splitSetting(arg: string): [string, string, string] {
  const comma = arg.indexOf(",");
  if (comma <= 0) {
    throw new Error(`No cache specified. --cache-config option format is <cache name>,<setting>=<value>. Got ${arg}`);
  }
  const eq = arg.indexOf("=", comma + 1);
  const setting = eq < 0 ? "" : arg.slice(comma + 1, eq);
  const value = eq < 0 ? "" : arg.slice(eq + 1);
  if (setting === "" || value === "") {
    throw new Error(`--cache-config option format is '<cache name>,<setting>=<value>'. Got ${arg}`);
  }
  return [arg.slice(0, comma), setting, value];
}

function byteSize(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new Error(`${what}: expected a number of bytes, got '${value}'`);
  return n;
}

/**
 * The server's cache, or null when neither flag is given. Throws with the reason on a malformed
 * value, both flags, more than one cache, or a cache or setting tessera does not have.
 */
export function cacheSettingsFrom(cacheConfig: readonly string[], responseCacheByteSize: string | undefined): CacheSettings | null {
  if (responseCacheByteSize !== undefined && cacheConfig.length > 0) {
    throw new Error("Error: Incompatible flags --response-cache-byte-size and --cache-config both provided. Please provide one or the other.");
  }
  if (responseCacheByteSize !== undefined) return { size: byteSize(responseCacheByteSize, "--response-cache-byte-size") };
  if (cacheConfig.length === 0) return null;
  const caches = new Map<string, Map<string, string>>();
  for (const arg of cacheConfig) {
    const [name, setting, value] = splitSetting(arg);
    let settings = caches.get(name);
    if (!settings) caches.set(name, (settings = new Map()));
    settings.set(setting, value);
  }
  if (caches.size > 1) throw new Error("found multiple cache configurations, but only a single cache is currently supported");
  const [[name, settings]] = caches;
  if (name !== "local") throw new Error(`unknown cache '${name}': tessera has only the 'local' cache`);
  for (const key of settings.keys()) if (key !== "size") throw new Error(`--cache-config local: unknown setting '${key}' (the local cache takes size=<bytes>)`);
  const size = settings.get("size");
  if (size === undefined) throw new Error("--cache-config local: the local cache needs size=<bytes>");
  return { size: byteSize(size, "--cache-config local,size") };
}
