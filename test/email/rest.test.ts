/** Email over the wire: mikcar's REST shapes on memory://, the outbox, gRPC, and the 502 envelope from SMTP. */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmailService } from "../../gen/mikcar/email/v1/email_pb.js";
import { backendAvailable } from "../helpers/backends.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";
import { startSmtp } from "./smtp-server.js";

let s: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar({ services: { email: "memory://" } });
});
afterAll(() => s.close());

const post = (base: string, path: string, v: unknown) =>
  fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(v) });
const mail = { from: "a@example.com", to: ["b@example.com"], subject: "hello", text: "hi" };

describe("email REST on memory://", () => {
  it("sends, lists the outbox and clears it", async () => {
    await fetch(s.url + "/email/outbox", { method: "DELETE" });
    const r = await post(s.url, "/email/send", {
      ...mail,
      cc: ["c@example.com"],
      reply_to: "r@example.com",
      headers: { "X-Tag": "t" },
      attachments: [{ filename: "a.txt", content: Buffer.from("abc").toString("base64"), content_type: "text/plain" }],
    });
    expect(r.status).toBe(200);
    const sent = (await r.json()) as { id: string; success: boolean };
    expect(sent).toEqual({ id: expect.stringMatching(/^<.+>$/), success: true });
    const box = (await (await fetch(s.url + "/email/outbox")).json()) as { count: number; messages: unknown[] };
    expect(box.count).toBe(1);
    expect(box.messages[0]).toMatchObject({
      message_id: sent.id,
      from: "a@example.com",
      cc: ["c@example.com"],
      reply_to: "r@example.com",
      headers: { "X-Tag": "t" },
      attachments: [{ filename: "a.txt", content_type: "text/plain", size: 3 }],
    });
    expect(await (await fetch(s.url + "/email/outbox", { method: "DELETE" })).json()).toEqual({ cleared: 1 });
  });

  it("answers 400 naming the field", async () => {
    let r = await post(s.url, "/email/send", { ...mail, to: ["x@example.com", 5] });
    expect(await r.json()).toEqual({ code: "BAD_REQUEST", error: "field to must be an array of strings", status: 400 });
    r = await post(s.url, "/email/send", { ...mail, attachments: [{ filename: "f", content: "!!" }] });
    expect(await r.json()).toMatchObject({ status: 400, error: "field attachments[0].content must be base64" });
    r = await post(s.url, "/email/send", { ...mail, from: "nope" });
    expect(await r.json()).toMatchObject({
      status: 400,
      error: expect.stringMatching(/^from is not a valid email address/),
    });
  });

  it("sends a batch with per-item results; malformed items fail alone", async () => {
    const r = await post(s.url, "/email/send/batch", {
      emails: [mail, { ...mail, to: "oops@" }, { ...mail, subject: 7 }, mail],
    });
    const body = (await r.json()) as { sent: number; failed: number; results: Array<Record<string, unknown>> };
    expect(body.sent).toBe(2);
    expect(body.failed).toBe(2);
    expect(body.results).toEqual([
      { success: true, message_id: expect.any(String) },
      { success: false, error: expect.stringMatching(/^to\[0\] is not a valid/) },
      { success: false, error: "field emails[2].subject must be a string" },
      { success: true, message_id: expect.any(String) },
    ]);
  });

  it("serves Send and ListOutbox over gRPC", async () => {
    const client = createClient(EmailService, createGrpcTransport({ baseUrl: s.url }));
    const res = await client.send({ email: { from: "g@example.com", to: ["h@example.com"], subject: "rpc" } });
    const box = await client.listOutbox({});
    expect(box.messages.at(-1)).toMatchObject({ messageId: res.messageId, email: { subject: "rpc" } });
  });
});

const smtpOk = await backendAvailable("smtp", async () => (await startSmtp()).close());
describe.runIf(smtpOk)("email REST on smtp://", () => {
  it("answers 502 {success:false} with the server's reply, and outbox is refused", async () => {
    const server = await startSmtp();
    const c = await startSidecar({ services: { email: `smtp://127.0.0.1:${server.port}?starttls=off` } });
    try {
      const r = await post(c.url, "/email/send", { ...mail, to: ["x@refused.example"] });
      expect(r.status).toBe(502);
      expect(await r.json()).toMatchObject({
        success: false,
        code: "BAD_GATEWAY",
        error: expect.stringMatching(/550 5\.1\.1/),
      });
      expect((await fetch(c.url + "/email/outbox")).status).toBe(409);
      expect((await post(c.url, "/email/send", mail)).status).toBe(200);
      expect(server.received).toHaveLength(1);
    } finally {
      await c.close();
      await server.close();
    }
  });
});
