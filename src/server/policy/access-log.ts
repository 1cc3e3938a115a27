/**
 * The access log (`--access-log FILE|-|off`): one JSON line per request, allowed or refused, with the token id,
 * service, method and the names the call touched (never values), protocol, status, duration and bytes. Lines
 * are gathered and written in batches (every 50 ms, or 64 KiB), so a busy server makes one write call per
 * batch rather than one per request.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { AccessRecord } from "./request-state.js";

// Lines wait at most this long, or until this much is gathered: one write per batch, not per request (a write
// per turn of the event loop still cost ~4 µs per request under load).
const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

export type AccessLogTarget = string | ((line: string) => void);

export interface AccessLog {
  /** Starts timing a request; the line is written when its response closes. */
  begin(
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
    record: AccessRecord,
    traceId: string,
    protocol: string,
  ): void;
  close(): Promise<void>;
}

/** `-` or `stderr`: standard error; a function: each line handed to it; anything else: a file appended to. */
export function createAccessLog(target: AccessLogTarget): AccessLog {
  let pending = "";
  let scheduled = false;
  let file: WriteStream | undefined;
  let sink: (text: string) => void;
  if (typeof target === "function") sink = target;
  else if (target === "-" || target === "stderr") sink = (t) => process.stderr.write(t);
  else {
    file = createWriteStream(target, { flags: "a" });
    file.on("error", (err) =>
      process.stderr.write(`${JSON.stringify({ level: "error", event: "access_log.failed", error: err.message })}\n`),
    );
    sink = (t) => file!.write(t);
  }
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    scheduled = false;
    clearTimeout(timer);
    if (pending === "") return;
    const text = pending;
    pending = "";
    sink(text);
  };
  const push = (line: string) => {
    if (typeof target === "function") {
      sink(line);
      return;
    }
    pending += line;
    if (pending.length >= FLUSH_BYTES) flush();
    else if (!scheduled) {
      scheduled = true;
      timer = setTimeout(flush, FLUSH_MS);
      timer.unref();
    }
  };

  return {
    begin(req, res, record, traceId, protocol) {
      const start = performance.now();
      const bytes = countBytes(req, res);
      res.once("close", () => {
        // Built by hand rather than with JSON.stringify of an object: this runs once per request, and the
        // object and its serialisation cost several microseconds; every text field is still JSON-escaped.
        const r = record.resources;
        const line =
          `{"time":"${new Date().toISOString()}","trace_id":${JSON.stringify(traceId)},` +
          `"token":${str(record.token)},"service":${str(record.service)},"method":${str(record.method)},` +
          `"resources":${r && r.length > 0 ? JSON.stringify(r) : "[]"},"protocol":"${protocol}",` +
          `"http_method":${str(req.method)},"status":${res.statusCode},` +
          `"code":${str(record.code ?? (res.writableFinished ? "OK" : "CLIENT_CLOSED"))},` +
          `"duration_ms":${Math.round((performance.now() - start) * 1000) / 1000},` +
          `"bytes_in":${bytes.in()},"bytes_out":${bytes.out()}}\n`;
        push(line);
      });
    },
    async close() {
      flush();
      if (file) await new Promise<void>((resolve) => file!.end(resolve));
    },
  };
}

const str = (v: string | undefined) => (v === undefined ? "null" : JSON.stringify(v));

/**
 * Body bytes read and written. Read: what the parser pushes into the request stream (the request may be
 * consumed by any layer, so its data events are not ours to listen to). Written: what goes through write/end.
 */
function countBytes(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) {
  let bytesIn = 0;
  let bytesOut = 0;
  const r = req as unknown as { push(chunk: unknown, enc?: BufferEncoding): boolean };
  const push = r.push;
  r.push = function (chunk, enc) {
    if (chunk) bytesIn += typeof chunk === "string" ? Buffer.byteLength(chunk, enc) : (chunk as Uint8Array).byteLength;
    return push.call(this, chunk, enc);
  };
  const w = res as unknown as { write(...a: unknown[]): boolean; end(...a: unknown[]): unknown };
  const write = w.write;
  const end = w.end;
  const add = (chunk: unknown) => {
    if (typeof chunk === "string") bytesOut += Buffer.byteLength(chunk);
    else if (chunk instanceof Uint8Array) bytesOut += chunk.byteLength;
  };
  w.write = function (...a: unknown[]) {
    add(a[0]);
    return write.apply(this, a);
  };
  w.end = function (...a: unknown[]) {
    if (typeof a[0] !== "function") add(a[0]);
    return end.apply(this, a);
  };
  return { in: () => bytesIn, out: () => bytesOut };
}
