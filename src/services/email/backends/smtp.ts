/**
 * SMTP through nodemailer, pooled. `smtp://user:pass@host:port` is plain on ports 25, 1025 and 2525 and requires
 * STARTTLS on any other port (587 by default); `smtps://` is implicit TLS (465 by default). Credentials are
 * percent-decoded. Query options: `starttls=off` (plain on any port), `ca_file=/path.pem` (trust this CA),
 * `tls_reject_unauthorized=false` (trust any certificate — development only), `pool=false`,
 * `max_connections=N` (default 5).
 */
import { readFileSync } from "node:fs";
import type { Transporter } from "nodemailer";
import type SMTPPool from "nodemailer/lib/smtp-pool/index.js";
import { sidecarError, SidecarError } from "../../../shared/errors.js";
import type { EmailBackend, OutgoingEmail, SendOutcome } from "../backend.js";

const PLAIN_PORTS = new Set([25, 1025, 2525]);

/** nodemailer transport options for a URL; exported so the port rules can be checked without a server. */
export function smtpOptions(url: string): SMTPPool.Options {
  const u = new URL(url);
  const secure = u.protocol === "smtps:";
  const port = u.port ? Number(u.port) : secure ? 465 : 587;
  const q = u.searchParams;
  const plain = !secure && (PLAIN_PORTS.has(port) || /^(off|false|0|no)$/i.test(q.get("starttls") ?? ""));
  const caFile = q.get("ca_file");
  const user = decodeURIComponent(u.username);
  const maxConnections = Number(q.get("max_connections") ?? 5);
  if (!Number.isInteger(maxConnections) || maxConnections < 1)
    throw new Error("smtp URL: max_connections must be a positive integer");
  return {
    pool: !/^(off|false|0|no)$/i.test(q.get("pool") ?? ""),
    maxConnections,
    host: u.hostname || "127.0.0.1",
    port,
    secure,
    ignoreTLS: plain,
    requireTLS: !secure && !plain,
    ...(user ? { auth: { user, pass: decodeURIComponent(u.password) } } : {}),
    tls: {
      ...(caFile ? { ca: readFileSync(caFile, "utf8") } : {}),
      ...(/^(false|0|no)$/i.test(q.get("tls_reject_unauthorized") ?? "") ? { rejectUnauthorized: false } : {}),
    },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  };
}

const NETWORK = new Set(["ECONNECTION", "ETIMEDOUT", "ESOCKET", "EDNS", "ECONNREFUSED", "ECONNRESET"]);

/** nodemailer errors → catalogue errors: the server's reply is kept (it is what the caller needs), hosts are not. */
export function mapSmtpError(err: unknown): SidecarError {
  if (err instanceof SidecarError) return err;
  const e = err as { code?: string; response?: string; responseCode?: number; message?: string };
  if (e.responseCode !== undefined && e.response) {
    return sidecarError("BAD_GATEWAY", `SMTP server refused the message: ${e.response.slice(0, 500)}`, {
      success: false,
    });
  }
  if (e.code === "EAUTH") return sidecarError("BAD_GATEWAY", "SMTP server refused the credentials", { success: false });
  if (e.code === "EENVELOPE")
    return sidecarError("BAD_GATEWAY", `SMTP server refused every recipient`, { success: false });
  // The server answered but not securely enough: that is the server's failing, not an outage.
  const tlsFailure =
    e.code === "ETLS" || (e.code === "ESOCKET" && /certificate|self[- ]signed|tls|ssl/i.test(e.message ?? ""));
  if (tlsFailure)
    return sidecarError(
      "BAD_GATEWAY",
      "SMTP server offered no usable TLS (no STARTTLS, or a certificate that is not trusted)",
      { success: false },
    );
  if (e.code && NETWORK.has(e.code))
    return sidecarError("UNAVAILABLE", `SMTP server is unreachable (${e.code})`, { success: false });
  return sidecarError("BAD_GATEWAY", `sending failed (${e.code ?? "unknown error"})`, { success: false });
}

export class SmtpEmail implements EmailBackend {
  readonly name: string;

  private constructor(private readonly transport: Transporter) {
    this.name = "smtp";
  }

  static async open(url: string): Promise<SmtpEmail> {
    const nodemailer = (await import("nodemailer")).default;
    return new SmtpEmail(nodemailer.createTransport(smtpOptions(url)));
  }

  async send(email: OutgoingEmail): Promise<SendOutcome> {
    try {
      const info = await this.transport.sendMail({
        from: email.from,
        to: email.to,
        cc: email.cc,
        bcc: email.bcc,
        subject: email.subject,
        ...(email.text ? { text: email.text } : {}),
        ...(email.html ? { html: email.html } : {}),
        ...(email.replyTo ? { replyTo: email.replyTo } : {}),
        headers: email.headers,
        attachments: email.attachments.map((a) => ({
          filename: a.filename,
          content: Buffer.from(a.content),
          ...(a.contentType ? { contentType: a.contentType } : {}),
        })),
        // Addresses were checked by the service; never let nodemailer fetch files or URLs named in a message.
        disableFileAccess: true,
        disableUrlAccess: true,
      });
      const list = (xs: unknown[] | undefined) =>
        (xs ?? []).map((x) => (typeof x === "string" ? x : (x as { address: string }).address));
      return { messageId: info.messageId, accepted: list(info.accepted), rejected: list(info.rejected) };
    } catch (err) {
      throw mapSmtpError(err);
    }
  }

  async ping() {
    try {
      await this.transport.verify();
    } catch (err) {
      throw mapSmtpError(err);
    }
  }

  async close() {
    this.transport.close();
  }
}
