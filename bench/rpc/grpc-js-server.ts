/**
 * Baseline: a plain @grpc/grpc-js server doing the same work as the sidecar's KV memory backend (a Map lookup
 * for Get, a Map write for Set), loaded from the same .proto with proto-loader.
 * Run as its own process: `node --import tsx bench/rpc/grpc-js-server.ts`; prints `listening <port>`.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const protoDir = fileURLToPath(new URL("../../proto/", import.meta.url));
const defs = protoLoader.loadSync(["mikcar/kv/v1/kv.proto"], {
  includeDirs: [protoDir],
  longs: String,
});
const pkg = grpc.loadPackageDefinition(defs) as unknown as {
  mikcar: {
    kv: { v1: { KvService: grpc.ServiceClientConstructor } };
  };
};
const map = new Map<string, Buffer>([["bench", Buffer.from("hello")]]);

type Unary = grpc.handleUnaryCall<{ key: string; value?: Buffer }, object>;
const get: Unary = (call, cb) => {
  const value = map.get(call.request.key);
  if (value === undefined) cb({ code: grpc.status.NOT_FOUND, details: `key not found: ${call.request.key}` });
  else cb(null, { value });
};
const set: Unary = (call, cb) => {
  map.set(call.request.key, call.request.value ?? Buffer.alloc(0));
  cb(null, {});
};
const server = new grpc.Server();
server.addService(pkg.mikcar.kv.v1.KvService.service, { get, set });
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`listening ${port}`);
});
