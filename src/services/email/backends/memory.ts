/** Captures messages instead of sending them, for development: listed at `GET /email/outbox`. Bounded. */
import { randomUUID } from "node:crypto";
import type { CapturedEmail, EmailBackend, OutgoingEmail } from "../backend.js";

export class MemoryEmail implements EmailBackend {
  readonly name = "memory";
  private captured: CapturedEmail[] = [];

  constructor(
    /** Oldest messages are dropped past this, so a long-running dev sidecar cannot grow without end. */
    private readonly max = 1000,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async send(email: OutgoingEmail) {
    const messageId = `<${randomUUID()}@mikcar.memory>`;
    this.captured.push({ messageId, email: structuredClone(email), sentAt: this.now().toISOString() });
    if (this.captured.length > this.max) this.captured.shift();
    return { messageId, accepted: [...email.to, ...email.cc, ...email.bcc], rejected: [] };
  }

  outbox() {
    return this.captured.slice();
  }

  clearOutbox() {
    const n = this.captured.length;
    this.captured = [];
    return n;
  }

  async ping() {}

  async close() {}
}
