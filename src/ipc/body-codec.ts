/**
 * Message bodies on the shared-memory queues: MessagePack (msgpackr) with the protocol's records
 * declared up front. A body whose keys come in one of the orders below is written as a record
 * (its values only, no key names), which is what makes this cheaper than JSON. Any other object
 * is still encoded, self-described in its own message, so the codec keeps no state between
 * messages: a body that is never sent, or a peer that reads one message and not another, cannot
 * desynchronise the two sides.
 *
 * Both sides import this list, so it is part of the wire protocol: change it only together with
 * PROTOCOL_VERSION (layout.ts).
 */
import { Packr } from "msgpackr";

/** Key orders as the senders build them (protocol.ts); a body that differs still round-trips. */
const RECORDS: string[][] = [
  // ExecuteBody, WireRequest, WireTensor
  ["id", "requests"],
  ["key", "id", "correlationId", "flags", "slot", "parameters", "requestedOutputs", "inputs"],
  ["name", "datatype", "shape", "loc"],
  // ResponseBody: coupled (responses), failed call (error), decoupled (execNs only)
  ["id", "responses", "execNs"],
  ["id", "error", "execNs"],
  ["id", "execNs"],
  // WireResponse, ErrorInfo
  ["outputs"],
  ["outputs", "parameters"],
  ["outputs", "error"],
  ["code", "message"],
  // StreamBody, BlsResponseBody
  ["key", "response", "final"],
  ["key", "final"],
  ["bls", "response", "final"],
  ["bls", "final"],
  // BlsRequestBody, without and with its timeout
  ["bls", "model", "version", "id", "parameters", "requestedOutputs", "inputs"],
  ["bls", "model", "version", "id", "parameters", "requestedOutputs", "inputs", "timeoutMs"],
];

function codec(): Packr {
  return new Packr({
    useRecords: true,
    // A private copy: msgpackr may annotate the arrays it is given.
    structures: RECORDS.map((keys) => [...keys]),
    maxSharedStructures: RECORDS.length,
    // Nothing is learnt from traffic: an object of another shape is described in its own message.
    shouldShareStructure: () => false,
    // Decoded objects are plain objects (a map in the bytes never becomes a Map).
    mapsAsObjects: true,
  });
}

const packr = codec();

/**
 * Encodes a body. The bytes are msgpackr's own buffer, valid until the next encode: copy them
 * into the message block at once.
 */
export function encodeBody(body: object): Uint8Array {
  return packr.pack(body);
}

/** Decodes a body the peer wrote; corrupt bytes, trailing bytes or a non-object throw. */
export function decodeBody(bytes: Uint8Array): object {
  const body: unknown = packr.unpack(bytes);
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new TypeError("the body is not a message");
  return body;
}
