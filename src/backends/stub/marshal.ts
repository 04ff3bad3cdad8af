/**
 * Execute marshalling: core tensors into this side's arena as wire tensors, and wire tensors back
 * as views over the stub's memory. The only copies main makes on the stub path happen here.
 */
import { ServerError } from "../../errors/index.js";
import type { CoreRequest, CoreTensor, RegionRef, RequestResult } from "../../core/types.js";
import type { Block, Endpoint } from "../../ipc/endpoint.js";
import { REQUEST_FLAG, type WireRegion, type WireRequest, type WireResponse, type WireTensor } from "../../ipc/protocol.js";

/**
 * The one copy on the way in: request tensor bytes into this instance's arena. In a batch, each
 * input's bytes from every request lie back to back in one block, so the handler can view the
 * whole batch without copying (sdk batchInputs). Blocks are appended to `blocks` as they are
 * taken, so a caller can free them when a later one does not fit.
 */
export function wireRequests(
  requests: CoreRequest[], endpoint: Pick<Endpoint, "alloc">, blocks: Block[], nextKey: () => number,
  sentRegion?: (id: number) => void,
): WireRequest[] {
  const locs = new Map<CoreTensor, WireTensor["loc"]>();
  const byName = new Map<string, CoreTensor[]>();
  for (const r of requests) {
    for (const t of r.inputs) {
      if (t.region) continue; // in a client's region: the stub maps it, nothing is copied
      const same = byName.get(t.name);
      if (same) same.push(t);
      else byName.set(t.name, [t]);
    }
  }
  for (const tensors of byName.values()) {
    const total = tensors.reduce((n, t) => n + t.data.byteLength, 0);
    const block = endpoint.alloc(total);
    blocks.push(block);
    let at = 0;
    for (const t of tensors) {
      block.bytes.set(t.data, at);
      locs.set(t, [block.arena, block.offset + at, t.data.byteLength]);
      at += t.data.byteLength;
    }
  }
  const region = (ref: RegionRef): WireRegion => {
    sentRegion?.(ref.wire.id);
    return ref.wire;
  };
  return requests.map((r) => {
    const p = r.parameters;
    let outputRegions: Record<string, WireRegion> | undefined;
    for (const o of r.outputs ?? []) if (o.region) (outputRegions ??= {})[o.name] = region(o.region);
    const wire: WireRequest = {
      key: nextKey(),
      id: r.id,
      correlationId: r.sequence?.id ?? correlationIdOf(p.sequence_id),
      flags: r.sequence?.flags ?? sequenceFlags(p),
      slot: r.sequence?.slot ?? -1,
      parameters: p,
      requestedOutputs: (r.outputs ?? []).map((o) => o.name),
      inputs: r.inputs.map((t) => t.region
        ? { name: t.name, datatype: t.datatype, shape: t.shape, loc: [0, 0, 0], region: region(t.region) }
        : { name: t.name, datatype: t.datatype, shape: t.shape, loc: locs.get(t)! }),
    };
    if (outputRegions) wire.outputRegions = outputRegions;
    return wire;
  });
}

/** A request's sequence flags, from its sequence_start and sequence_end parameters. */
export function sequenceFlags(p: CoreRequest["parameters"]): number {
  return (p.sequence_start === true ? REQUEST_FLAG.SEQUENCE_START : 0) | (p.sequence_end === true ? REQUEST_FLAG.SEQUENCE_END : 0);
}

/**
 * The handler's request.correlationId(): a string id as given; an integer one as a uint64 bigint
 * (gRPC's int64_param is read as uint64, as Triton does); "" when there is none.
 */
export function correlationIdOf(id: unknown): string | bigint {
  if (typeof id === "string") return id;
  if (typeof id === "number" && Number.isInteger(id)) return BigInt.asUintN(64, BigInt(id));
  if (typeof id === "bigint") return BigInt.asUintN(64, id);
  return "";
}

/**
 * Wire tensors as core tensors viewing the peer's memory (valid until its message is released);
 * an output the stub wrote into a client's region views main's mapping of the window `request`
 * asked for it in.
 */
export function viewTensors(tensors: WireTensor[], endpoint: Pick<Endpoint, "view">, request?: CoreRequest): CoreTensor[] {
  return tensors.map((t): CoreTensor => {
    const ref = t.region ? request?.outputs?.find((o) => o.name === t.name)?.region : undefined;
    if (ref && t.region && t.region.id === ref.wire.id && t.region.size <= ref.view.byteLength) {
      return { name: t.name, datatype: t.datatype, shape: t.shape, data: ref.view.subarray(0, t.region.size), region: ref };
    }
    return { name: t.name, datatype: t.datatype, shape: t.shape, data: endpoint.view(t.loc) };
  });
}

/** A wire response as a result whose outputs view the stub's memory; `release` runs once. */
export function viewResult(r: WireResponse, endpoint: Pick<Endpoint, "view">, release: () => void, request?: CoreRequest): RequestResult {
  if (r.error) return { error: ServerError.from(r.error) };
  let released = false;
  return {
    outputs: viewTensors(r.outputs, endpoint, request),
    parameters: r.parameters ?? {},
    release: () => {
      if (released) return;
      released = true;
      release();
    },
  };
}

/** Copies outputs into this side's arena (one block each) for the stub to read. */
export function copyOutputs(outputs: CoreTensor[], endpoint: Pick<Endpoint, "alloc">, blocks: Block[]): WireTensor[] {
  return outputs.map((t) => {
    const block = endpoint.alloc(t.data.byteLength);
    blocks.push(block);
    block.bytes.set(t.data);
    return { name: t.name, datatype: t.datatype, shape: t.shape, loc: [block.arena, block.offset, t.data.byteLength] };
  });
}
