/**
 * The email limit: POST /email/send answered with one nodemailer sendMail on a pooled SMTP transport set up as
 * the sidecar sets up its own (pool, 5 connections, no TLS on loopback), or pushed onto an array for memory://.
 */
import type { Transporter } from "nodemailer";
import { isMain, serve, type Limit, type LimitRoute } from "./serve.js";

interface Mail {
  from: string;
  to: string[];
  subject: string;
  text?: string;
}

export const MAIL: Mail = { from: "a@example.com", to: ["b@example.com"], subject: "bench", text: "hello" };

export async function open(url: string): Promise<Limit> {
  const u = new URL(url);
  let send: (m: Mail) => Promise<string>;
  let close = async () => {};
  if (u.protocol === "memory:") {
    const outbox: Mail[] = [];
    send = async (m) => {
      if (outbox.push(m) > 1000) outbox.length = 0;
      return `<${outbox.length}@bench>`;
    };
  } else if (u.protocol === "smtp:") {
    const nodemailer = (await import("nodemailer")).default;
    const t: Transporter = nodemailer.createTransport({
      pool: true,
      maxConnections: 5,
      host: u.hostname,
      port: Number(u.port),
      secure: false,
      ignoreTLS: true,
    });
    send = async (m) => (await t.sendMail({ ...m, disableFileAccess: true, disableUrlAccess: true })).messageId;
    close = async () => t.close();
  } else {
    throw new Error(`limits/email: unsupported backend ${url}`);
  }
  const routes: LimitRoute[] = [
    {
      method: "POST",
      prefix: "/email/send",
      handle: async ({ body }) => ({ json: { id: await send(JSON.parse(body.toString()) as Mail), success: true } }),
    },
  ];
  return { routes, direct: { send: () => send(MAIL) }, close };
}

if (isMain(import.meta.url)) await serve(open);
