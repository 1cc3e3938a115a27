/**
 * The RPC path against the servers a user could pick instead, each in its own process, load from its own
 * process: gRPC unary KV Get/Set vs a plain grpc-js server doing the same Map lookup; Connect unary (binary and
 * JSON) over h2c vs bare node:http2 and over HTTP/1.1 vs the KV limit server (bare node:http doing the same
 * lookup); gRPC-Web vs Connect; server streams (a 1 MiB Download, a queue Stream) vs bare node:http2 writing the
 * same bytes; REST GET vs the limit (no regression).
 *
 * HTTP/2 load is h2load (Debian `nghttp2-client`, 8 connections × 16 streams), HTTP/1.1 load wrk; neither can
 * reach a Unix socket, so every row is TCP (the protocol tests cover the socket). Each row runs its baseline
 * (column b) and the sidecar (c) in alternating slices; server CPU per operation is read from /proc.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { GetRequestSchema, SetRequestSchema } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { PublishRequestSchema, StreamRequestSchema } from "../../gen/mikcar/queue/v1/queue_pb.js";
import { DownloadRequestSchema } from "../../gen/mikcar/storage/v1/storage_pb.js";
import { type BenchRow, type BenchSuite, wanted } from "../lib.js";
import { type LoadResult, type Step, wrk } from "../load.js";
import { h2load, hasH2load } from "../rpc/h2load.js";
import { paired } from "../rpc/paired.js";
import { readGrpcStream } from "../rpc/stream-client.js";
import { cpuSeconds, startBenchProcess, startSidecarProcess } from "../servers.js";

const BLOB = 1 << 20;
const KV = "/mikcar.kv.v1.KvService";
const GRPC = { "content-type": "application/grpc", te: "trailers" };
const GRPC_WEB = { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" };
const PROTO = { "content-type": "application/proto" };
const JSON_CT = { "content-type": "application/json" };

function envelope(msg: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

const getMsg = toBinary(GetRequestSchema, create(GetRequestSchema, { key: "bench" }));
const setMsg = toBinary(SetRequestSchema, create(SetRequestSchema, { key: "bench", value: Buffer.from("hello") }));
const downloadMsg = toBinary(DownloadRequestSchema, create(DownloadRequestSchema, { path: "bench.bin" }));

type Run = (durationSec: number) => Promise<LoadResult>;

/** wrk against one server, with that server's CPU time per request. */
const h1 =
  (url: string, pid: number, steps: Step[], connections: number): Run =>
  async (durationSec) => {
    const before = cpuSeconds(pid);
    const r = await wrk({ url, steps, connections, durationSec });
    return { ...r, cpuUs: r.ops > 0 ? ((cpuSeconds(pid) - before) * 1e6) / r.ops : undefined };
  };

const suite: BenchSuite = {
  name: "rpc",
  async run({ durationSec, connections }) {
    if (!(await hasH2load())) throw new Error("h2load not found (Debian package nghttp2-client)");
    const rows: Array<BenchRow | undefined> = [];
    const conns = connections[0] ?? 32;
    const d = durationSec;
    const row = async (
      name: string,
      base: Run,
      subject: Run,
      more: Partial<Pick<BenchRow, "goal" | "goalVs" | "note" | "unit" | "per" | "connections">>,
    ) => {
      if (!wanted(name)) return;
      const [limit, sidecar] = await paired(d, base, subject);
      const r: BenchRow = { suite: "rpc", name, limit, sidecar, ...more, unit: more.unit ?? "req/s" };
      console.error(
        `#   ${name}: ${(sidecar.rps / limit.rps).toFixed(2)} (cpu b÷c ${((limit.cpuUs ?? NaN) / (sidecar.cpuUs ?? NaN)).toFixed(2)})`,
      );
      rows.push(r);
    };

    const side = await startSidecarProcess([
      ...["--kv", "--kv-url", "memory://"],
      ...["--storage", "--storage-url", "memory://"],
      ...["--queue", "--queue-url", "memory://"],
    ]);
    const grpcJs = await startBenchProcess("./rpc/grpc-js-server.ts");
    const bare2 = await startBenchProcess("./rpc/bare-http2-server.ts", [String(BLOB), String(256 << 10)]);
    const limit = await startBenchProcess("./limits/kv.ts", ["memory://"]);
    try {
      await fetch(`${side.url}/kv/set/bench`, { method: "POST", body: "hello" });
      await fetch(`${limit.url}/kv/set/bench`, { method: "POST", body: "hello" });
      await fetch(`${side.url}/storage/object/bench.bin`, { method: "PUT", body: Buffer.alloc(BLOB, 7) });
      const h2 =
        (
          server: { url: string; pid: number },
          path: string,
          body: Uint8Array,
          headers: Record<string, string>,
          more = {},
        ): Run =>
        (durationSec) =>
          h2load({ url: `${server.url}${path}`, body, headers, durationSec, serverPid: server.pid, ...more });
      const h2c = { connections: 8 * 16, note: "h2load: 8 connections × 16 streams" };
      // A fresh process compiles its hot paths under its first seconds of load: keep that out of the figures
      // (the first row used to read half of the second for the sidecar).
      for (const [server, path, body, headers] of [
        [grpcJs, `${KV}/Get`, envelope(getMsg), GRPC],
        [side, `${KV}/Get`, envelope(getMsg), GRPC],
        [side, `${KV}/Get`, getMsg, PROTO],
        [side, `${KV}/Get`, envelope(getMsg), GRPC_WEB],
        [bare2, `${KV}/Get`, envelope(getMsg), GRPC],
      ] as const)
        await h2(server, path, body, headers)(2);

      // gRPC unary: grpc-js doing the same Map lookup is the bar; bare http2 with a fixed reply the ceiling.
      for (const [m, msg] of [
        ["Get", getMsg],
        ["Set", setMsg],
      ] as const) {
        await row(
          `gRPC ${m} vs grpc-js`,
          h2(grpcJs, `${KV}/${m}`, envelope(msg), GRPC),
          h2(side, `${KV}/${m}`, envelope(msg), GRPC),
          {
            ...h2c,
            goal: 1,
          },
        );
      }
      await row(
        "gRPC Get vs bare http2",
        h2(bare2, `${KV}/Get`, envelope(getMsg), GRPC),
        h2(side, `${KV}/Get`, envelope(getMsg), GRPC),
        h2c,
      );
      // Connect and gRPC-Web over h2c against bare node:http2 with a fixed reply.
      const bareConnect = h2(bare2, `${KV}/Get`, getMsg, PROTO);
      await row("Connect proto Get h2c", bareConnect, h2(side, `${KV}/Get`, getMsg, PROTO), { ...h2c, goal: 0.5 });
      await row("Connect JSON Get h2c", bareConnect, h2(side, `${KV}/Get`, Buffer.from('{"key":"bench"}'), JSON_CT), {
        ...h2c,
        goal: 0.5,
      });
      await row("gRPC-Web Get h2c", bareConnect, h2(side, `${KV}/Get`, envelope(getMsg), GRPC_WEB), {
        ...h2c,
        goal: 0.9,
        goalVs: "Connect proto Get h2c",
      });

      // HTTP/1.1 (wrk): REST, Connect and gRPC-Web against the KV limit server (bare node:http, same lookup; its
      // Connect path speaks JSON, so it is the baseline of the binary rows too).
      const base = h1(limit.url, limit.pid, [{ method: "GET", path: "/kv/get/bench" }], conns);
      const baseConnect = h1(
        limit.url,
        limit.pid,
        [{ method: "POST", path: `${KV}/Get`, headers: JSON_CT, body: '{"key":"bench"}' }],
        conns,
      );
      const at = { connections: conns };
      await base(1); // warm-up of the limit server, as above

      const post = (headers: Record<string, string>, body: string | Buffer, path = `${KV}/Get`) =>
        h1(side.url, side.pid, [{ method: "POST", path, headers, body }], conns);
      await row("REST GET h1", base, h1(side.url, side.pid, [{ method: "GET", path: "/kv/get/bench" }], conns), {
        ...at,
        goal: 0.8,
      });
      await row("Connect JSON Get h1", baseConnect, post(JSON_CT, '{"key":"bench"}'), { ...at, goal: 0.5 });
      await row("Connect proto Get h1", baseConnect, post(PROTO, Buffer.from(getMsg)), { ...at, goal: 0.5 });
      await row("gRPC-Web Get h1", baseConnect, post(GRPC_WEB, envelope(getMsg)), {
        ...at,
        goal: 0.9,
        goalVs: "Connect proto Get h1",
      });

      // Server streaming: a 1 MiB Download (256 KiB messages, as the memory backend reads) vs the same bytes
      // written by bare node:http2. Fewer streams: each response is large.
      const big = { connections: 4, streams: 4 };
      await row(
        "gRPC Download 1 MiB",
        h2(bare2, "/stream", envelope(downloadMsg), GRPC, big),
        h2(side, "/mikcar.storage.v1.StorageService/Download", envelope(downloadMsg), GRPC, big),
        { unit: "MB/s", per: BLOB / 1e6, connections: 16, goal: 0.8, note: "h2load: 4 connections × 4 streams" },
      );

      // queue Stream: QUEUED messages published first, then read by one stream as fast as it delivers them,
      // against bare node:http2 writing as many envelopes of the same size; messages per second.
      if (wanted("gRPC queue Stream")) {
        const QUEUED = 20_000;
        const publish = toBinary(
          PublishRequestSchema,
          create(PublishRequestSchema, { topic: "bench-t", payload: Buffer.from('{"n":1}') }),
        );
        const streamReq = toBinary(StreamRequestSchema, create(StreamRequestSchema, { topic: "bench-t" }));
        const pub = await h2load({
          url: `${side.url}/mikcar.queue.v1.QueueService/Publish`,
          body: envelope(publish),
          headers: GRPC,
          durationSec: d,
          requests: QUEUED,
        });
        if (pub.errors > 0) console.error(`# rpc/queue publish: ${pub.errors} errors`);
        const cpu0 = cpuSeconds(side.pid);
        const ours = await readGrpcStream(side.url, "/mikcar.queue.v1.QueueService/Stream", streamReq, QUEUED);
        const oursCpu = cpuSeconds(side.pid) - cpu0;
        const size = Math.round(ours.bytes / Math.max(1, ours.messages)) - 5;
        const cpu1 = cpuSeconds(bare2.pid);
        const bare = await readGrpcStream(bare2.url, `/messages/${QUEUED}/${size}`, new Uint8Array(0), QUEUED);
        const bareCpu = cpuSeconds(bare2.pid) - cpu1;
        const asLoad = (r: typeof ours, cpu: number): LoadResult => ({
          rps: r.messages / r.seconds,
          ops: r.messages,
          p50Ms: 0,
          p99Ms: 0,
          errors: r.messages < QUEUED ? QUEUED - r.messages : 0,
          cpuUs: r.messages > 0 ? (cpu * 1e6) / r.messages : undefined,
        });
        rows.push({
          suite: "rpc",
          name: "gRPC queue Stream",
          unit: "msg/s",
          connections: 1,
          limit: asLoad(bare, bareCpu),
          sidecar: asLoad(ours, oursCpu),
          goal: 0.8,
          note: `${QUEUED} messages of ${size} B on one stream, published first`,
        });
      }
    } finally {
      await Promise.all([side.stop(), grpcJs.stop(), bare2.stop(), limit.stop()]);
    }
    return rows;
  },
};
export default suite;
