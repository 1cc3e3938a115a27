/**
 * The queue rows of the REST table (API.md, Queue): mikcar's paths onto the one QueueService implementation.
 * Payloads are embedded as the JSON text they were sent as, so the response bodies are assembled here.
 */
import { create, type DescMethod } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import * as pb from "../../../gen/mikcar/queue/v1/queue_pb.js";
import { sidecarError } from "../../shared/errors.js";
import { MAX_VISIBILITY_SECONDS, responseWritten } from "./service.js";
import { queryInt } from "../../shared/rest-params.js";
import type { RestRequest, RestResponse, RestRoute } from "../../shared/rest-route.js";

const m = pb.QueueService.method;
const str = JSON.stringify;

function messageJson(msg: Partial<Pick<pb.Message, "id" | "payloadJson" | "receivedAt">>): string {
  return `{"id":${str(msg.id)},"payload":${msg.payloadJson},"received_at":${str(msg.receivedAt)}}`;
}

const jsonBody = (body: string): RestResponse => ({ body, headers: { "content-type": "application/json" } });

function ackMode(r: RestRequest): pb.AckMode {
  const v = r.query.get("ack") ?? "auto";
  if (v === "auto") return pb.AckMode.AUTO;
  if (v === "manual") return pb.AckMode.MANUAL;
  throw sidecarError("BAD_REQUEST", `query parameter ack must be "auto" or "manual", got ${str(v)}`);
}

const secondsParam = (r: RestRequest, name: string, max = 86_400) =>
  Number(queryInt(r.query, name, 0n, { min: 0n, max: BigInt(max) }));

/**
 * Runs a delivering call with a context that learns when the response was written, so auto-ack deliveries are
 * acked only then (and released at once if the client went away first).
 */
async function delivering(
  r: RestRequest,
  method: DescMethod,
  call: (ctx: HandlerContext) => Promise<string>,
): Promise<RestResponse> {
  // HEAD would be served by these GET rows and take a message whose body is never sent.
  if (r.method === "HEAD") throw sidecarError("METHOD_NOT_ALLOWED", "HEAD would consume a message; use GET");
  let finish!: (ok: boolean) => void;
  const ctx = r.context(method);
  ctx.values.set(responseWritten, new Promise<boolean>((resolve) => (finish = resolve)));
  try {
    return { ...jsonBody(await call(ctx)), onFinish: finish };
  } catch (err) {
    finish(false);
    throw err;
  }
}

export function queueRoutes(q: ServiceImpl<typeof pb.QueueService>): RestRoute[] {
  return [
    {
      method: "POST",
      path: "/push/:queue",
      body: "raw",
      async handle(r) {
        const res = await q.push(
          create(pb.PushRequestSchema, { queue: r.params.queue, payload: r.body }),
          r.context(m.push),
        );
        return { json: { message_id: res.messageId, queue: r.params.queue, status: "pushed" } };
      },
    },
    {
      method: "GET",
      path: "/pop/:queue",
      body: "none",
      untimed: true, // clamped below the request timeout by the service
      handle: (r) =>
        delivering(r, m.pop, async (ctx) => {
          const req = create(pb.PopRequestSchema, {
            queue: r.params.queue,
            timeoutSeconds: secondsParam(r, "timeout"),
            ackMode: ackMode(r),
            visibilitySeconds: secondsParam(r, "visibility", MAX_VISIBILITY_SECONDS),
          });
          const res = await q.pop(req, ctx);
          return `{"message":${res.message ? messageJson(res.message) : "null"},"queue":${str(r.params.queue)}}`;
        }),
    },
    {
      method: "POST",
      path: "/publish/:topic",
      body: "raw",
      async handle(r) {
        const res = await q.publish(
          create(pb.PublishRequestSchema, { topic: r.params.topic, payload: r.body }),
          r.context(m.publish),
        );
        return { json: { message_id: res.messageId, status: "published", topic: r.params.topic } };
      },
    },
    {
      method: "GET",
      path: "/subscribe/:topic",
      body: "none",
      untimed: true,
      handle: (r) =>
        delivering(r, m.subscribe, async (ctx) => {
          const req = create(pb.SubscribeRequestSchema, {
            topic: r.params.topic,
            group: r.query.get("group") ?? "",
            timeoutSeconds: secondsParam(r, "timeout"),
            maxMessages: Number(queryInt(r.query, "max_messages", 10n, { min: 1n, max: 1000n })),
            ackMode: ackMode(r),
            visibilitySeconds: secondsParam(r, "visibility", MAX_VISIBILITY_SECONDS),
          });
          const res = await q.subscribe(req, ctx);
          const messages = res.messages ?? [];
          const list = messages.map(messageJson).join(",");
          return `{"count":${messages.length},"messages":[${list}],"topic":${str(r.params.topic)}}`;
        }),
    },
    {
      method: "POST",
      path: "/ack/:name/:id",
      body: "none",
      async handle(r) {
        const req = create(pb.AckRequestSchema, {
          name: r.params.name,
          id: r.params.id,
          group: r.query.get("group") ?? "",
        });
        await q.ack(req, r.context(m.ack));
        return { json: { message_id: r.params.id, status: "acknowledged", topic: r.params.name } };
      },
    },
    {
      method: "POST",
      path: "/nack/:name/:id",
      body: "none",
      async handle(r) {
        const dl = r.query.get("dead_letter") ?? "false";
        if (dl !== "true" && dl !== "false")
          throw sidecarError("BAD_REQUEST", `query parameter dead_letter must be true or false, got ${str(dl)}`);
        const req = create(pb.NackRequestSchema, {
          name: r.params.name,
          id: r.params.id,
          group: r.query.get("group") ?? "",
          deadLetter: dl === "true",
        });
        await q.nack(req, r.context(m.nack));
        return {
          json: { message_id: r.params.id, status: dl === "true" ? "dead_lettered" : "requeued", topic: r.params.name },
        };
      },
    },
    {
      method: "GET",
      path: "/len/:queue",
      body: "none",
      async handle(r) {
        const res = await q.len(create(pb.LenRequestSchema, { queue: r.params.queue }), r.context(m.len));
        return { json: { length: res.length, queue: r.params.queue } };
      },
    },
  ];
}
