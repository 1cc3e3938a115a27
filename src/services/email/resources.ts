/**
 * What names a resource in each email call (the sender's address: `from` without its display name, of every message), for the server's policy:
 * see ../resources.ts. Addresses are not the caller's own names, so a namespace does not apply to them.
 */
import type { EmailService } from "../../../gen/mikcar/email/v1/email_pb.js";
import type { ServiceResources } from "../resources.js";
import { addressOf } from "./validate.js";

export const emailResources: ServiceResources<typeof EmailService> = {
  namespaced: false,
  methods: {
    send: { names: (r) => [addressOf(r.email?.from ?? "")] },
    sendBatch: { names: (r) => r.emails.map((e) => addressOf(e.from)) },
    // The development outbox shows a token only the mail its senders may send.
    listOutbox: {
      out: (res, v) => ({
        ...res,
        messages: res.messages.filter((m) => v.out(addressOf(m.email?.from ?? "")) !== undefined),
      }),
    },
  },
};
