/**
 * The RabbitMQ connection of the amqp queue backend: connects lazily and again after a loss, owns the confirm
 * channel used for publishing and declaring, and turns amqplib errors into catalogue errors.
 */
import { randomUUID } from "node:crypto";
import type { ChannelModel, ConfirmChannel } from "amqplib";
import { sidecarError, SidecarError } from "../../../shared/errors.js";

export function mapAmqpError(err: unknown): never {
  if (err instanceof SidecarError) throw err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/PRECONDITION_FAILED/.test(msg))
    throw sidecarError("CONFLICT", "the queue or exchange exists with other settings", {}, err);
  throw sidecarError("UNAVAILABLE", "rabbitmq is unavailable; retry later", {}, err);
}

export class AmqpLink {
  private conn?: ChannelModel;
  private pub?: ConfirmChannel;
  private connecting?: Promise<ChannelModel>;
  /** Queues and exchanges declared on the current connection. */
  private declared = new Set<string>();
  private closed = false;

  /** `onLost` runs once per lost connection: everything unacked on it was requeued by the broker. */
  constructor(
    private url: string,
    private onLost: () => void,
  ) {}

  async connection(): Promise<ChannelModel> {
    if (this.closed) throw sidecarError("UNAVAILABLE", "the queue backend is closed");
    if (this.conn) return this.conn;
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<ChannelModel> {
    const amqp = await import("amqplib");
    try {
      // Nagle would hold small frames (acks, publishes) back until the broker's delayed ACK: ~40 ms per round trip.
      const conn = await amqp.connect(this.url, { timeout: 5_000, noDelay: true });
      conn.on("error", () => {}); // followed by "close", handled there
      conn.on("close", () => this.lost(conn));
      this.conn = conn;
      return conn;
    } catch (err) {
      return mapAmqpError(err);
    }
  }

  private lost(conn: ChannelModel) {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.pub = undefined;
    this.declared.clear();
    this.onLost();
  }

  /**
   * amqplib reports a dead socket a few ticks late; until then acks vanish and buffered messages would be handed
   * out from a connection the broker already dropped. Look at the socket itself (an amqplib internal).
   */
  checkAlive(): void {
    const stream = (this.conn as unknown as { connection?: { stream?: { destroyed?: boolean } } })?.connection?.stream;
    if (this.conn && stream?.destroyed) this.lost(this.conn);
  }

  private async channel(): Promise<ConfirmChannel> {
    const conn = await this.connection();
    if (!this.pub) {
      const pub = await conn.createConfirmChannel();
      pub.on("error", () => {});
      pub.on("close", () => {
        if (this.pub === pub) this.pub = undefined;
        this.declared.clear(); // a failed declaration closed it; declare again on the next channel
      });
      this.pub = pub;
    }
    return this.pub;
  }

  /** Declares a durable queue (once per connection); returns its ready-message count when it asks the broker. */
  async assertQueue(name: string, fresh = false): Promise<number | undefined> {
    if (!fresh && this.declared.has(name)) return undefined;
    // assertQueue, not checkQueue: a missing queue must not close the channel (it is simply created empty).
    const { messageCount } = await (await this.channel()).assertQueue(name, { durable: true });
    this.declared.add(name);
    return messageCount;
  }

  async assertExchange(name: string): Promise<void> {
    if (this.declared.has(name)) return;
    await (await this.channel()).assertExchange(name, "fanout", { durable: true });
    this.declared.add(name);
  }

  /**
   * Declares a topic group's durable queue holding at most `maxLength` ready messages (the oldest dropped first),
   * bound to the topic's exchange; once per connection unless `fresh`. On a channel of its own, because RabbitMQ
   * cannot change the arguments of an existing queue: one declared earlier without this bound (an older sidecar)
   * or with another one is refused with PRECONDITION_FAILED, which closes the channel, and is then used as it is.
   */
  async assertGroupQueue(name: string, exchange: string, maxLength: number, fresh = false): Promise<void> {
    const key = `group|${name}`;
    if (!fresh && this.declared.has(key)) return;
    const conn = await this.connection();
    const open = async () => {
      const c = await conn.createChannel();
      c.on("error", () => {});
      return c;
    };
    let ch = await open();
    try {
      await ch.assertExchange(exchange, "fanout", { durable: true });
      try {
        await ch.assertQueue(name, { durable: true, arguments: { "x-max-length": maxLength } });
      } catch (err) {
        if (!/PRECONDITION_FAILED/.test(String(err))) throw err;
        ch = await open();
        await ch.checkQueue(name);
      }
      await ch.bindQueue(name, exchange, "");
      this.declared.add(key);
    } finally {
      ch.close().catch(() => {});
    }
  }

  /** Publishes a persistent message and waits for the broker's confirm; returns its new `messageId`. */
  async send(exchange: string, routingKey: string, payload: string): Promise<string> {
    const id = randomUUID();
    const ch = await this.channel();
    await new Promise<void>((resolve, reject) => {
      const opts = { persistent: true, messageId: id, contentType: "application/json" };
      ch.publish(exchange, routingKey, Buffer.from(payload), opts, (err) => (err ? reject(err) : resolve()));
    });
    return id;
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    this.conn = undefined;
    // Unacked deliveries return to their queues. A dead socket can leave close() pending: don't wait for ever.
    await Promise.race([conn?.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000).unref())]);
  }
}
