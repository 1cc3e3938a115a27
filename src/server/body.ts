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

/** How much of an unwanted body is read and thrown away after an early answer, before the connection is cut. */
export const DRAIN_LIMITS = { maxBytes: 64 * 1024 * 1024, maxMs: 5_000 };

/**
 * After an early answer (413, 408, 401, …) to a request whose body is still arriving: keep reading and
 * discarding the body so that a client which writes its whole body before it reads (urllib, many WASM HTTP
 * stacks) sees our response rather than a broken pipe, then close the connection. Bounded in bytes and time.
 *
 * On HTTP/1.1 Node closes the socket as soon as a `Connection: close` response is written (the answer said so,
 * or the request did); closing with unread bytes makes the kernel send a reset, which destroys the response
 * in the client's buffers too. So the close waits here for the end of the body: our side of the connection is
 * shut for writing at once (the client sees the end of the response), reading goes on until the body ends.
 */
export function discardRestOfBody(req: IncomingMessage, limits = DRAIN_LIMITS): void {
  if (req.complete || req.readableEnded) return;
  const socket = req.httpVersionMajor === 1 ? req.socket : undefined;
  let read = 0;
  const finish = (cut: boolean) => {
    clearTimeout(timer);
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onEnd);
    if (!socket) return; // HTTP/2: only this stream ends, and it already has
    if (cut) socket.destroy();
    else socket.destroySoon();
  };
  const onData = (chunk: Buffer) => {
    read += chunk.length;
    if (read > limits.maxBytes) finish(true);
  };
  const onEnd = () => finish(false);
  const timer = setTimeout(() => finish(true), limits.maxMs);
  timer.unref();
  if (socket) {
    // Node calls this once the response is written; hold the close (but not the end of our writing) until the
    // body has been read, or a bound is hit.
    socket.destroySoon = () => {
      if (socket.writable) socket.end();
    };
  }
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onEnd);
  req.resume();
}
