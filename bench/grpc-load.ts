/**
 * A gRPC load generator run as a child process (`node --import tsx bench/grpc-load.ts <json>`), so that the
 * client and the sidecar each get a core, as autocannon and the server do for the HTTP cases. Prints one JSON
 * line: the LoadResult of `loop`.
 */
import * as net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { KvService } from "../gen/mikcar/kv/v1/kv_pb.js";
import { loop } from "./lib.js";

export interface GrpcLoadSpec {
  /** `http://host:port`, or a Unix socket path in `socket`. */
  baseUrl: string;
  socket?: string;
  op: "get" | "set";
  durationSec: number;
}

const spec = JSON.parse(process.argv[2]!) as GrpcLoadSpec;
const transport = createGrpcTransport({
  baseUrl: spec.baseUrl,
  nodeOptions: spec.socket ? { createConnection: () => net.connect(spec.socket!) } : undefined,
});
const kv = createClient(KvService, transport);
const value = new TextEncoder().encode("hello");
const op = spec.op === "get" ? () => kv.get({ key: "bench" }) : () => kv.set({ key: "bench", value });
await op(); // connect before the clock starts
console.log(JSON.stringify(await loop(op, spec.durationSec)));
process.exit(0);
