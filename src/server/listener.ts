/**
 * One listening socket (TCP or Unix) serving HTTP/1.1 and cleartext HTTP/2 (prior knowledge) side by side: the
 * first bytes of each connection decide. The HTTP/2 preface goes to an `http2` server, anything else to an
 * `http` server; both run the same handler.
 */
import * as net from "node:net";
import * as http from "node:http";
import * as http2 from "node:http2";
import { lstat, unlink } from "node:fs/promises";
import { sidecarError } from "../shared/errors.js";
import { errorBody } from "./failures.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface DualListener {
  readonly address: string;
  /** Open client connections and HTTP/2 streams, for metrics and /stats. */
  counts(): { connections: number; streams: number };
  close(graceMs: number): Promise<void>;
}

export type ListenAddress = { port: number; host: string } | { socket: string };

export async function listenDual(addr: ListenAddress, handler: NodeHandler): Promise<DualListener> {
  // Node's own requestTimeout covers a whole upload; we time requests ourselves (and exempt streams).
  const h1 = http.createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, handler);
  h1.on("clientError", answerClientError);
  // Node sets up connection tracking (closeIdleConnections, headersTimeout checks) when an http.Server starts
  // listening; ours never listens itself (sockets are handed to it), so start that tracking by hand.
  h1.emit("listening");
  // Node's default is kept on purpose: a client's FIN aborts its request. Half-closing clients are rare, and a
  // FIN is how a long-poll learns that its client left (so it releases the message instead of writing it into
  // a dead socket).
  const h2 = http2.createServer({ maxSessionMemory: 64 }, handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  let streams = 0;
  h2.on("stream", (st) => {
    streams++;
    st.once("close", () => streams--);
  });
  const sockets = new Set<net.Socket>();
  // allowHalfOpen as http.Server itself sets it; the HTTP layer decides what a client's FIN means.
  // noDelay as http.Server sets it: without it Nagle holds back small responses (a 3x throughput loss here).
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    sniff(socket, h1, h2);
  });

  if ("socket" in addr) await removeStaleSocket(addr.socket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if ("socket" in addr) server.listen(addr.socket, resolve);
    else server.listen(addr.port, addr.host, resolve);
  });
  server.removeAllListeners("error");
  const a = server.address();
  const address =
    typeof a === "string" ? `unix:${a}` : a ? `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}` : "?";

  return {
    address,
    counts: () => ({ connections: sockets.size, streams }),
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.close(); // GOAWAY: in-flight streams finish, no new ones
      h1.closeIdleConnections();
      // Keep-alive sockets that become idle later would hold close() open; sweep them until the end.
      const sweep = setInterval(() => h1.closeIdleConnections(), 50);
      const force = setTimeout(() => {
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
      }, graceMs);
      await closed;
      h1.close(() => {}); // stops the tracking interval started above
      clearInterval(sweep);
      clearTimeout(force);
    },
  };
}

function sniff(socket: net.Socket, h1: http.Server, h2: http2.Http2Server) {
  const chunks: Buffer[] = [];
  let len = 0;
  socket.setTimeout(10_000, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  const onReadable = () => {
    let c: Buffer | null;
    while ((c = socket.read()) !== null) {
      chunks.push(c);
      len += c.length;
    }
    const head = Buffer.concat(chunks, len);
    const n = Math.min(head.length, PREFACE.length);
    const isPrefix = head.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (isPrefix && head.length < PREFACE.length) return; // need more bytes to decide
    socket.off("readable", onReadable);
    socket.setTimeout(0);
    socket.unshift(head); // give the bytes back to the real parser
    (isPrefix ? h2 : h1).emit("connection", socket);
  };
  socket.on("readable", onReadable);
}

/** Malformed requests and oversize headers get the JSON envelope too, instead of Node's bare status line. */
function answerClientError(err: NodeJS.ErrnoException, socket: net.Socket) {
  if (!socket.writable || (err as { code?: string }).code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const { status, body } = errorBody(
    err.code === "HPE_HEADER_OVERFLOW"
      ? sidecarError("HEADERS_TOO_LARGE", "request line or headers too large (a key or path this long is not accepted)")
      : sidecarError("BAD_REQUEST", "malformed HTTP request"),
  );
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

async function removeStaleSocket(path: string) {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
    // A socket file nobody answers on is left over from a crash; one that answers belongs to a live server.
    const alive = await new Promise<boolean>((resolve) => {
      const c = net.connect(path, () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (alive) throw new Error(`${path} is in use by another server`);
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
