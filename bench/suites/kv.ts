/**
 * KV get/set on the memory backend over REST (HTTP/1.1 keep-alive), Connect and gRPC, over TCP and a Unix
 * socket, beside a bare node:http server answering a fixed body (the baseline) measured in the same run.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { KvService } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { load, loop, type BenchRow, type BenchSuite, type LoadResult } from "../lib.js";
import type { GrpcLoadSpec } from "../grpc-load.js";
import { startBaselineServer, startSidecarProcess } from "../servers.js";

/** Runs bench/grpc-load.ts in a child process (through tsx, as the bench itself runs) and returns its result. */
function runGrpcLoad(spec: GrpcLoadSpec): Promise<LoadResult> {
  const script = fileURLToPath(new URL("../grpc-load.ts", import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", script, JSON.stringify(spec)], (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout.trim().split("\n").at(-1)!) as LoadResult);
    });
  });
}

const suite: BenchSuite = {
  name: "kv",
  async run({ durationSec }) {
    const rows: BenchRow[] = [];
    const add = (name: string, r: { rps: number; p50Ms: number; p99Ms: number; errors: number }, baseline: string) => {
      if (r.errors > 0) console.error(`# kv/${name}: ${r.errors} errors`);
      rows.push({ suite: "kv", name, value: r.rps, unit: "req/s", p50Ms: r.p50Ms, p99Ms: r.p99Ms, baseline });
    };
    const base = await startBaselineServer();
    const side = await startSidecarProcess(["--kv", "--kv-url", "memory://"]);
    try {
      await fetch(`${side.url}/kv/set/bench`, { method: "POST", body: "hello" });
      const duration = durationSec;
      add("baseline node:http tcp", await load({ url: base.url, duration }), "baseline node:http tcp");
      add("REST GET tcp", await load({ url: `${side.url}/kv/get/bench`, duration }), "baseline node:http tcp");
      add(
        "REST SET tcp",
        await load({ url: `${side.url}/kv/set/bench`, method: "POST", body: "hello", duration }),
        "baseline node:http tcp",
      );
      add(
        "baseline node:http unix",
        await load({ url: "http://localhost/", socketPath: base.socket, duration }),
        "baseline node:http unix",
      );
      add(
        "REST GET unix",
        await load({ url: "http://localhost/kv/get/bench", socketPath: side.socket, duration }),
        "baseline node:http unix",
      );
      add(
        "REST SET unix",
        await load({
          url: "http://localhost/kv/set/bench",
          method: "POST",
          body: "hello",
          socketPath: side.socket,
          duration,
        }),
        "baseline node:http unix",
      );

      // Connect unary is a plain JSON POST, so autocannon measures the server's RPC path directly.
      const connect = {
        method: "POST" as const,
        headers: { "content-type": "application/json" },
        body: '{"key":"bench"}',
      };
      add(
        "Connect GET tcp",
        await load({ url: `${side.url}/mikcar.kv.v1.KvService/Get`, ...connect, duration }),
        "baseline node:http tcp",
      );
      add(
        "Connect GET unix",
        await load({
          url: "http://localhost/mikcar.kv.v1.KvService/Get",
          socketPath: side.socket,
          ...connect,
          duration,
        }),
        "baseline node:http unix",
      );
      const connectSet = { ...connect, body: '{"key":"bench","value":"aGVsbG8="}' };
      add(
        "Connect SET tcp",
        await load({ url: `${side.url}/mikcar.kv.v1.KvService/Set`, ...connectSet, duration }),
        "baseline node:http tcp",
      );
      add(
        "Connect SET unix",
        await load({
          url: "http://localhost/mikcar.kv.v1.KvService/Set",
          socketPath: side.socket,
          ...connectSet,
          duration,
        }),
        "baseline node:http unix",
      );

      // gRPC needs HTTP/2, which autocannon lacks. The client is connect-node's own, as heavy as its server
      // (≈ 0.5 ms of CPU per call each), so it runs in a child process: client and server each get a core, as
      // autocannon and the server do above. Even so these rows stay client-bound (the server was seen about half
      // idle); they say more about connect-node than about us. One in-process row is kept for comparison with
      // older figures (there client and server share one event loop).
      const grpc = (op: GrpcLoadSpec["op"], tcp: boolean) =>
        runGrpcLoad({
          baseUrl: tcp ? side.url : "http://localhost",
          socket: tcp ? undefined : side.socket,
          op,
          durationSec: duration,
        });
      add("gRPC GET tcp (client process)", await grpc("get", true), "baseline node:http tcp");
      add("gRPC GET unix (client process)", await grpc("get", false), "baseline node:http unix");
      add("gRPC SET tcp (client process)", await grpc("set", true), "baseline node:http tcp");
      add("gRPC SET unix (client process)", await grpc("set", false), "baseline node:http unix");
      const kv = createClient(KvService, createGrpcTransport({ baseUrl: side.url }));
      add(
        "gRPC GET tcp (in-process client)",
        await loop(() => kv.get({ key: "bench" }), duration),
        "baseline node:http tcp",
      );
    } finally {
      await side.stop();
      await base.stop();
    }
    return rows;
  },
};
export default suite;
