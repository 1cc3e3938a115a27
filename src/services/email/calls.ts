/** Sending is never retried: a message the server accepted before the connection dropped would go out twice. */
import type { CallKinds } from "../../shared/instrument.js";
import type { EmailBackend } from "./backend.js";

export const EMAIL_CALLS: CallKinds<EmailBackend> = {
  send: "once",
};
