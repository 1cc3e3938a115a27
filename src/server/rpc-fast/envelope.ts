/**
 * The 5-byte envelope of gRPC and gRPC-Web (flags, big-endian length, message), for exactly one message each
 * way, and the gRPC-Web trailer block. Errors carry the codes and texts connect-es uses for the same faults.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export const FLAG_COMPRESSED = 0b0000_0001;
export const FLAG_TRAILER = 0b1000_0000;

export interface Envelope {
  flags: number;
  data: Uint8Array;
}

/** The single message of a unary request body. */
export function unwrapEnvelope(body: Uint8Array, readMaxBytes: number): Envelope {
  if (body.byteLength < 5) {
    if (body.byteLength === 0)
      throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }
  const flags = body[0]!;
  const len = ((body[1]! << 24) | (body[2]! << 16) | (body[3]! << 8) | body[4]!) >>> 0;
  if (len > readMaxBytes)
    throw new ConnectError(
      `message size ${len} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );
  if (body.byteLength < 5 + len)
    throw new ConnectError(
      `protocol error: promised ${len} bytes in enveloped message, got ${body.byteLength - 5} bytes`,
      Code.InvalidArgument,
    );
  if (body.byteLength > 5 + len)
    throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  if ((flags & ~FLAG_COMPRESSED) !== 0)
    throw new ConnectError(`protocol error: unexpected envelope flags ${flags}`, Code.InvalidArgument);
  return { flags, data: body.subarray(5) };
}

/** One envelope as a Buffer; `extra` is appended after it (the gRPC-Web trailer block). */
export function wrapEnvelope(flags: number, data: Uint8Array, extra?: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + data.byteLength + (extra?.byteLength ?? 0));
  out[0] = flags;
  out.writeUInt32BE(data.byteLength, 1);
  out.set(data, 5);
  if (extra !== undefined) out.set(extra, 5 + data.byteLength);
  return out;
}

/** The trailer envelope of gRPC-Web: `name: value\r\n` lines, names in lower case. */
export function grpcWebTrailer(trailer: Record<string, string>): Buffer {
  let text = "";
  for (const k in trailer) text += `${k}: ${trailer[k]}\r\n`;
  return wrapEnvelope(FLAG_TRAILER, Buffer.from(text, "latin1"));
}
