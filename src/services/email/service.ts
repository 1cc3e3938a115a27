/**
 * The one implementation of EmailService. RPC handlers and REST rows call these methods; validation happens
 * here, per email, so one bad email in a batch fails alone.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  EmailSchema,
  type EmailService,
  SendResultSchema,
  type SendResult,
} from "../../../gen/mikcar/email/v1/email_pb.js";
import { sidecarError, toEnvelope } from "../../shared/errors.js";
import type { EmailBackend } from "./backend.js";
import { checkEmail } from "./validate.js";

export const MAX_BATCH = 1000;

export interface EmailServiceOptions {
  /** Emails of a batch in flight at once. */
  batchConcurrency?: number;
}

/** Runs `f` over `items` with at most `limit` at a time, keeping the order of results. */
async function mapBounded<T, R>(items: readonly T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function createEmailService(
  backend: EmailBackend,
  opts: EmailServiceOptions = {},
): ServiceImpl<typeof EmailService> {
  const concurrency = opts.batchConcurrency ?? 8;
  const outbox = () => {
    if (!backend.outbox)
      throw sidecarError("CONFLICT", `the outbox exists only on the memory:// backend, not ${backend.name}`);
    return backend.outbox();
  };
  return {
    async send(req) {
      return backend.send(checkEmail(req.email ?? create(EmailSchema)));
    },

    async sendBatch(req) {
      if (req.emails.length > MAX_BATCH)
        throw sidecarError("BAD_REQUEST", `emails has ${req.emails.length} entries; the limit is ${MAX_BATCH}`);
      const results = await mapBounded(req.emails, concurrency, async (e): Promise<SendResult> => {
        try {
          const r = await backend.send(checkEmail(e));
          return create(SendResultSchema, { success: true, messageId: r.messageId, rejected: r.rejected });
        } catch (err) {
          const env = toEnvelope(err);
          return create(SendResultSchema, { success: false, error: env.error, code: env.code });
        }
      });
      const sent = results.filter((r) => r.success).length;
      return { sent, failed: results.length - sent, results };
    },

    async listOutbox() {
      return {
        messages: outbox().map((m) => ({ messageId: m.messageId, sentAt: m.sentAt, email: { ...m.email } })),
      };
    },

    async clearOutbox() {
      outbox();
      return { cleared: backend.clearOutbox!() };
    },
  };
}
