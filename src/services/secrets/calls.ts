/** Which secrets backend calls may be retried: reads and deletes; a create or update makes a new version. */
import type { CallKinds } from "../../shared/instrument.js";
import type { SecretsBackend } from "./backend.js";

export const SECRETS_CALLS: CallKinds<SecretsBackend> = {
  get: "idempotent",
  exists: "idempotent",
  list: "idempotent",
  create: "once",
  update: "once",
  delete: "idempotent",
};
