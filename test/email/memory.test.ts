/** The email contract on memory:// — what it captured stands in for what arrived. */
import { MemoryEmail } from "../../src/services/email/backends/memory.js";
import { describeEmailContract, type Delivered } from "./contract.js";

const addr = (s: string) => /<([^>]+)>/.exec(s)?.[1] ?? s;

describeEmailContract("memory", async () => {
  const backend = new MemoryEmail();
  return {
    backend,
    delivered: (): Delivered[] =>
      backend.outbox().map(({ email: e }) => ({
        envelopeTo: [...e.to, ...e.cc, ...e.bcc].map(addr),
        from: addr(e.from),
        to: e.to.map(addr),
        cc: e.cc.map(addr),
        subject: e.subject,
        text: e.text,
        html: e.html,
        replyTo: e.replyTo,
        header: (n) => Object.entries(e.headers).find(([k]) => k.toLowerCase() === n.toLowerCase())?.[1],
        // memory keeps what it was given; an empty type would be derived from the name when sent for real.
        attachments: e.attachments.map((a) => ({
          filename: a.filename,
          contentType: a.contentType || "text/plain",
          content: Buffer.from(a.content),
        })),
      })),
    close: () => backend.close(),
  };
});
