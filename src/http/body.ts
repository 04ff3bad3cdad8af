/**
 * Reading a request body into one contiguous buffer, bounded by --http-max-input-size.
 *
 * Inputs become views over this buffer, so it is assembled once: a body that arrives in one chunk
 * is used as it is, a body with a Content-Length is copied chunk by chunk into one allocation of
 * that size (no intermediate list, no second copy), and only a chunked body is concatenated.
 */
import { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import {
  compressionUnsupported, decompressFailed, jsonNestingTooDeep, jsonNotObject, jsonUnparsable,
} from "../errors/index.js";
import { MAX_JSON_DEPTH, jsonDepthExceeds } from "./json-scan.js";

/** The body exceeds the limit: a transport-level refusal (413), not one of the core's codes. */
export class BodyTooLargeError extends Error {
  /** `size` is undefined when only the decompressed size is known to be over the limit. */
  constructor(readonly limit: number, readonly size?: number) {
    super(
      (size === undefined
        ? "Request body decompresses to more than the maximum allowed size of "
        : `Request body size of ${size} bytes exceeds the maximum allowed size of `) +
      `${limit} bytes. Use --http-max-input-size to increase the limit.`,
    );
    this.name = "BodyTooLargeError";
  }
}

/** The client went away before the body was complete; there is nobody to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super("client closed the connection before the request body was complete");
    this.name = "ClientGoneError";
  }
}

const EMPTY = Buffer.alloc(0);

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const header = req.headers["content-length"];
  const declared = header === undefined ? -1 : Number(header);
  if (declared > limit) return Promise.reject(new BodyTooLargeError(limit, declared));
  if (declared === 0) {
    req.resume();
    return Promise.resolve(EMPTY);
  }

  return new Promise<Buffer>((resolve, reject) => {
    let whole: Buffer | null = declared > 0 ? null : EMPTY;
    const chunks: Buffer[] | null = declared > 0 ? null : [];
    let first: Buffer | null = null;
    let received = 0;
    let settled = false;

    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      // Stop reading: the server answers (413) or the socket is already gone.
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      received += chunk.length;
      if (received > limit) {
        fail(new BodyTooLargeError(limit, received));
        return;
      }
      if (declared > 0) {
        // Keep the first chunk as is: if it is the whole body, no copy is made at all.
        if (first === null && whole === null) {
          first = chunk;
          return;
        }
        if (whole === null) {
          whole = Buffer.allocUnsafeSlow(declared);
          first!.copy(whole, 0);
          first = null;
        }
        chunk.copy(whole, received - chunk.length);
      } else {
        chunks!.push(chunk);
      }
    };
    const onEnd = () => {
      if (settled) return;
      settled = true;
      cleanup();
      if (declared > 0) resolve(whole ?? first ?? EMPTY);
      else resolve(chunks!.length === 1 ? chunks![0]! : Buffer.concat(chunks!, received));
    };
    const onClose = () => {
      if (!req.complete) fail(new ClientGoneError());
    };
    const onError = () => fail(new ClientGoneError());
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
    req.on("error", onError);
  });
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/**
 * Undoes a Content-Encoding of gzip or deflate (zlib format, as Triton's DataCompressor writes it),
 * bounded by the same limit; any other encoding but identity is UNSUPPORTED, as in Triton.
 */
export async function decodeContentEncoding(
  body: Buffer, encoding: string | undefined, limit: number,
): Promise<Buffer> {
  if (encoding === undefined || encoding === "" || encoding === "identity") return body;
  const inflater = encoding === "gzip" ? gunzip : encoding === "deflate" ? inflate : null;
  if (inflater === null) throw compressionUnsupported();
  try {
    return await inflater(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw new BodyTooLargeError(limit);
    }
    throw decompressFailed(encoding, err);
  }
}

/** A request body that must be one JSON object (Triton's texts when it is not). */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) throw jsonNestingTooDeep(MAX_JSON_DEPTH);
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw jsonUnparsable(err);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw jsonNotObject();
  }
  return json as Record<string, unknown>;
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

export type ResponseEncoding = "gzip" | "deflate";

/**
 * The encoding an infer response goes back in, as Triton's CompressionTypeUsed picks it from
 * Accept-Encoding: among identity, deflate and gzip, the highest q (default 1; an unparsable q
 * skips the entry), the first listed on a tie; null for identity or no header.
 */
export function responseEncoding(header: string | string[] | undefined): ResponseEncoding | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header.join(",") : header;
  let best = "identity";
  let weight = 0;
  for (const entry of text.split(",")) {
    const start = entry.search(/[^ ]/);
    const q = entry.indexOf(";q=");
    if (start < 0 || (q >= 0 && start >= q)) continue;
    const type = q < 0 ? entry.slice(start) : entry.slice(start, q);
    let w = 1;
    if (q >= 0) {
      w = Number.parseFloat(entry.slice(q + 3));
      if (Number.isNaN(w)) continue;
    }
    if ((type === "identity" || type === "deflate" || type === "gzip") && w > weight) {
      best = type;
      weight = w;
    }
  }
  return best === "identity" ? null : best as ResponseEncoding;
}

/** A response body compressed as `encoding` (deflate is the zlib format, as Triton writes it). */
export function encodeContent(parts: readonly Uint8Array[], encoding: ResponseEncoding): Promise<Buffer> {
  const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return encoding === "gzip" ? gzip(whole) : deflate(whole);
}
