/**
 * Server streaming on the fast path (gRPC and gRPC-Web): each message goes out as a 5-byte prefix and the
 * encoded message, written apart so the message is never copied into an envelope (connect-node copies every
 * message once more into one, then runs it through a chain of async iterables); the writer waits for `drain`
 * when the socket is full. Headers go out with the first message (so the implementation can still set them
 * before it yields), the status at the end, as trailers (gRPC) or a trailer envelope (gRPC-Web).
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import type { Call } from "./call.js";
import { type Codec, largeBytesParts } from "./codec.js";
import { FLAG_COMPRESSED, grpcWebTrailer, wrapEnvelope } from "./envelope.js";
import type { Wire } from "./protocol.js";
import { grpcTrailer, into, type NodeResponse } from "./respond.js";

/** Below this, copying a message into its envelope costs less than a second write. */
const SMALL = 16 * 1024;

export class StreamWriter {
  private headersSent = false;
  private ended = false;

  constructor(
    private readonly res: NodeResponse,
    private readonly wire: Wire,
    private readonly call: Call,
    private readonly codec: Codec,
    private readonly compression: Compression | null,
    private readonly compressMinBytes: number,
    private readonly trace: { traceId: string; traceparent?: string } | undefined,
    private readonly toError: (err: unknown) => ConnectError,
    /** The output type when messages go out in binary (large bytes fields then skip a copy). */
    private readonly output: DescMessage | undefined,
  ) {}

  /** Writes every message of `messages`, then the status; stops early when the call ends (`end`). */
  async run(messages: AsyncIterable<Message>): Promise<void> {
    const it = messages[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) {
          finished = true;
          break;
        }
        if (this.ended) break;
        const parts =
          this.compression === null && this.output !== undefined ? largeBytesParts(this.output, r.value) : undefined;
        if (parts !== undefined) {
          if (!this.writeParts(parts)) await this.drained();
          continue;
        }
        let data = this.codec.serialize(r.value);
        let flags = 0;
        if (this.compression !== null && data.byteLength >= this.compressMinBytes) {
          data = await this.compression.compress(data);
          flags = FLAG_COMPRESSED;
        }
        if (this.ended) break;
        if (!this.write(flags, data)) await this.drained();
      }
      this.end(undefined);
    } catch (err) {
      finished = true;
      this.end(this.toError(err));
    } finally {
      // Ended from outside (deadline, client gone, shutdown): let the implementation's generator go.
      if (!finished) it.return?.()?.catch(() => {});
    }
  }

  /** Ends the stream with `error`'s status, or OK. Later calls do nothing. */
  end(error: ConnectError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.call.finish();
    const res = this.res;
    if (res.destroyed || res.writableEnded) return;
    this.sendHeaders();
    const trailer = grpcTrailer({ error, trailer: this.call.responseTrailerIfAny });
    if (this.wire.protocol === "grpc") {
      res.addTrailers(trailer);
      res.end();
    } else res.end(grpcWebTrailer(trailer));
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const head: OutgoingHttpHeaders = into({}, this.call.responseHeaderIfAny);
    if (this.trace !== undefined) {
      head["x-trace-id"] = this.trace.traceId;
      if (this.trace.traceparent !== undefined) head.traceparent = this.trace.traceparent;
    }
    head["content-type"] = this.wire.contentType;
    if (this.compression !== null) head["grpc-encoding"] = this.compression.name;
    this.res.writeHead(200, head);
  }

  private write(flags: number, data: Uint8Array): boolean {
    // Both response kinds take (chunk) => boolean; their overloads differ only in encodings we never pass.
    const res = this.res as ServerResponse;
    if (res.destroyed || res.writableEnded) return true;
    this.sendHeaders();
    if (data.byteLength < SMALL) return res.write(wrapEnvelope(flags, data));
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = flags;
    prefix.writeUInt32BE(data.byteLength, 1);
    // One write of both buffers (one DATA frame, one chunk), without copying the message.
    res.cork();
    res.write(prefix);
    const ok = res.write(data);
    res.uncork();
    return ok;
  }

  /** An uncompressed message given as parts (see largeBytesParts), in one corked write with its prefix. */
  private writeParts(parts: [Uint8Array, Uint8Array]): boolean {
    const res = this.res as ServerResponse;
    if (res.destroyed || res.writableEnded) return true;
    this.sendHeaders();
    const prefix = Buffer.allocUnsafe(5 + parts[0].byteLength);
    prefix[0] = 0;
    prefix.writeUInt32BE(parts[0].byteLength + parts[1].byteLength, 1);
    prefix.set(parts[0], 5);
    res.cork();
    res.write(prefix);
    const ok = res.write(parts[1]);
    res.uncork();
    return ok;
  }

  private drained(): Promise<void> {
    const res = this.res;
    return new Promise((resolve) => {
      const done = () => {
        res.off("drain", done);
        res.off("close", done);
        resolve();
      };
      res.on("drain", done);
      res.on("close", done);
    });
  }
}
