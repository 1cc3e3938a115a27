/**
 * One listening socket (TCP or Unix) serving HTTP/1.1 and cleartext HTTP/2 (prior knowledge) side by side: the
 * first bytes of each connection decide. The HTTP/2 preface goes to an `http2` server, anything else to an
 * `http` server; both run the same handler. With TLS (TCP only) every connection is TLS, and ALPN decides
 * instead: `h2` to the same `http2` server, `http/1.1` (or no ALPN) to the same `http` server.
 */
import * as net from "node:net";
import * as http from "node:http";
import * as http2 from "node:http2";
import { existsSync } from "node:fs";
import { lstat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { sidecarError } from "../shared/errors.js";
import { ConnectionGuard, type ConnectionOptions } from "./connections.js";
import { errorBody } from "./failures.js";
import type { TlsMaterial } from "./tls.js";

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

export async function listenDual(
  addr: ListenAddress,
  handler: NodeHandler,
  connections: ConnectionOptions,
  tlsMaterial?: TlsMaterial,
): Promise<DualListener> {
  const guard = new ConnectionGuard(connections);
  // Node's own requestTimeout covers a whole upload; we time requests ourselves (and exempt streams).
  const h1 = http.createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, handler);
  h1.on("clientError", answerClientError);
  // Node hands CONNECT to a "connect" listener (and drops the connection when there is none): a sidecar is no
  // proxy, so answer it like any other method it does not serve.
  h1.on("connect", refuseConnect);
  // Node sets up connection tracking (closeIdleConnections, headersTimeout checks) when an http.Server starts
  // listening; ours never listens itself (sockets are handed to it), so start that tracking by hand.
  h1.emit("listening");
  // Node's default is kept on purpose: a client's FIN aborts its request. Half-closing clients are rare, and a
  // FIN is how a long-poll learns that its client left (so it releases the message instead of writing it into
  // a dead socket).
  const h2 = http2.createServer({ maxSessionMemory: 64 }, handler);
  h2.on("connect", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const { status, body } = connectRefused(req.authority);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  // Set while an over-the-cap connection is handed to the HTTP/2 server, which makes its session synchronously.
  let refusing = false;
  h2.on("session", (s) => {
    if (refusing) {
      guard.refuseH2(s);
      return;
    }
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
    guard.addSession(s);
  });
  let streams = 0;
  h2.on("stream", (st) => {
    streams++;
    st.once("close", () => streams--);
  });
  const sockets = new Set<net.Socket>();
  // The Unix socket stays plaintext: only local processes reach it, and they are what TLS would protect against.
  const secure =
    tlsMaterial && !("socket" in addr)
      ? tlsMaterial.createServer((s) => (s.alpnProtocol === "h2" ? h2 : h1).emit("connection", s))
      : undefined;
  // allowHalfOpen as http.Server itself sets it; the HTTP layer decides what a client's FIN means.
  // noDelay as http.Server sets it: without it Nagle holds back small responses (a 3x throughput loss here).
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (guard.full) {
      // Over TLS nothing can be said before a handshake: the connection is closed.
      if (secure) {
        socket.destroy();
        return;
      }
      sniff(socket, (isH2) => {
        if (!isH2) return guard.refuseH1(socket);
        refusing = true;
        try {
          h2.emit("connection", socket);
        } finally {
          refusing = false;
        }
      });
      return;
    }
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    guard.addSocket(socket);
    if (secure) secure.emit("connection", socket);
    else sniff(socket, (isH2) => (isH2 ? h2 : h1).emit("connection", socket));
  });

  if ("socket" in addr) await removeStaleSocket(addr.socket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject("socket" in addr ? explainSocketError(err, addr.socket) : err));
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
      guard.stop();
      h1.close(() => {}); // stops the tracking interval started above
      if (secure) tlsMaterial!.forget(secure);
      clearInterval(sweep);
      clearTimeout(force);
    },
  };
}

/** Reads until the first bytes tell HTTP/2 (the preface) from HTTP/1.1, gives them back, and calls `route`. */
function sniff(socket: net.Socket, route: (isH2: boolean) => void) {
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
    // HTTP/2 has no half-closed connections: a FIN means the client is gone. Left half-open, the session (and
    // every stream on it: watches, queue consumers) would go on writing into a connection nobody reads.
    if (isPrefix) socket.allowHalfOpen = false;
    route(isPrefix);
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
  answerRaw(socket, status, body);
}

const connectRefused = (target: string | undefined) =>
  errorBody(sidecarError("METHOD_NOT_ALLOWED", `method CONNECT not allowed on ${target ?? "?"}`));

function refuseConnect(req: http.IncomingMessage, socket: net.Socket) {
  socket.on("error", () => socket.destroy());
  const { status, body } = connectRefused(req.url);
  answerRaw(socket, status, body);
}

/** A whole JSON-envelope response written straight to a socket the HTTP server no longer owns, then closed. */
export function answerRaw(socket: net.Socket, status: number, body: string, extra = ""): void {
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

/** `listen` on a path whose folder is missing says EACCES on Linux; name the actual problem. */
function explainSocketError(err: NodeJS.ErrnoException, path: string): Error {
  const dir = dirname(path);
  if (err.code === "EACCES" || err.code === "ENOENT") {
    if (!existsSync(dir)) return new Error(`cannot listen on ${path}: the folder ${dir} does not exist`);
    if (err.code === "EACCES") return new Error(`cannot listen on ${path}: no permission to create a socket in ${dir}`);
  }
  return err;
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
