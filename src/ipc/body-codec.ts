/**
 * Message bodies on the shared-memory queues. The first byte says how the rest is written: the
 * hot bodies (EXECUTE, RESPONSE, STREAM) in their fixed layouts (schema-codec.ts); everything
 * else, and any hot body those layouts cannot carry, as MessagePack (msgpackr) with the
 * protocol's records declared up front. A body whose keys come in one of the orders below is
 * written as a record (its values only, no key names). Any other object
 * is still encoded, self-described in its own message, so the codec keeps no state between
 * messages: a body that is never sent, or a peer that reads one message and not another, cannot
 * desynchronise the two sides.
 *
 * Both sides import this list, so it is part of the wire protocol: change it only together with
 * PROTOCOL_VERSION (layout.ts).
 */
import { Packr } from "msgpackr";
import { KIND } from "./protocol.js";
import { UNSUPPORTED, Writer, beginRead, endRead, readAll, readExecute, readReply, readStream, writeExecute, writeReply, writeStream } from "./schema-codec.js";

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

/** The body's first byte. */
const FORMAT = { MESSAGEPACK: 0, EXECUTE: 1, RESPONSE: 2, STREAM: 3 } as const;

const SCHEMA: Partial<Record<number, [format: number, write: (w: Writer, body: never) => void]>> = {
  [KIND.EXECUTE]: [FORMAT.EXECUTE, writeExecute],
  [KIND.RESPONSE]: [FORMAT.RESPONSE, writeReply],
  [KIND.STREAM]: [FORMAT.STREAM, writeStream],
};

const writer = new Writer();

/**
 * Encodes a body of the given kind. The bytes are the encoder's own buffer, valid until the next
 * encode: copy them into the message block at once.
 */
export function encodeBody(kind: number, body: object): Uint8Array {
  const schema = SCHEMA[kind];
  writer.pos = 0;
  if (schema) {
    try {
      writer.u8(schema[0]);
      schema[1](writer, body as never);
      return writer.bytes();
    } catch (err) {
      if (err !== UNSUPPORTED) throw err;
      writer.pos = 0;
    }
  }
  const packed = packr.pack(body);
  writer.u8(FORMAT.MESSAGEPACK);
  writer.raw(packed);
  return writer.bytes();
}

/**
 * Decodes a body the peer wrote as a message of `kind`; corrupt bytes, trailing bytes, a format
 * that is not the kind's, or a non-object throw.
 */
export function decodeBody(kind: number, bytes: Uint8Array): object {
  if (bytes.byteLength === 0) throw new RangeError("the body is empty");
  const format = bytes[0];
  if (format === FORMAT.MESSAGEPACK) {
    const body: unknown = packr.unpack(bytes.subarray(1));
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new TypeError("the body is not a message");
    return body;
  }
  if (SCHEMA[kind]?.[0] !== format) throw new RangeError(`body format ${format} is not one of message kind ${kind}`);
  beginRead(bytes, 1);
  try {
    let body: object;
    if (format === FORMAT.EXECUTE) body = readExecute();
    else if (format === FORMAT.RESPONSE) body = readReply();
    else body = readStream();
    if (!readAll()) throw new RangeError("the body has trailing bytes");
    return body;
  } finally {
    endRead();
  }
}
