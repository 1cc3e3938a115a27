/**
 * What one listener does about connections that pin resources: a cap on concurrent connections (refused
 * politely: HTTP/1.1 503 + close, HTTP/2 GOAWAY), HTTP/2 sessions closed after sitting idle with no open stream,
 * a PING keep-alive that drops sessions whose peer stopped answering, and a write timeout that cuts a connection
 * or an HTTP/2 stream whose client stopped reading. Cutting is what ends the streams on it (Watch, Stream,
 * downloads): their handlers see the request's `close` and release their backend resources.
 */
import * as http2 from "node:http2";
import type * as net from "node:net";
import { sidecarError } from "../shared/errors.js";
import { errorBody } from "./failures.js";

export interface ConnectionOptions {
  /** Concurrent connections per listener; 0 = no cap. */
  maxConnections: number;
  /** An HTTP/2 session with no open stream is closed (GOAWAY) after this long; 0 = never. */
  h2IdleTimeoutMs: number;
  /** An HTTP/2 session with open streams is PINGed this often and dropped if a PING goes unanswered for as long; 0 = off. */
  keepAliveIntervalMs: number;
  /** A connection or HTTP/2 stream whose client reads nothing of a pending response for this long is cut; 0 = never. */
  writeTimeoutMs: number;
}

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

/** Time since the write side of `w` last made progress, with `w.writableNeedDrain` as "blocked". */
class StallClock {
  private since = 0;
  constructor(private readonly w: NodeJS.WritableStream & { writableNeedDrain: boolean }) {
    w.on("drain", () => (this.since = 0));
  }
  /** Still blocked since the last sweep (no drain came in between). */
  stillBlocked(): boolean {
    return this.since !== 0 && this.w.writableNeedDrain;
  }

  /** How long the writer has been blocked, as seen at sweep times; 0 when it is not. */
  blockedFor(now: number): number {
    if (!this.w.writableNeedDrain) {
      this.since = 0;
      return 0;
    }
    if (this.since === 0) this.since = now;
    return now - this.since;
  }
}

/**
 * Runs `fn` after the I/O that is already waiting has been handled. Timers run before I/O in Node's loop: after
 * the process was busy for a while, a PING answer or a drain may be sitting unread when the sweep looks, and
 * must count before a connection is judged dead.
 */
function afterPendingIo(fn: () => unknown): void {
  setImmediate(fn);
}

interface Session {
  session: http2.ServerHttp2Session;
  streams: Map<http2.ServerHttp2Stream, StallClock>;
  idleSince: number;
  /** When the unanswered PING went out; 0 when none is pending. */
  pingSentAt: number;
  lastPong: number;
}

export class ConnectionGuard {
  private readonly sockets = new Map<net.Socket, StallClock>();
  private readonly sessions = new Set<Session>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tick: number;

  constructor(private readonly opts: ConnectionOptions) {
    const periods = [opts.h2IdleTimeoutMs, opts.keepAliveIntervalMs, opts.writeTimeoutMs].filter((ms) => ms > 0);
    // Checked a few times per period, never more often than every 50 ms nor less than every second.
    this.tick = Math.min(1000, Math.max(50, Math.floor(Math.min(...periods, 4000) / 4)));
  }

  /** True when the listener is at its cap and a new connection must be refused. */
  get full(): boolean {
    return this.opts.maxConnections > 0 && this.sockets.size >= this.opts.maxConnections;
  }

  get connections(): number {
    return this.sockets.size;
  }

  addSocket(socket: net.Socket): void {
    this.sockets.set(socket, new StallClock(socket));
    socket.once("close", () => this.sockets.delete(socket));
    this.start();
  }

  addSession(session: http2.ServerHttp2Session): void {
    const now = Date.now();
    const s: Session = { session, streams: new Map(), idleSince: now, pingSentAt: 0, lastPong: now };
    this.sessions.add(s);
    session.on("stream", (stream) => {
      s.streams.set(stream, new StallClock(stream));
      stream.once("close", () => {
        s.streams.delete(stream);
        if (s.streams.size === 0) s.idleSince = Date.now();
      });
    });
    session.once("close", () => this.sessions.delete(s));
  }

  /** Refuses an HTTP/1.1 connection over the cap: 503 with the JSON envelope, then close. */
  refuseH1(socket: net.Socket): void {
    const { body } = errorBody(
      sidecarError("UNAVAILABLE", `too many connections (the limit is ${this.opts.maxConnections}); retry later`),
    );
    socket.on("error", () => socket.destroy());
    socket.end(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${body}`,
    );
    // Read what the client sent so that closing does not reset the connection under our answer.
    socket.resume();
    socket.once("end", () => socket.destroy());
    setTimeout(() => socket.destroy(), 2_000).unref();
  }

  /** Refuses an HTTP/2 session over the cap: GOAWAY (no stream processed) and REFUSED_STREAM for any stream. */
  refuseH2(session: http2.ServerHttp2Session): void {
    session.on("stream", (stream) => stream.close(NGHTTP2_REFUSED_STREAM));
    session.on("error", () => session.destroy());
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, 0); // no stream processed: safe for the client to retry
    session.close();
    setTimeout(() => session.destroy(), 2_000).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private start() {
    if (this.timer || this.tick <= 0) return;
    if (!this.opts.h2IdleTimeoutMs && !this.opts.keepAliveIntervalMs && !this.opts.writeTimeoutMs) return;
    this.timer = setInterval(() => this.sweep(), this.tick);
    this.timer.unref();
  }

  private sweep() {
    const now = Date.now();
    const { h2IdleTimeoutMs: idle, keepAliveIntervalMs: ping, writeTimeoutMs: write } = this.opts;
    if (write > 0) {
      for (const [socket, clock] of this.sockets) {
        if (clock.blockedFor(now) > write) afterPendingIo(() => clock.stillBlocked() && socket.destroy());
      }
    }
    for (const s of this.sessions) {
      const { session } = s;
      if (session.destroyed || session.closed) continue;
      if (s.streams.size === 0) {
        if (idle > 0 && now - s.idleSince > idle) session.close();
        continue;
      }
      if (write > 0) {
        for (const [stream, clock] of s.streams) {
          if (clock.blockedFor(now) > write) afterPendingIo(() => clock.stillBlocked() && stream.close(NGHTTP2_CANCEL));
        }
      }
      if (ping > 0) {
        if (s.pingSentAt > 0) {
          // The peer's HTTP/2 stack answers PINGs by itself; silence means it (or the path to it) is gone.
          const sent = s.pingSentAt;
          if (now - sent > ping) afterPendingIo(() => s.pingSentAt === sent && session.destroy());
        } else if (now - s.lastPong >= ping) {
          s.pingSentAt = now;
          try {
            session.ping((err) => {
              if (err) return;
              s.pingSentAt = 0;
              s.lastPong = Date.now();
            });
          } catch {
            session.destroy(); // the session is going away under us
          }
        }
      }
    }
    if (this.sockets.size === 0) this.stop();
  }
}
