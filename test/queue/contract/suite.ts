/**
 * What every file of the queue contract shares: the backend under test, the service over it, and one-line calls
 * of each RPC. The fields are filled in `beforeAll`, so cases read them when they run.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { expect } from "vitest";
import * as pb from "../../../gen/mikcar/queue/v1/queue_pb.js";
import type { QueueBackend, QueueBackendOptions } from "../../../src/services/queue/backend.js";
import type { createQueueService } from "../../../src/services/queue/service.js";
import { handlerContext } from "../../helpers/rpc.js";

export interface QueueQuirks {
  /** Cuts the backend's connection to its broker the hard way (socket destroyed), to test recovery. */
  dropConnection?(backend: QueueBackend): void;
  /** How far past `maxTopicLength` a topic group may hold, and why (Redis trims whole stream nodes). */
  topicLengthSlack?: number;
}

export const MAX_DELIVERIES = 3;

export const enc = (s: string) => new TextEncoder().encode(s);

export const ctx = (method: keyof typeof pb.QueueService.method, signal?: AbortSignal) =>
  handlerContext(pb.QueueService, method, signal);

/** Retries `fn` while the backend reports UNAVAILABLE (e.g. reconnecting after a dropped connection). */
export async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i > 100 || !/unavailable/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export class QueueSuite {
  backend!: QueueBackend;
  q!: ReturnType<typeof createQueueService>;
  constructor(
    readonly quirks: QueueQuirks,
    /** Opens another backend of the same kind (e.g. with other options). */
    readonly open: (opts: QueueBackendOptions) => Promise<QueueBackend>,
  ) {}

  push = async (queue: string, body: string) =>
    (await this.q.push(create(pb.PushRequestSchema, { queue, payload: enc(body) }), ctx("push"))).messageId!;
  msg = (m: MessageInitShape<typeof pb.MessageSchema>) => create(pb.MessageSchema, m);
  pop = async (queue: string, o: MessageInitShape<typeof pb.PopRequestSchema> = {}, signal?: AbortSignal) => {
    const m = (await this.q.pop(create(pb.PopRequestSchema, { queue, ...o }), ctx("pop", signal))).message;
    return m && this.msg(m);
  };
  publish = async (topic: string, body: string) =>
    (await this.q.publish(create(pb.PublishRequestSchema, { topic, payload: enc(body) }), ctx("publish"))).messageId!;
  subscribe = async (topic: string, o: MessageInitShape<typeof pb.SubscribeRequestSchema> = {}) =>
    (await this.q.subscribe(create(pb.SubscribeRequestSchema, { topic, ...o }), ctx("subscribe"))).messages?.map(
      this.msg,
    ) ?? [];
  ack = async (name: string, id: string, group = "") =>
    this.q.ack(create(pb.AckRequestSchema, { name, id, group }), ctx("ack"));
  nack = async (name: string, id: string, deadLetter = false) =>
    this.q.nack(create(pb.NackRequestSchema, { name, id, deadLetter }), ctx("nack"));
  len = async (queue: string) => (await this.q.len(create(pb.LenRequestSchema, { queue }), ctx("len"))).length;
  // Brokers deliver asynchronously (RabbitMQ pushes to a consumer), so calls that expect a message may wait.
  manual = { ackMode: pb.AckMode.MANUAL, visibilitySeconds: 1, timeoutSeconds: 5 };
  wait5 = { timeoutSeconds: 5 };
  /** Subscribes until `n` messages came (or a wait comes back empty), checking each batch's bound. */
  collect = async (topic: string, group: string, n: number, maxMessages = 100) => {
    const all: pb.Message[] = [];
    while (all.length < n) {
      const batch = await this.subscribe(topic, { group, maxMessages, timeoutSeconds: 5 });
      expect(batch.length).toBeLessThanOrEqual(maxMessages);
      if (batch.length === 0) break;
      all.push(...batch);
    }
    return all;
  };
}
