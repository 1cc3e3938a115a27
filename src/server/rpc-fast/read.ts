/**
 * Reads a unary request body within a limit, with a callback rather than a promise and three listeners rather
 * than body.ts's four: this runs on every call. Oversize bodies stop being read at once (the stream is paused,
 * not destroyed, so that an HTTP/1.1 answer can still go out and the rest be discarded).
 */
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

const EMPTY = new Uint8Array(0);

export function readRequest(
  req: IncomingMessage | Http2ServerRequest,
  limit: number,
  done: (err: ConnectError | undefined, body: Uint8Array) => void,
): void {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > limit) {
    done(tooLarge(limit), EMPTY);
    return;
  }
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  const finish = (err: ConnectError | undefined, body: Uint8Array) => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    done(err, body);
  };
  const onData = (c: Buffer) => {
    size += c.length;
    if (size > limit) {
      req.pause();
      finish(tooLarge(limit), EMPTY);
      return;
    }
    if (first === undefined) first = c;
    else (chunks ??= [first]).push(c);
  };
  const onEnd = () => finish(undefined, chunks ? Buffer.concat(chunks, size) : (first ?? EMPTY));
  // A client that goes away mid-body: the call's own watch on the response answers (or not) from there.
  const onError = () => finish(new ConnectError("the client closed the connection", Code.Canceled), EMPTY);
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
}

function tooLarge(limit: number): ConnectError {
  return new ConnectError(`message is larger than the limit of ${limit} bytes`, Code.ResourceExhausted);
}
