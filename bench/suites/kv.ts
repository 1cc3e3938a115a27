/**
 * KV get/set on the memory backend over REST (HTTP/1.1 keep-alive), Connect and gRPC, over TCP and a Unix
 * socket, beside a bare node:http server answering a fixed body (the baseline) measured in the same run.
 */
import * as net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { KvService } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { load, loop, type BenchRow, type BenchSuite } from "../lib.js";
import { startBaselineServer, startSidecarProcess } from "../servers.js";

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
      add("REST SET tcp", await load({ url: `${side.url}/kv/set/bench`, method: "POST", body: "hello", duration }), "baseline node:http tcp");
      add("baseline node:http unix", await load({ url: "http://localhost/", socketPath: base.socket, duration }), "baseline node:http unix");
      add("REST GET unix", await load({ url: "http://localhost/kv/get/bench", socketPath: side.socket, duration }), "baseline node:http unix");

      // Connect unary is a plain JSON POST, so autocannon measures the server's RPC path directly.
      const connect = { method: "POST" as const, headers: { "content-type": "application/json" }, body: '{"key":"bench"}' };
      add("Connect GET tcp", await load({ url: `${side.url}/mikcar.kv.v1.KvService/Get`, ...connect, duration }), "baseline node:http tcp");
      add("Connect GET unix", await load({ url: "http://localhost/mikcar.kv.v1.KvService/Get", socketPath: side.socket, ...connect, duration }), "baseline node:http unix");

      // gRPC needs HTTP/2, which autocannon lacks: these clients run in this process, so the figures include the
      // client's own cost (connect-node's gRPC client is about as heavy as its server).
      const rpc = {
        "gRPC GET tcp (in-process client)": createGrpcTransport({ baseUrl: side.url }),
        "gRPC GET unix (in-process client)": createGrpcTransport({ baseUrl: "http://localhost", nodeOptions: { createConnection: () => net.connect(side.socket) } }),
      };
      for (const [name, transport] of Object.entries(rpc)) {
        const kv = createClient(KvService, transport);
        add(name, await loop(() => kv.get({ key: "bench" }), duration), name.includes("unix") ? "baseline node:http unix" : "baseline node:http tcp");
      }
      const kv = createClient(KvService, rpc["gRPC GET tcp (in-process client)"]);
      add("gRPC SET tcp (in-process client)", await loop(() => kv.set({ key: "bench", value: new TextEncoder().encode("hello") }), duration), "baseline node:http tcp");
    } finally {
      await side.stop();
      await base.stop();
    }
    return rows;
  },
};
export default suite;
