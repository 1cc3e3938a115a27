/**
 * The email rows of the REST table (API.md, Email): mikcar's JSON email onto the one EmailService. JSON shape
 * errors name the field; in a batch they fail only their own item, like any other bad email.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import * as pb from "../../../gen/mikcar/email/v1/email_pb.js";
import { sidecarError, toEnvelope } from "../../shared/errors.js";
import { jsonArray, jsonObject, jsonString } from "../../shared/rest-params.js";
import type { RestRoute } from "../../shared/rest-route.js";

const m = pb.EmailService.method;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function strArray(o: Record<string, unknown>, field: string, path: string): string[] {
  const v = o[field];
  if (v === undefined || v === null) return [];
  // mikcar takes arrays; a lone string is accepted as a one-element list.
  if (typeof v === "string") return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
    throw sidecarError("BAD_REQUEST", `field ${path}${field} must be an array of strings`);
  return v as string[];
}

/** One JSON email → the protobuf Email; `path` prefixes field names ("emails[2].") in messages. */
export function emailFromJson(json: unknown, path = ""): pb.Email {
  const o = jsonObject(json, path ? path.slice(0, -1) : "request body");
  const headers = o.headers ?? {};
  if (typeof headers !== "object" || headers === null || Array.isArray(headers))
    throw sidecarError("BAD_REQUEST", `field ${path}headers must be an object of strings`);
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== "string") throw sidecarError("BAD_REQUEST", `field ${path}headers.${k} must be a string`);
  }
  const rawAtt = o.attachments ?? [];
  if (!Array.isArray(rawAtt)) throw sidecarError("BAD_REQUEST", `field ${path}attachments must be an array`);
  const attachments = rawAtt.map((a, i) => {
    const p = `${path}attachments[${i}].`;
    const ao = jsonObject(a, `field ${p.slice(0, -1)}`);
    const content = jsonString(ao, "content", { what: `${p}content`, optional: true }).replace(/\s+/g, "");
    if (!BASE64.test(content) || content.length % 4 === 1)
      throw sidecarError("BAD_REQUEST", `field ${p}content must be base64`);
    return {
      filename: jsonString(ao, "filename", { what: `${p}filename`, optional: true }),
      content: Buffer.from(content, "base64"),
      contentType: jsonString(ao, "content_type", { what: `${p}content_type`, optional: true }),
    };
  });
  return create(pb.EmailSchema, {
    from: jsonString(o, "from", { what: `${path}from`, optional: true }),
    to: strArray(o, "to", path),
    cc: strArray(o, "cc", path),
    bcc: strArray(o, "bcc", path),
    subject: jsonString(o, "subject", { what: `${path}subject`, optional: true }),
    text: jsonString(o, "text", { what: `${path}text`, optional: true }),
    html: jsonString(o, "html", { what: `${path}html`, optional: true }),
    replyTo: jsonString(o, "reply_to", { what: `${path}reply_to`, optional: true }),
    headers: headers as Record<string, string>,
    attachments,
  });
}

export function emailRoutes(svc: ServiceImpl<typeof pb.EmailService>): RestRoute[] {
  return [
    {
      method: "POST",
      path: "/send",
      body: "json",
      async handle(r) {
        const res = create(
          pb.SendResponseSchema,
          await svc.send(create(pb.SendRequestSchema, { email: emailFromJson(r.json) }), r.context(m.send)),
        );
        return {
          json: { id: res.messageId, success: true, ...(res.rejected.length ? { rejected: res.rejected } : {}) },
        };
      },
    },
    {
      method: "POST",
      path: "/send/batch",
      body: "json",
      async handle(r) {
        const list = jsonArray(jsonObject(r.json), "emails");
        // Items whose JSON is malformed fail here; the rest go to the service together.
        const parsed = list.map((e, i) => {
          try {
            return emailFromJson(e, `emails[${i}].`);
          } catch (err) {
            return toEnvelope(err);
          }
        });
        const good = parsed.filter((p): p is pb.Email => "$typeName" in p);
        const res = create(
          pb.SendBatchResponseSchema,
          await svc.sendBatch(create(pb.SendBatchRequestSchema, { emails: good }), r.context(m.sendBatch)),
        );
        let k = 0;
        const results = parsed.map((p) => {
          if (!("$typeName" in p)) return { success: false, error: p.error };
          const x = res.results[k++]!;
          if (!x.success) return { success: false, error: x.error };
          return { success: true, message_id: x.messageId, ...(x.rejected.length ? { rejected: x.rejected } : {}) };
        });
        const sent = results.filter((x) => x.success).length;
        return { json: { failed: results.length - sent, results, sent } };
      },
    },
    {
      method: "GET",
      path: "/outbox",
      body: "none",
      async handle(r) {
        const res = create(
          pb.ListOutboxResponseSchema,
          await svc.listOutbox(create(pb.ListOutboxRequestSchema), r.context(m.listOutbox)),
        );
        const messages = res.messages.map(({ messageId, sentAt, email: e }) => ({
          message_id: messageId,
          sent_at: sentAt,
          from: e?.from,
          to: e?.to,
          cc: e?.cc,
          bcc: e?.bcc,
          subject: e?.subject,
          text: e?.text,
          html: e?.html,
          reply_to: e?.replyTo,
          headers: e?.headers,
          attachments: e?.attachments.map((a) => ({
            filename: a.filename,
            content_type: a.contentType,
            size: a.content.length,
          })),
        }));
        return { json: { messages, count: messages.length } };
      },
    },
    {
      method: "DELETE",
      path: "/outbox",
      body: "none",
      async handle(r) {
        const res = await svc.clearOutbox(create(pb.ClearOutboxRequestSchema), r.context(m.clearOutbox));
        return { json: { cleared: res.cleared ?? 0 } };
      },
    },
  ];
}
