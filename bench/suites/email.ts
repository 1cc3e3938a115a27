/**
 * Email sending: single sends over REST to memory:// (baseline), then to a real SMTP server on loopback
 * (pooled), and batches of 50 to SMTP reported as emails/s — the batch's concurrency against one-by-one.
 */
import { startSmtp } from "../../test/email/smtp-server.js";
import { startSidecar } from "../../test/helpers/sidecar.js";
import { load, loop, type BenchRow, type BenchSuite } from "../lib.js";

const mail = { from: "a@example.com", to: ["b@example.com"], subject: "bench", text: "hello" };
const json = { "content-type": "application/json" };

const suite: BenchSuite = {
  name: "email",
  async run({ durationSec }) {
    const smtp = await startSmtp();
    const mem = await startSidecar({ services: { email: "memory://" } });
    const real = await startSidecar({ services: { email: `smtp://127.0.0.1:${smtp.port}?starttls=off` } });
    try {
      const rows: BenchRow[] = [];
      const send = (url: string) =>
        load({
          url: url + "/email/send",
          method: "POST",
          headers: json,
          body: JSON.stringify(mail),
          duration: durationSec,
          connections: 8,
        });
      const m = await send(mem.url);
      rows.push({
        suite: "email",
        name: "send memory",
        value: m.rps,
        unit: "emails/s",
        p50Ms: m.p50Ms,
        p99Ms: m.p99Ms,
      });
      const s = await send(real.url);
      rows.push({
        suite: "email",
        name: "send smtp",
        value: s.rps,
        unit: "emails/s",
        p50Ms: s.p50Ms,
        p99Ms: s.p99Ms,
        baseline: "send memory",
      });
      const batch = JSON.stringify({ emails: Array.from({ length: 50 }, () => mail) });
      const b = await loop(
        () =>
          fetch(real.url + "/email/send/batch", { method: "POST", headers: json, body: batch }).then((r) =>
            r.arrayBuffer(),
          ),
        durationSec,
        2,
      );
      rows.push({
        suite: "email",
        name: "batch-50 smtp",
        value: b.rps * 50,
        unit: "emails/s",
        p50Ms: b.p50Ms,
        p99Ms: b.p99Ms,
        baseline: "send smtp",
      });
      return rows;
    } finally {
      await mem.close();
      await real.close();
      await smtp.close();
    }
  },
};
export default suite;
