/**
 * Which queue backend calls may be retried: only acknowledgements and lengths. A push or publish has no
 * idempotency key, so a retry after a lost answer would enqueue twice; a receive would take more messages;
 * a wait is a long-poll that bounds its own time.
 */
import type { CallKinds } from "../../shared/instrument.js";
import type { QueueBackend } from "./backend.js";

export const QUEUE_CALLS: CallKinds<QueueBackend> = {
  push: "once",
  publish: "once",
  receive: "once",
  wait: "untimed",
  ack: "idempotent",
  nack: "once",
  len: "idempotent",
};
