/**
 * Storage on the file backend over REST (HTTP/1.1 keep-alive): PUT and GET of 1 KiB and 8 MiB objects in MB/s,
 * each beside a plain `fs` write / read of the same bytes measured in the same run. Then one 1 GiB object
 * streamed up and down, reporting the sidecar's peak RSS (VmHWM) against its idle RSS: the object must not
 * be held in memory.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loop, type BenchRow, type BenchSuite } from "../lib.js";
import { startSidecarProcess } from "../servers.js";

function rssKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) : NaN;
}

function request(
  agent: http.Agent,
  url: string,
  method: string,
  body?: Buffer | AsyncIterable<Buffer>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent }, (res) => {
      let n = 0;
      res.on("data", (c: Buffer) => (n += c.length));
      res.on("end", () => (res.statusCode! < 300 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body === undefined || Buffer.isBuffer(body)) {
      if (body) req.setHeader("content-length", body.length);
      req.end(body);
      return;
    }
    (async () => {
      for await (const c of body) if (!req.write(c)) await new Promise((r) => req.once("drain", r));
      req.end();
    })().catch(reject);
  });
}

const suite: BenchSuite = {
  name: "storage",
  async run({ durationSec }) {
    const rows: BenchRow[] = [];
    const work = mkdtempSync(join(tmpdir(), "mikcar-bench-storage-"));
    const side = await startSidecarProcess(["--storage", "--storage-url", `file://${join(work, "store")}`]);
    const plain = join(work, "plain");
    await fs.mkdir(plain);
    try {
      for (const [label, size, concurrency] of [
        ["1KiB", 1024, 16],
        ["8MiB", 8 * 1024 * 1024, 4],
      ] as const) {
        const data = Buffer.alloc(size, 0x5a);
        const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
        const add = (
          name: string,
          r: { rps: number; p50Ms: number; p99Ms: number; errors: number },
          baseline: string,
        ) => {
          if (r.errors > 0) console.error(`# storage/${name}: ${r.errors} errors`);
          rows.push({
            suite: "storage",
            name,
            value: (r.rps * size) / 1e6,
            unit: "MB/s",
            p50Ms: r.p50Ms,
            p99Ms: r.p99Ms,
            baseline,
          });
        };
        let i = 0;
        const slot = () => `o${i++ % 64}`;
        const fsPut = `fs writeFile ${label}`;
        const fsGet = `fs readFile ${label}`;
        add(fsPut, await loop(() => fs.writeFile(join(plain, slot()), data), durationSec, concurrency), fsPut);
        add(
          `REST PUT ${label}`,
          await loop(
            () => request(agent, `${side.url}/storage/object/b/${slot()}`, "PUT", data),
            durationSec,
            concurrency,
          ),
          fsPut,
        );
        add(fsGet, await loop(() => fs.readFile(join(plain, slot())), durationSec, concurrency), fsGet);
        add(
          `REST GET ${label}`,
          await loop(() => request(agent, `${side.url}/storage/object/b/${slot()}`, "GET"), durationSec, concurrency),
          fsGet,
        );
        agent.destroy();
      }

      const GiB = 1024 ** 3;
      const idle = rssKiB(side.pid, "VmRSS");
      const block = Buffer.alloc(1024 * 1024, 0x33);
      async function* gib() {
        for (let sent = 0; sent < GiB; sent += block.length) yield block;
      }
      const agent = new http.Agent({ keepAlive: false });
      const t0 = performance.now();
      await request(agent, `${side.url}/storage/object/huge`, "PUT", gib());
      const got = await request(agent, `${side.url}/storage/object/huge`, "GET");
      const secs = (performance.now() - t0) / 1000;
      if (got !== GiB) throw new Error(`1 GiB GET returned ${got} bytes`);
      const peak = rssKiB(side.pid, "VmHWM");
      rows.push({ suite: "storage", name: "sidecar idle RSS", value: idle / 1024, unit: "MiB" });
      rows.push({
        suite: "storage",
        name: "sidecar peak RSS, 1 GiB PUT+GET",
        value: peak / 1024,
        unit: "MiB",
        baseline: "sidecar idle RSS",
      });
      rows.push({ suite: "storage", name: "1 GiB PUT+GET streamed", value: (2 * GiB) / 1e6 / secs, unit: "MB/s" });
    } finally {
      await side.stop();
      rmSync(work, { recursive: true, force: true });
    }
    return rows;
  },
};
export default suite;
