/**
 * Outputs asked for in a client's region, on the way out of main: a stub has written them there
 * already (the tensor's `region` is that window); anything else (an ensemble, an in-process
 * backend) is copied in here, once. Either way the response carries no data for it (as Triton's:
 * name, datatype and shape only).
 */
import type { CoreTensor, RegionRef } from "../core/types.js";
import { shmOutputTooSmall } from "../errors/index.js";

/** Makes sure `t` lies in `ref`'s window; returns its byte size. Throws Triton's text when it does not fit. */
export function placeOutput(t: CoreTensor, ref: RegionRef): number {
  const written = t.data.byteLength;
  if (t.region && t.region.wire.id === ref.wire.id && t.region.wire.offset === ref.wire.offset) return written;
  if (written > ref.view.byteLength) throw shmOutputTooSmall(t.name, ref.view.byteLength, written);
  ref.view.set(t.data);
  return written;
}
