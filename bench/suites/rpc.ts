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
import { load, type BenchRow, type BenchSuite, type LoadResult } from "../lib.js";
import { startChild } from "../rpc/children.js";
import { h2load, hasH2load, type H2LoadResult } from "../rpc/h2load.js";
import { startBaselineServer, startSidecarProcess } from "../servers.js";

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

const suite: BenchSuite = {
  name: "rpc",
  async run({ durationSec }) {
    if (!(await hasH2load())) throw new Error("h2load not found (Debian package nghttp2-client)");
    const rows: BenchRow[] = [];
    const add = (name: string, r: LoadResult, baseline: string, unit = "req/s", value = r.rps) => {
      if (r.errors > 0) console.error(`# rpc/${name}: ${r.errors} errors`);
      rows.push({ suite: "rpc", name, value, unit, p50Ms: r.p50Ms, p99Ms: r.p99Ms, baseline });
    };
    const addH2 = (name: string, r: H2LoadResult, baseline: string) => {
      add(name, r, baseline);
      if (r.cpuUsPerCall !== undefined)
        rows.push({
          suite: "rpc",
          name: `${name} CPU`,
          value: 1e6 / r.cpuUsPerCall,
          unit: "calls/cpu-s",
          baseline: `${baseline} CPU`,
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
    const bare1 = await startBaselineServer();
    try {
      await fetch(`${side.url}/kv/set/bench`, { method: "POST", body: "hello" });
      await fetch(`${side.url}/storage/object/bench.bin`, { method: "PUT", body: Buffer.alloc(BLOB, 7) });
      const d = durationSec;
      const sideH2 = (path: string, body: Uint8Array, headers: Record<string, string>) =>
        h2load({ url: `${side.url}${path}`, body, headers, durationSec: d, serverPid: side.pid });

      // gRPC unary: grpc-js is the bar.
      const gjs = (path: string, body: Uint8Array) =>
        h2load({
          url: `http://127.0.0.1:${grpcJs.port}${path}`,
          body,
          headers: GRPC,
          durationSec: d,
          serverPid: grpcJs.pid,
        });
      addH2("grpc-js Get (baseline)", await gjs(`${KV}/Get`, envelope(getMsg)), "grpc-js Get (baseline)");
      addH2("gRPC Get h2c", await sideH2(`${KV}/Get`, envelope(getMsg), GRPC), "grpc-js Get (baseline)");
      addH2("grpc-js Set (baseline)", await gjs(`${KV}/Set`, envelope(setMsg)), "grpc-js Set (baseline)");
      addH2("gRPC Set h2c", await sideH2(`${KV}/Set`, envelope(setMsg), GRPC), "grpc-js Set (baseline)");

      // The same over h2c against bare node:http2 with a fixed reply.
      const bareH2 = (headers: Record<string, string>, body: Uint8Array, path = `${KV}/Get`) =>
        h2load({ url: `http://127.0.0.1:${bare2.port}${path}`, body, headers, durationSec: d, serverPid: bare2.pid });
      addH2("bare http2 gRPC (baseline)", await bareH2(GRPC, envelope(getMsg)), "bare http2 gRPC (baseline)");
      rows.push({
        ...rows.find((r) => r.name === "gRPC Get h2c")!,
        name: "gRPC Get h2c vs bare",
        baseline: "bare http2 gRPC (baseline)",
      });
      const proto = { "content-type": "application/proto" };
      const json = { "content-type": "application/json" };
      addH2("bare http2 Connect (baseline)", await bareH2(proto, getMsg), "bare http2 Connect (baseline)");
      addH2("Connect proto Get h2c", await sideH2(`${KV}/Get`, getMsg, proto), "bare http2 Connect (baseline)");
      addH2(
        "Connect JSON Get h2c",
        await sideH2(`${KV}/Get`, Buffer.from('{"key":"bench"}'), json),
        "bare http2 Connect (baseline)",
      );
      addH2("gRPC-Web Get h2c", await sideH2(`${KV}/Get`, envelope(getMsg), GRPC_WEB), "Connect proto Get h2c");

      // HTTP/1.1: Connect and gRPC-Web against bare node:http, TCP and Unix socket.
      for (const via of ["tcp", "unix"] as const) {
        const at = (path: string) =>
          via === "tcp" ? { url: `${side.url}${path}` } : { url: `http://localhost${path}`, socketPath: side.socket };
        const base = `bare node:http ${via} (baseline)`;
        add(
          base,
          await load(
            via === "tcp"
              ? { url: bare1.url, duration: d }
              : { url: "http://localhost/", socketPath: bare1.socket, duration: d },
          ),
          base,
        );
        add(`REST GET ${via}`, await load({ ...at("/kv/get/bench"), duration: d }), base);
        const post = (headers: Record<string, string>, body: Buffer) => ({
          method: "POST" as const,
          headers,
          body,
          duration: d,
        });
        add(
          `Connect proto Get h1 ${via}`,
          await load({ ...at(`${KV}/Get`), ...post(proto, Buffer.from(getMsg)) }),
          base,
        );
        add(
          `Connect JSON Get h1 ${via}`,
          await load({ ...at(`${KV}/Get`), ...post(json, Buffer.from('{"key":"bench"}')) }),
          base,
        );
        add(
          `Connect JSON Set h1 ${via}`,
          await load({ ...at(`${KV}/Set`), ...post(json, Buffer.from('{"key":"bench","value":"aGVsbG8="}')) }),
          base,
        );
        add(
          `gRPC-Web Get h1 ${via}`,
          await load({ ...at(`${KV}/Get`), ...post(GRPC_WEB, envelope(getMsg)) }),
          `Connect proto Get h1 ${via}`,
        );
      }

      // Server streaming: a 1 MiB Download (256 KiB chunks, as the memory backend reads) vs the same bytes
      // written by bare node:http2. Fewer streams: each response is large.
      const big = { connections: 4, streams: 4 };
      const bareDl = await h2load({
        url: `http://127.0.0.1:${bare2.port}/stream`,
        body: envelope(downloadMsg),
        headers: GRPC,
        durationSec: d,
        ...big,
      });
      add(
        "bare http2 1 MiB stream (baseline)",
        bareDl,
        "bare http2 1 MiB stream (baseline)",
        "MB/s",
        bareDl.bytesPerSec / 1e6,
      );
      const dl = await h2load({
        url: `${side.url}/mikcar.storage.v1.StorageService/Download`,
        body: envelope(downloadMsg),
        headers: GRPC,
        durationSec: d,
        ...big,
      });
      add("gRPC Download 1 MiB h2c", dl, "bare http2 1 MiB stream (baseline)", "MB/s", dl.bytesPerSec / 1e6);
    } finally {
      await Promise.all([side.stop(), grpcJs.stop(), bare2.stop(), bare1.stop()]);
    }
    return rows;
  },
};
export default suite;
