/**
 * Where main's client-region registry (src/shm/registry.ts) says that a region is gone for good
 * (unregistered, and no request uses it any more), and where each stub channel listens, so that
 * it tells its stub to unmap the region (KIND.DROP_REGION) if it ever sent it. Region ids are
 * unique per process, so one bus serves every server in it.
 */
type Listener = (id: number) => void;

const listeners = new Set<Listener>();

/** Calls `listener` with each dropped region id; returns the unsubscribe. */
export function onRegionDropped(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function regionDropped(id: number): void {
  for (const listener of listeners) listener(id);
}
