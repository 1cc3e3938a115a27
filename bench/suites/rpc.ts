/**
 * The RPC path against the servers a user could pick instead, each in its own process, load from its own
 * process: gRPC unary KV Get/Set vs a plain grpc-js server doing the same Map lookup; Connect unary (binary and
 * JSON, HTTP/1.1 and h2c) vs bare node:http / node:http2; gRPC-Web vs Connect; a server-streaming Download vs
 * bare node:http2 writing the same bytes; REST GET vs bare node:http (no regression).
 *
 * HTTP/2 load is h2load (8 connections × 16 streams), HTTP/1.1 load autocannon. h2load has no Unix-socket mode,
 * so the Unix rows are HTTP/1.1 only. Rows named "… CPU" give calls per second of server CPU (1e6 / µs per
 * call), read from /proc around the run: contention on a shared machine moves them less than req/s.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { GetRequestSchema, SetRequestSchema } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { DownloadRequestSchema } from "../../gen/mikcar/storage/v1/storage_pb.js";
import type { BenchSuite } from "../lib.js";
import { load, type LoadResult, printRows, type RpcRow } from "../rpc/lib.js";
import { startBareHttp, startChild } from "../rpc/children.js";
import { h2load, hasH2load, type H2LoadResult } from "../rpc/h2load.js";
import { paired } from "../rpc/paired.js";
import { startSidecarProcess } from "../servers.js";

const BLOB = 1 << 20;

function envelope(msg: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

const getMsg = toBinary(GetRequestSchema, create(GetRequestSchema, { key: "bench" }));
const setMsg = toBinary(SetRequestSchema, create(SetRequestSchema, { key: "bench", value: Buffer.from("hello") }));
const downloadMsg = toBinary(DownloadRequestSchema, create(DownloadRequestSchema, { path: "bench.bin" }));
const GRPC = { "content-type": "application/grpc", te: "trailers" };
const GRPC_WEB = { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" };
const KV = "/mikcar.kv.v1.KvService";

type Run = (durationSec: number) => Promise<LoadResult | H2LoadResult>;

const suite: BenchSuite = {
  name: "rpc",
  async run({ durationSec }) {
    if (!(await hasH2load())) throw new Error("h2load not found (Debian package nghttp2-client)");
    const rows: RpcRow[] = [];
    const d = durationSec;
    const value = (r: LoadResult, mbps: boolean) => (mbps ? (r as H2LoadResult).bytesPerSec / 1e6 : r.rps);
    /**
     * One case beside its baseline, run in alternating slices. The baseline's row is printed the first time it
     * is used; each case's ratio is to the baseline slices run beside it. `… CPU` rows: calls per second of
     * server CPU (1e6 / µs per call), the ratio being baseline CPU per call over ours.
     */
    const compare = async (name: string, baseName: string, base: Run, subject: Run, mbps = false) => {
      const [b, r] = await paired(d, base, subject);
      for (const [n, x] of [
        [baseName, b],
        [name, r],
      ] as const) {
        if (x.errors > 0) console.error(`# rpc/${n}: ${x.errors} errors`);
      }
      const unit = mbps ? "MB/s" : "req/s";
      if (!rows.some((x) => x.name === baseName))
        rows.push({ suite: "rpc", name: baseName, value: value(b, mbps), unit, p50Ms: b.p50Ms, p99Ms: b.p99Ms });
      rows.push({
        suite: "rpc",
        name,
        value: value(r, mbps),
        unit,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        baseline: baseName,
        ratio: value(r, mbps) / value(b, mbps),
      });
      const cb = (b as H2LoadResult).cpuUsPerCall;
      const cr = (r as H2LoadResult).cpuUsPerCall;
      if (cb !== undefined && cr !== undefined && cb > 0 && cr > 0)
        rows.push({
          suite: "rpc",
          name: `${name} CPU`,
          value: 1e6 / cr,
          unit: "calls/cpu-s",
          baseline: `${baseName} CPU (${(1e6 / cb).toFixed(0)})`,
          ratio: cb / cr,
        });
    };

    const side = await startSidecarProcess([
      "--kv",
      "--kv-url",
      "memory://",
      "--storage",
      "--storage-url",
      "memory://",
    ]);
    const grpcJs = await startChild("./grpc-js-server.ts");
    const bare2 = await startChild("./bare-http2-server.ts", {
      BLOB_BYTES: String(BLOB),
      BLOB_CHUNK: String(256 << 10),
    });
    const bare1 = await startBareHttp();
    try {
      await fetch(`${side.url}/kv/set/bench`, { method: "POST", body: "hello" });
      await fetch(`${side.url}/storage/object/bench.bin`, { method: "PUT", body: Buffer.alloc(BLOB, 7) });
      const h2 =
        (base: string, pid: number, path: string, body: Uint8Array, headers: Record<string, string>, more = {}) =>
        (durationSec: number) =>
          h2load({ url: `${base}${path}`, body, headers, durationSec, serverPid: pid, ...more });
      const S = side.url;
      const G = `http://127.0.0.1:${grpcJs.port}`;
      const B = `http://127.0.0.1:${bare2.port}`;
      const proto = { "content-type": "application/proto" };
      const json = { "content-type": "application/json" };

      // gRPC unary: grpc-js doing the same Map lookup is the bar; bare http2 the ceiling.
      for (const [m, msg] of [
        ["Get", getMsg],
        ["Set", setMsg],
      ] as const) {
        await compare(
          `gRPC ${m} h2c`,
          `grpc-js ${m} (baseline)`,
          h2(G, grpcJs.pid, `${KV}/${m}`, envelope(msg), GRPC),
          h2(S, side.pid, `${KV}/${m}`, envelope(msg), GRPC),
        );
      }
      await compare(
        "gRPC Get h2c vs bare",
        "bare http2 gRPC (baseline)",
        h2(B, bare2.pid, `${KV}/Get`, envelope(getMsg), GRPC),
        h2(S, side.pid, `${KV}/Get`, envelope(getMsg), GRPC),
      );
      // Connect and gRPC-Web over h2c against bare node:http2 with a fixed reply.
      const bareConnect = h2(B, bare2.pid, `${KV}/Get`, getMsg, proto);
      await compare(
        "Connect proto Get h2c",
        "bare http2 Connect (baseline)",
        bareConnect,
        h2(S, side.pid, `${KV}/Get`, getMsg, proto),
      );
      await compare(
        "Connect JSON Get h2c",
        "bare http2 Connect (baseline)",
        bareConnect,
        h2(S, side.pid, `${KV}/Get`, Buffer.from('{"key":"bench"}'), json),
      );
      await compare(
        "gRPC-Web Get h2c",
        "Connect proto Get h2c (baseline)",
        h2(S, side.pid, `${KV}/Get`, getMsg, proto),
        h2(S, side.pid, `${KV}/Get`, envelope(getMsg), GRPC_WEB),
      );

      // HTTP/1.1 (autocannon): REST, Connect and gRPC-Web against bare node:http, TCP and Unix socket.
      for (const via of ["tcp", "unix"] as const) {
        const at = (path: string) =>
          via === "tcp" ? { url: `${S}${path}` } : { url: `http://localhost${path}`, socketPath: side.socket };
        const base = `bare node:http ${via} (baseline)`;
        const bare: Run = (duration) =>
          load(
            via === "tcp"
              ? { url: bare1.url, duration }
              : { url: "http://localhost/", socketPath: bare1.socket, duration },
          );
        const post =
          (path: string, headers: Record<string, string>, body: Uint8Array): Run =>
          (duration) =>
            load({ ...at(path), method: "POST", headers, body: Buffer.from(body), duration });
        await compare(`REST GET ${via}`, base, bare, (duration) => load({ ...at("/kv/get/bench"), duration }));
        await compare(`Connect proto Get h1 ${via}`, base, bare, post(`${KV}/Get`, proto, getMsg));
        await compare(
          `Connect JSON Get h1 ${via}`,
          base,
          bare,
          post(`${KV}/Get`, json, Buffer.from('{"key":"bench"}')),
        );
        await compare(
          `Connect JSON Set h1 ${via}`,
          base,
          bare,
          post(`${KV}/Set`, json, Buffer.from('{"key":"bench","value":"aGVsbG8="}')),
        );
        await compare(
          `gRPC-Web Get h1 ${via}`,
          `Connect proto Get h1 ${via} (baseline)`,
          post(`${KV}/Get`, proto, getMsg),
          post(`${KV}/Get`, GRPC_WEB, envelope(getMsg)),
        );
      }

      // Server streaming: a 1 MiB Download (256 KiB chunks, as the memory backend reads) vs the same bytes
      // written by bare node:http2. Fewer streams: each response is large.
      const big = { connections: 4, streams: 4 };
      await compare(
        "gRPC Download 1 MiB h2c",
        "bare http2 1 MiB stream (baseline)",
        h2(B, bare2.pid, "/stream", envelope(downloadMsg), GRPC, big),
        h2(S, side.pid, "/mikcar.storage.v1.StorageService/Download", envelope(downloadMsg), GRPC, big),
        true,
      );
    } finally {
      await Promise.all([side.stop(), grpcJs.stop(), bare2.stop(), bare1.stop()]);
    }
    // Its rows have their own shape (baselines beside each case, p50/p99, CPU per call): printed here.
    printRows(rows);
    return [];
  },
};
export default suite;
