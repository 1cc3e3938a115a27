/**
 * Which storage backend calls may be retried. Uploads consume their body stream as they go, so a failed write
 * cannot be replayed and is never retried (nor timed: it lasts as long as the upload). A move whose first
 * attempt landed would fail the second with NOT_FOUND, so it runs once.
 */
import type { CallKinds } from "../../shared/instrument.js";
import type { StorageBackend } from "./backend.js";

export const STORAGE_CALLS: CallKinds<StorageBackend> = {
  head: "idempotent",
  open: "idempotent",
  write: "untimed",
  delete: "idempotent",
  list: "idempotent",
  copy: "idempotent",
  move: "once",
};
