/**
 * Storage on the file backend over REST: PUT and GET of 1 KiB and 8 MiB objects and a list page, each against
 * the limit (bench/limits/storage.ts: the same fs calls with the same durability — fdatasync, rename, directory
 * fsync) with `population` other objects present in the same directory. Then one 1 GiB object streamed up and
 * down through each server, reporting peak RSS: the object must never be held in memory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measure, wanted, type BenchRow, type BenchSuite } from "../lib.js";
import type { LoadResult } from "../load.js";
import { resetPeak, rssMiB, startBenchProcess, startSidecarProcess, type BenchServer } from "../servers.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const SLOTS = 64;

function request(url: string, method: string, body?: AsyncIterable<Buffer>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      let n = 0;
      res.on("data", (c: Buffer) => (n += c.length));
      res.on("end", () => (res.statusCode! < 300 ? resolve(n) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (!body) return void req.end();
    (async () => {
      for await (const c of body) if (!req.write(c)) await new Promise((r) => req.once("drain", r));
      req.end();
    })().catch(reject);
  });
}

async function put(url: string, body: Buffer) {
  const res = await fetch(url, { method: "PUT", body: new Uint8Array(body) });
  if (res.status !== 201) throw new Error(`PUT ${url}: ${res.status} ${await res.text()}`);
}

/** One 1 GiB PUT then GET through `server`; MB/s over both, as a LoadResult so it prints like the rest. */
async function huge(server: BenchServer): Promise<LoadResult> {
  const block = Buffer.alloc(MiB, 0x33);
  async function* gib() {
    for (let sent = 0; sent < 1024 * MiB; sent += block.length) yield block;
  }
  const t0 = performance.now();
  await request(`${server.url}/storage/object/huge/one`, "PUT", gib());
  const got = await request(`${server.url}/storage/object/huge/one`, "GET");
  const secs = (performance.now() - t0) / 1000;
  return { rps: got === 1024 * MiB ? 2 / secs : 0, ops: 2, p50Ms: NaN, p99Ms: NaN, errors: got === 1024 * MiB ? 0 : 1 };
}

/** `n` 1 KiB objects b/p0 … written straight to disk, so they are present without costing an upload each. */
function populate(root: string, n: number) {
  mkdirSync(join(root, "b"), { recursive: true });
  const data = Buffer.alloc(KiB, 0x41);
  for (let i = 0; i < n; i++) writeFileSync(join(root, "b", `p${i}`), data);
}

const suite: BenchSuite = {
  name: "storage",
  async run({ durationSec, connections, population }) {
    const rows: Array<BenchRow | undefined> = [];
    const work = mkdtempSync(join(tmpdir(), "mikcar-bench-storage-"));
    const [sideRoot, limitRoot] = [join(work, "store"), join(work, "limit")];
    populate(sideRoot, population);
    populate(limitRoot, population);
    const side = await startSidecarProcess(["--storage", "--storage-url", `file://${sideRoot}`]);
    const limit = await startBenchProcess("./limits/storage.ts", [`file://${limitRoot}`]);
    const common = { suite: "storage", durationSec, population, limit: limit, sidecar: side, unit: "MB/s" };
    try {
      const kib = Buffer.alloc(KiB, 0x5a);
      const big = Buffer.alloc(8 * MiB, 0x5a);
      // The objects the GET rows read, written through each server so the sidecar has its metadata.
      for (const server of [side, limit]) {
        for (let i = 0; i < SLOTS; i++) await put(`${server.url}/storage/object/b/o${i}`, kib);
        for (let i = 0; i < 4; i++) await put(`${server.url}/storage/object/big/o${i}`, big);
      }
      for (const conns of connections) {
        const at = { ...common, connections: conns, per: KiB / 1e6 };
        rows.push(
          await measure({
            ...at,
            name: "PUT 1KiB",
            goal: 0.8,
            load: { keys: SLOTS, steps: [{ method: "PUT", path: "/storage/object/b/o{i}", body: kib }] },
            direct: { service: "storage", backend: `file://${limitRoot}`, op: "put1k" },
          }),
        );
        rows.push(
          await measure({
            ...at,
            name: "GET 1KiB",
            goal: 0.8,
            load: { keys: SLOTS, steps: [{ method: "GET", path: "/storage/object/b/o{i}" }] },
            direct: { service: "storage", backend: `file://${limitRoot}`, op: "get1k" },
          }),
        );
        // A list page reads the whole directory: at 256 connections the backlog outlives the run and spills into
        // the next case, so lists run at 32 connections at most.
        if (conns > 32) continue;
        rows.push(
          await measure({
            ...at,
            name: "list page of 100",
            unit: "req/s",
            per: 1,
            load: { steps: [{ method: "GET", path: "/storage/list/b?limit=100" }] },
          }),
        );
      }
      // Large objects: 4 connections whatever the scale (256 × 8 MiB in flight measures the page cache).
      const at = { ...common, connections: 4, per: (8 * MiB) / 1e6 };
      rows.push(
        await measure({
          ...at,
          name: "PUT 8MiB",
          goal: 0.9,
          load: { keys: 4, steps: [{ method: "PUT", path: "/storage/object/big/o{i}", body: big }] },
        }),
      );
      rows.push(
        await measure({
          ...at,
          name: "GET 8MiB",
          goal: 0.9,
          load: { keys: 4, steps: [{ method: "GET", path: "/storage/object/big/o{i}" }] },
        }),
      );

      if (!wanted("1 GiB PUT+GET streamed")) return rows;
      const idle = { sidecar: rssMiB(side.pid, "VmRSS"), limit: rssMiB(limit.pid, "VmRSS") };
      // Peak RSS from here on only (the 8 MiB rows above had up to 4 × 8 MiB in flight).
      resetPeak(side.pid);
      resetPeak(limit.pid);
      const limitHuge = await huge(limit);
      const sideHuge = await huge(side);
      const peak = { sidecar: rssMiB(side.pid, "VmHWM"), limit: rssMiB(limit.pid, "VmHWM") };
      rows.push({
        suite: "storage",
        name: "1 GiB PUT+GET streamed",
        unit: "MB/s",
        per: (1024 * MiB) / 1e6,
        connections: 1,
        limit: limitHuge,
        sidecar: sideHuge,
        goal: 0.9,
        note: `peak RSS (VmHWM) sidecar ${peak.sidecar.toFixed(0)} MiB (idle ${idle.sidecar.toFixed(0)}), limit ${peak.limit.toFixed(0)} MiB (idle ${idle.limit.toFixed(0)})`,
      });
    } finally {
      await side.stop();
      await limit.stop();
      rmSync(work, { recursive: true, force: true });
    }
    return rows;
  },
};
export default suite;
