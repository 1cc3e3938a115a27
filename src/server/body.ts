/** Reading request bodies within a size limit, and refusing oversize ones without breaking the connection. */
import type { IncomingMessage } from "node:http";
import { sidecarError } from "../shared/errors.js";

/**
 * Reads the whole body; rejects with PAYLOAD_TOO_LARGE as soon as it exceeds `limit` bytes. The stream is left
 * open (not destroyed) on rejection so that `discardRestOfBody` can drain it after the 413 is sent.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => onError(new Error("client aborted the request"));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

function tooLarge(limit: number) {
  return sidecarError("PAYLOAD_TOO_LARGE", `request body exceeds the limit of ${limit} bytes`, { limit });
}

/**
 * After an early answer (413, 401, …) to a request whose body is still arriving: keep reading and discarding
 * it so the client sees our response rather than a broken pipe, then close the connection. Bounded in time.
 */
export function discardRestOfBody(req: IncomingMessage, maxMs = 5_000): void {
  if (req.complete || req.readableEnded) return;
  const close = () => {
    clearTimeout(timer);
    // HTTP/1.1: the response said `Connection: close`; HTTP/2: only this stream ends.
    if (req.httpVersionMajor === 1) req.socket.destroySoon?.();
  };
  const timer = setTimeout(() => {
    req.removeListener("end", close);
    req.socket.destroy();
  }, maxMs);
  timer.unref();
  req.on("end", close);
  req.on("error", close);
  req.resume();
}
