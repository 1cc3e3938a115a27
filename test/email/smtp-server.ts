/**
 * A real SMTP server (`smtp-server` from npm) on loopback for the tests: plain, STARTTLS or implicit TLS, with
 * or without AUTH. Every accepted message is parsed with mailparser. Deterministic refusals: recipients at
 * `refused.example` get 550 at RCPT, a message with header `X-Test-Reject: yes` gets 554 after DATA.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export const CERT_FILE = new URL("./fixtures/cert.pem", import.meta.url).pathname;
const KEY_FILE = new URL("./fixtures/key.pem", import.meta.url).pathname;

export interface Received {
  envelopeFrom: string;
  envelopeTo: string[];
  mail: ParsedMail;
  /** Whether the session was encrypted and which user logged in. */
  secure: boolean;
  user?: string;
}

export interface TestSmtp {
  port: number;
  received: Received[];
  /** Connections seen, to check pooling reuses them. */
  connections: number;
  close(): Promise<void>;
}

export async function startSmtp(
  opts: { tls?: "none" | "starttls" | "implicit"; auth?: { user: string; pass: string }; port?: number } = {},
): Promise<TestSmtp> {
  const tls = opts.tls ?? "none";
  const received: Received[] = [];
  const state = { connections: 0 };
  const server = new SMTPServer({
    secure: tls === "implicit",
    ...(tls !== "none" ? { key: readFileSync(KEY_FILE), cert: readFileSync(CERT_FILE) } : {}),
    hideSTARTTLS: tls === "none",
    authOptional: !opts.auth,
    // Hidden is not enough: smtp-server still answers STARTTLS (with its expired built-in certificate).
    disabledCommands: [...(opts.auth ? [] : ["AUTH"]), ...(tls === "none" ? ["STARTTLS"] : [])],
    allowInsecureAuth: true,
    logger: false,
    onConnect(_session, cb) {
      state.connections++;
      cb();
    },
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass)
        return cb(null, { user: auth.username });
      cb(Object.assign(new Error("5.7.8 Authentication credentials invalid"), { responseCode: 535 }));
    },
    onRcptTo(addr, _session, cb) {
      if (addr.address.endsWith("@refused.example")) {
        return cb(
          Object.assign(new Error(`5.1.1 <${addr.address}>: Recipient address rejected`), { responseCode: 550 }),
        );
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then((mail) => {
          if (mail.headers.get("x-test-reject") === "yes") {
            return cb(Object.assign(new Error("5.7.1 Message rejected as spam"), { responseCode: 554 }));
          }
          received.push({
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            mail,
            secure: session.secure,
            user: session.user as string | undefined,
          });
          cb();
        }, cb);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received,
    get connections() {
      return state.connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
