/**
 * SQL backend calls are never retried: `run` serves queries and writes alike, and a write that reached the
 * database before the connection dropped would be applied twice. Transactions (batches, scripts) bound their own
 * time with the statement and script timeouts.
 */
import type { CallKinds } from "../../shared/instrument.js";
import type { SqlBackend } from "./backend.js";

export const SQL_CALLS: CallKinds<SqlBackend> = {
  run: "once",
  transaction: "untimed",
};
