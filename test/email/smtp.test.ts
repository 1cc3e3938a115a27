/**
 * The email contract against a real SMTP server (smtp-server) on loopback — plain, STARTTLS with AUTH, and
 * implicit TLS — with every received message parsed by mailparser. Then URL rules, credentials and outages.
 */
import { describe, expect, it } from "vitest";
import type { AddressObject } from "mailparser";
import { SmtpEmail, smtpOptions } from "../../src/services/email/backends/smtp.js";
import { backendAvailable } from "../helpers/backends.js";
import { describeEmailContract, type Delivered } from "./contract.js";
import { CERT_FILE, startSmtp, type Received, type TestSmtp } from "./smtp-server.js";

const addrs = (a: AddressObject | AddressObject[] | undefined) =>
  a ? [a].flat().flatMap((x) => x.value.map((v) => v.address ?? "")) : [];

function delivered(r: Received): Delivered {
  const m = r.mail;
  return {
    envelopeTo: r.envelopeTo,
    from: addrs(m.from)[0] ?? "",
    to: addrs(m.to),
    cc: addrs(m.cc),
    subject: m.subject ?? "",
    text: m.text ?? "",
    html: typeof m.html === "string" ? m.html : "",
    replyTo: addrs(m.replyTo)[0] ?? "",
    header: (n) => {
      const v = m.headers.get(n.toLowerCase());
      return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
    },
    attachments: m.attachments.map((a) => ({
      filename: a.filename ?? "",
      contentType: a.contentType,
      content: a.content,
    })),
  };
}

// smtp-server is started in-process, so "available" means it could bind a loopback port.
const smtpOk = await backendAvailable("smtp", async () => (await startSmtp()).close());

const target =
  (start: () => Promise<TestSmtp>, url: (port: number) => string, check?: (r: Received) => void) => async () => {
    const server = await start();
    const backend = await SmtpEmail.open(url(server.port));
    return {
      backend,
      delivered: () =>
        server.received.map((r) => {
          check?.(r);
          return delivered(r);
        }),
      close: async () => {
        await backend.close();
        await server.close();
      },
    };
  };

describe.runIf(smtpOk)("smtp", () => {
  describeEmailContract(
    "smtp plain",
    target(
      () => startSmtp(),
      (p) => `smtp://127.0.0.1:${p}?starttls=off`,
      (r) => expect(r.secure).toBe(false),
    ),
    { refuses: true },
  );
  describeEmailContract(
    "smtp STARTTLS + AUTH",
    target(
      () => startSmtp({ tls: "starttls", auth: { user: "mailer@example.com", pass: "p@ss:w/rd" } }),
      (p) => `smtp://mailer%40example.com:p%40ss%3Aw%2Frd@localhost:${p}?ca_file=${encodeURIComponent(CERT_FILE)}`,
      (r) => expect([r.secure, r.user]).toEqual([true, "mailer@example.com"]),
    ),
    { refuses: true },
  );
  describeEmailContract(
    "smtps implicit TLS",
    target(
      () => startSmtp({ tls: "implicit" }),
      (p) => `smtps://127.0.0.1:${p}?tls_reject_unauthorized=false`,
      (r) => expect(r.secure).toBe(true),
    ),
    { refuses: true },
  );

  describe("smtp connection behaviour", () => {
    const mail = {
      from: "a@example.com",
      to: ["b@example.com"],
      cc: [],
      bcc: [],
      subject: "s",
      text: "t",
      html: "",
      replyTo: "",
      headers: {},
      attachments: [],
    };

    it("refuses to send in clear text when STARTTLS is required but not offered", async () => {
      const server = await startSmtp();
      const b = await SmtpEmail.open(`smtp://127.0.0.1:${server.port}`);
      try {
        await expect(b.send(mail)).rejects.toMatchObject({ kind: { status: 502 } });
        expect(server.received).toHaveLength(0);
      } finally {
        await b.close();
        await server.close();
      }
    });

    it("reports rejected credentials as BAD_GATEWAY without the password", async () => {
      const server = await startSmtp({ tls: "starttls", auth: { user: "u", pass: "right" } });
      const b = await SmtpEmail.open(
        `smtp://u:wrong-pw@localhost:${server.port}?ca_file=${encodeURIComponent(CERT_FILE)}`,
      );
      try {
        const err = (await b.send(mail).catch((e: unknown) => e)) as Error;
        expect(err).toMatchObject({ kind: { status: 502 } });
        expect(err.message).not.toContain("wrong-pw");
      } finally {
        await b.close();
        await server.close();
      }
    });

    it("answers UNAVAILABLE while the server is down, recovers, and reuses pooled connections", async () => {
      let server = await startSmtp();
      const port = server.port;
      await server.close();
      const b = await SmtpEmail.open(`smtp://127.0.0.1:${port}?starttls=off&max_connections=1`);
      try {
        await expect(b.send(mail)).rejects.toMatchObject({
          kind: { status: 503 },
          message: expect.not.stringContaining("127.0.0.1"),
        });
        server = await startSmtp({ port });
        for (let i = 0; i < 3; i++) await b.send(mail);
        expect(server.received).toHaveLength(3);
        expect(server.connections).toBe(1);
      } finally {
        await b.close();
        await server.close();
      }
    });
  });
});

describe("smtp URL rules", () => {
  it("is plain on 25/1025/2525, STARTTLS elsewhere, implicit TLS for smtps", () => {
    for (const p of [25, 1025, 2525])
      expect(smtpOptions(`smtp://h:${p}`)).toMatchObject({
        port: p,
        secure: false,
        ignoreTLS: true,
        requireTLS: false,
      });
    expect(smtpOptions("smtp://h")).toMatchObject({ port: 587, secure: false, ignoreTLS: false, requireTLS: true });
    expect(smtpOptions("smtp://h:2626")).toMatchObject({ requireTLS: true });
    expect(smtpOptions("smtps://h")).toMatchObject({ port: 465, secure: true, requireTLS: false });
    expect(smtpOptions("smtp://us%40er:p%3Ass@h:25")).toMatchObject({
      auth: { user: "us@er", pass: "p:ss" },
      pool: true,
      maxConnections: 5,
    });
    expect(smtpOptions("smtp://h:25?pool=false")).toMatchObject({ pool: false });
  });
});
