/**
 * The one implementation of QueueService. RPC handlers and REST rows both call these methods; validation,
 * long-polling, ack modes and the payload rule live here, storage and redelivery in the backend.
 */
import { createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { AckMode, MessageSchema, type QueueService } from "../../../gen/mikcar/queue/v1/queue_pb.js";
import { sidecarError } from "../../shared/errors.js";
import { untilStopping } from "../../shared/stopping.js";
import type { Logger } from "../../shared/log.js";
import { DEFAULT_GROUP, type Delivery, type QueueBackend, type Target } from "./backend.js";
import { payloadJson } from "./payload.js";

export const MAX_NAME_BYTES = 200;
export const DEFAULT_MAX_MESSAGES = 10;
export const MAX_MESSAGES = 1000;
export const DEFAULT_VISIBILITY_SECONDS = 30;
export const MAX_VISIBILITY_SECONDS = 12 * 3600;
/** A Stream with nothing to deliver re-checks the backend this often (wake-ups normally come sooner). */
const STREAM_POLL_MS = 30_000;

/**
 * Set by a caller that learns when its response was written (the REST layer): resolves true once written,
 * false when the client went away first. Auto-ack deliveries are acked or released accordingly. Without it
 * (unary RPC) they are acked when the handler returns, unless the call was already cancelled.
 */
export const responseWritten = createContextKey<Promise<boolean> | undefined>(undefined, {
  description: "queue.responseWritten",
});

export interface QueueServiceOptions {
  /** The server's request timeout; long-polls are clamped below it so they never become a 408. */
  requestTimeoutMs: number;
  log?: Logger;
}

/** Throws BAD_REQUEST unless `name` is a usable queue, topic or group name. */
export function checkName(name: string, field: string): void {
  if (name.length === 0) throw sidecarError("BAD_REQUEST", `${field} must not be empty`);
  if (Buffer.byteLength(name) > MAX_NAME_BYTES)
    throw sidecarError("BAD_REQUEST", `${field} is longer than ${MAX_NAME_BYTES} bytes`);
  // `|` separates parts of backend keys; control characters and spaces have no place in a name.
  if (/[\u0000-\u0020\u007f|]/.test(name) || !name.isWellFormed()) {
    throw sidecarError("BAD_REQUEST", `${field} must not contain spaces, control characters or "|"`);
  }
}

function seconds(v: number, field: string, max: number): number {
  if (v > max) throw sidecarError("BAD_REQUEST", `${field} must be at most ${max}, got ${v}`);
  return v;
}

const toMessage = (d: Delivery, at: string) =>
  create(MessageSchema, { id: d.id, payloadJson: d.payload, receivedAt: at, deliveryCount: d.deliveryCount });

export function createQueueService(backend: QueueBackend, opts: QueueServiceOptions): ServiceImpl<typeof QueueService> {
  const rt = opts.requestTimeoutMs;
  // Leave a second (or a tenth of a short timeout) to write the answer before the server's own deadline.
  const maxWaitMs = rt > 0 ? Math.max(0, rt - Math.min(1000, rt / 10)) : 24 * 3600_000;

  const settle = (t: Target, ds: Delivery[], ok: boolean) => {
    for (const d of ds) {
      const op = ok ? backend.ack(t, d.id) : backend.nack(t, d.id, "release");
      // A failure here only means a redelivery after the visibility timeout: at-least-once still holds.
      op.catch((err) => opts.log?.warn("queue.settle_failed", { id: d.id, ack: ok, error: String(err) }));
    }
  };

  /** Long-polls `target` until something is delivered, the wait ends or the caller goes away. */
  async function take(t: Target, max: number, waitMs: number, visibilityMs: number, signal: AbortSignal) {
    const end = Date.now() + Math.min(waitMs, maxWaitMs);
    for (;;) {
      const since = backend.version(t);
      const got = await backend.receive(t, max, visibilityMs);
      if (signal.aborted) {
        // Taken from the backend for a caller that left: give it straight back.
        settle(t, got, false);
        return [];
      }
      const left = end - Date.now();
      if (got.length > 0 || left <= 0) return got;
      await backend.wait(t, since, left, signal);
    }
  }

  async function deliver(
    t: Target,
    max: number,
    timeoutSeconds: number,
    mode: AckMode,
    visSeconds: number,
    ctx: HandlerContext,
  ) {
    const vis = seconds(visSeconds, "visibility_seconds", MAX_VISIBILITY_SECONDS) || DEFAULT_VISIBILITY_SECONDS;
    const got = await take(t, max, timeoutSeconds * 1000, vis * 1000, untilStopping(ctx));
    if (got.length > 0 && mode !== AckMode.MANUAL) {
      const written = ctx.values.get(responseWritten);
      if (written) void written.then((ok) => settle(t, got, ok));
      else settle(t, got, !ctx.signal.aborted);
    }
    const at = new Date().toISOString();
    return got.map((d) => toMessage(d, at));
  }

  function ackTarget(name: string, group: string): Target {
    checkName(name, "name");
    if (group !== "") checkName(group, "group");
    return group === "" ? { kind: "queue", name } : { kind: "topic", name, group };
  }

  function checkId(id: string) {
    if (id.length === 0 || id.length > 200) throw sidecarError("BAD_REQUEST", "id must be 1 to 200 characters");
  }

  return {
    async push(req) {
      checkName(req.queue, "queue");
      return { messageId: await backend.push(req.queue, payloadJson(req.payload)) };
    },

    async pop(req, ctx) {
      checkName(req.queue, "queue");
      const t: Target = { kind: "queue", name: req.queue };
      const [message] = await deliver(t, 1, req.timeoutSeconds, req.ackMode, req.visibilitySeconds, ctx);
      return { message };
    },

    async publish(req) {
      checkName(req.topic, "topic");
      return { messageId: await backend.publish(req.topic, payloadJson(req.payload)) };
    },

    async subscribe(req, ctx) {
      checkName(req.topic, "topic");
      const group = req.group || DEFAULT_GROUP;
      checkName(group, "group");
      const max = req.maxMessages || DEFAULT_MAX_MESSAGES;
      if (max > MAX_MESSAGES)
        throw sidecarError("BAD_REQUEST", `max_messages must be at most ${MAX_MESSAGES}, got ${max}`);
      const t: Target = { kind: "topic", name: req.topic, group };
      return { messages: await deliver(t, max, req.timeoutSeconds, req.ackMode, req.visibilitySeconds, ctx) };
    },

    async ack(req) {
      const t = ackTarget(req.name, req.group);
      checkId(req.id);
      let result = await backend.ack(t, req.id);
      // mikcar acks topic deliveries without naming a group: fall back to the default group.
      if (result === "unknown" && req.group === "")
        result = await backend.ack({ kind: "topic", name: req.name, group: DEFAULT_GROUP }, req.id);
      if (result === "unknown") throw sidecarError("NOT_FOUND", `no delivery ${req.id} in ${req.name}`);
      return {};
    },

    async nack(req) {
      const t = ackTarget(req.name, req.group);
      checkId(req.id);
      const mode = req.deadLetter ? "dead-letter" : "requeue";
      let found = await backend.nack(t, req.id, mode);
      if (!found && req.group === "")
        found = await backend.nack({ kind: "topic", name: req.name, group: DEFAULT_GROUP }, req.id, mode);
      if (!found) throw sidecarError("NOT_FOUND", `no delivery ${req.id} in flight in ${req.name}`);
      return {};
    },

    async len(req) {
      checkName(req.queue, "queue");
      return { length: BigInt(await backend.len(req.queue)) };
    },

    async *stream(req, ctx) {
      checkName(req.topic, "topic");
      const group = req.group || DEFAULT_GROUP;
      checkName(group, "group");
      const t: Target = { kind: "topic", name: req.topic, group };
      const vis =
        (seconds(req.visibilitySeconds, "visibility_seconds", MAX_VISIBILITY_SECONDS) || DEFAULT_VISIBILITY_SECONDS) *
        1000;
      const manual = req.ackMode === AckMode.MANUAL;
      // Ends (cleanly) when the server stops, as well as when the client goes.
      const until = untilStopping(ctx);
      while (!until.aborted) {
        // One at a time: the next message is taken only when the transport has accepted this one.
        const [d] = await take(t, 1, STREAM_POLL_MS, vis, until);
        if (!d) continue;
        let handed = false;
        let settled = false;
        const once = (ok: boolean) => {
          if (settled) return;
          settled = true;
          settle(t, [d], ok);
        };
        // A client that is gone gets nothing more: its delivery goes back at once, even while the transport
        // still holds this generator at the `yield` (a write into a dead connection may never complete).
        // (With manual acks too: a delivery the client never received is not its to ack.)
        const release = () => once(false);
        ctx.signal.addEventListener("abort", release, { once: true });
        try {
          yield { message: toMessage(d, new Date().toISOString()) };
          handed = true;
        } finally {
          ctx.signal.removeEventListener("abort", release);
          if (!handed) once(false);
          else if (!manual) once(!ctx.signal.aborted);
        }
      }
    },
  };
}
