/**
 * Email: single sends over REST to memory:// and to a real SMTP server on loopback (smtp-server in its own
 * process), pooled, each against its limit (bench/limits/email.ts: nodemailer's sendMail on a pooled transport
 * behind a bare node:http) and sendMail alone.
 */
import { measure, type BenchRow, type BenchSuite } from "../lib.js";
import { MAIL } from "../limits/email.js";
import { startBenchProcess, startSidecarProcess } from "../servers.js";

const suite: BenchSuite = {
  name: "email",
  async run({ durationSec, connections }) {
    const rows: Array<BenchRow | undefined> = [];
    const smtp = await startBenchProcess("./backends/smtp.ts");
    const smtpUrl = `smtp://127.0.0.1:${new URL(smtp.url).port}?starttls=off`;
    try {
      for (const backend of ["memory://", smtpUrl]) {
        const name = backend.startsWith("smtp") ? "smtp" : "memory";
        const limit = await startBenchProcess("./limits/email.ts", [backend]);
        const side = await startSidecarProcess(["--email", "--email-url", backend]);
        try {
          for (const conns of connections) {
            rows.push(
              await measure({
                suite: "email",
                name: `send ${name}`,
                unit: "emails/s",
                connections: conns,
                durationSec,
                limit: limit,
                sidecar: side,
                goal: name === "smtp" ? 0.8 : undefined,
                load: {
                  steps: [
                    {
                      method: "POST",
                      path: "/email/send",
                      headers: { "content-type": "application/json" },
                      body: JSON.stringify(MAIL),
                    },
                  ],
                },
                direct: { service: "email", backend, op: "send" },
              }),
            );
          }
        } finally {
          await side.stop();
          await limit.stop();
        }
      }
    } finally {
      await smtp.stop();
    }
    return rows;
  },
};
export default suite;
