/**
 * The one behaviour suite for email backends, through the service: what arrives (headers, cc/bcc envelope,
 * multipart text + html, attachments, reply-to), validation, and batches where one bad email fails alone.
 * Each target says how to read what it delivered; SMTP targets parse the real message with mailparser.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/email/v1/email_pb.js";
import type { EmailBackend } from "../../src/services/email/backend.js";
import { createEmailService } from "../../src/services/email/service.js";
import { handlerContext } from "../helpers/rpc.js";

/** What a message looked like on arrival, in one shape for every backend. */
export interface Delivered {
  envelopeTo: string[];
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  text: string;
  html: string;
  replyTo: string;
  header(name: string): string | undefined;
  attachments: Array<{ filename: string; contentType: string; content: Buffer }>;
}

export interface EmailTarget {
  backend: EmailBackend;
  /** Messages delivered since the target was opened, oldest first. */
  delivered(): Delivered[];
  close(): Promise<void>;
}

export interface EmailQuirks {
  /** The target's server refuses recipients at refused.example and messages with X-Test-Reject (memory cannot). */
  refuses?: boolean;
}

const ctx = () => handlerContext(pb.EmailService, "send");

export function describeEmailContract(name: string, open: () => Promise<EmailTarget>, quirks: EmailQuirks = {}) {
  describe(`email contract: ${name}`, () => {
    let t: EmailTarget;
    let svc: ReturnType<typeof createEmailService>;
    beforeAll(async () => {
      t = await open();
      svc = createEmailService(t.backend, { batchConcurrency: 3 });
    });
    afterAll(() => t?.close());

    type Init = Omit<MessageInitShape<typeof pb.EmailSchema>, "$typeName">;
    const email = (init: Init) =>
      create(pb.EmailSchema, {
        from: "Sender <sender@example.com>",
        to: ["rcpt@example.com"],
        subject: "hi",
        text: "body",
        ...init,
      });
    const send = async (init: Init) =>
      create(pb.SendResponseSchema, await svc.send(create(pb.SendRequestSchema, { email: email(init) }), ctx()));
    const last = () => t.delivered().at(-1)!;

    it("delivers headers, reply-to, cc and a bcc that is in the envelope only", async () => {
      const res = await send({
        to: ["A <a@example.com>"],
        cc: ["c@example.com"],
        bcc: ["hidden@example.com"],
        subject: "Grüße ✓",
        replyTo: "replies@example.com",
        headers: { "X-Campaign": "spring-1", "List-Unsubscribe": "<mailto:u@example.com>" },
      });
      expect(res.messageId).toMatch(/^<.+@.+>$/);
      const d = last();
      expect(d.envelopeTo.sort()).toEqual(["a@example.com", "c@example.com", "hidden@example.com"]);
      expect(d.from).toBe("sender@example.com");
      expect(d.to).toEqual(["a@example.com"]);
      expect(d.cc).toEqual(["c@example.com"]);
      expect(d.subject).toBe("Grüße ✓");
      expect(d.replyTo).toBe("replies@example.com");
      expect(d.header("x-campaign")).toBe("spring-1");
      expect(d.header("bcc")).toBeUndefined();
    });

    it("sends text and html together as alternatives, and attachments intact", async () => {
      const pdf = Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x10]);
      await send({
        text: "plain ✓",
        html: "<p>rich ✓</p>",
        attachments: [
          { filename: "report.pdf", content: pdf, contentType: "application/pdf" },
          { filename: "notes.txt", content: Buffer.from("hello"), contentType: "" },
        ].map((a) => create(pb.AttachmentSchema, a)),
      });
      const d = last();
      expect(d.text.trim()).toBe("plain ✓");
      expect(d.html.trim()).toBe("<p>rich ✓</p>");
      expect(d.attachments.map((a) => [a.filename, a.contentType])).toEqual([
        ["report.pdf", "application/pdf"],
        ["notes.txt", "text/plain"],
      ]);
      expect(Buffer.compare(d.attachments[0]!.content, pdf)).toBe(0);
    });

    it("refuses bad input with messages naming the field, sending nothing", async () => {
      const before = t.delivered().length;
      const cases: Array<[Init, RegExp]> = [
        [{ from: "" }, /^from is required/],
        [{ from: "not an address" }, /^from is not a valid email address/],
        [{ to: [] }, /^to must name at least one recipient/],
        [{ to: ["ok@example.com", "bad@"] }, /^to\[1\] is not a valid/],
        [{ cc: ["x@example.com\r\nBcc: evil@example.com"] }, /^cc\[0\] must not contain line breaks/],
        [{ subject: "a\r\nBcc: evil@example.com" }, /^subject must not contain line breaks/],
        [{ subject: "s".repeat(999) }, /^subject is 999 characters/],
        [{ replyTo: "nope" }, /^reply_to is not a valid/],
        [{ headers: { "Content-Type": "text/evil" } }, /^headers\.Content-Type is set from/],
        [{ headers: { "bad name": "x" } }, /^headers: "bad name" is not a valid header name/],
        [{ text: "x".repeat(5 * 1024 * 1024 + 1) }, /^text is \d+ bytes/],
      ];
      for (const [init, msg] of cases) {
        await expect(send(init)).rejects.toMatchObject({
          code: Code.InvalidArgument,
          rawMessage: expect.stringMatching(msg),
        });
      }
      expect(t.delivered().length).toBe(before);
    });

    it("sends a batch concurrently; a bad email fails alone, in order", async () => {
      const before = t.delivered().length;
      const emails = [
        email({ subject: "b0" }),
        email({ subject: "b1", to: ["broken"] }),
        email({ subject: "b2" }),
        ...(quirks.refuses ? [email({ subject: "b3", to: ["nobody@refused.example"] })] : []),
        email({ subject: "b4" }),
      ];
      const res = create(
        pb.SendBatchResponseSchema,
        await svc.sendBatch(create(pb.SendBatchRequestSchema, { emails }), ctx()),
      );
      expect(res.results.map((r) => r.success)).toEqual(emails.map((e) => !["b1", "b3"].includes(e.subject)));
      expect(res.results[1]).toMatchObject({ code: "BAD_REQUEST", error: expect.stringMatching(/^to\[0\]/) });
      if (quirks.refuses)
        expect(res.results[3]).toMatchObject({
          code: "BAD_GATEWAY",
          error: expect.stringMatching(/550.*Recipient address rejected/),
        });
      expect(res.sent).toBe(emails.length - (quirks.refuses ? 2 : 1));
      expect(res.failed).toBe(quirks.refuses ? 2 : 1);
      expect(
        t
          .delivered()
          .slice(before)
          .map((d) => d.subject)
          .sort(),
      ).toEqual(["b0", "b2", "b4"]);
    });

    describe.runIf(quirks.refuses)("a server that refuses", () => {
      it("turns an SMTP refusal into BAD_GATEWAY with the server's reply", async () => {
        const err = (await send({ headers: { "X-Test-Reject": "yes" } }).catch((e: unknown) => e)) as ConnectError;
        expect(err).toMatchObject({
          kind: { status: 502 },
          rawMessage: expect.stringMatching(/554 5\.7\.1 Message rejected as spam/),
        });
        await expect(send({ to: ["x@refused.example"] })).rejects.toMatchObject({
          rawMessage: expect.stringMatching(/550/),
        });
      });

      it("delivers to the accepted recipients and reports the refused ones", async () => {
        const res = await send({ subject: "partial", to: ["ok@example.com", "no@refused.example"] });
        expect(res.rejected).toEqual(["no@refused.example"]);
        expect(last().envelopeTo).toEqual(["ok@example.com"]);
      });

      it("reports the refused recipients of a batch item that was still sent", async () => {
        const emails = [email({ subject: "partial batch", to: ["ok@example.com", "no@refused.example"] })];
        const res = create(
          pb.SendBatchResponseSchema,
          await svc.sendBatch(create(pb.SendBatchRequestSchema, { emails }), ctx()),
        );
        expect(res.results[0]).toMatchObject({ success: true, rejected: ["no@refused.example"] });
      });
    });
  });
}
