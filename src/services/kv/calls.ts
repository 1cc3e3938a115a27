/** Which KV backend calls may be retried: everything but increment, which would add twice. */
import type { CallKinds } from "../../shared/instrument.js";
import type { KvBackend } from "./backend.js";

export const KV_CALLS: CallKinds<KvBackend> = {
  get: "idempotent",
  getMany: "idempotent",
  set: "idempotent",
  setMany: "idempotent",
  delete: "idempotent",
  keys: "idempotent",
  increment: "once",
  pttl: "idempotent",
  expire: "idempotent",
};
