/**
 * A client process that opens server streams and then misbehaves, for the abandoned-stream tests:
 * `node --import tsx stream-client.ts <url> <watches> <streams> <watchPrefix> <topic> <group> [paused]`.
 * One HTTP/2 session per stream. With `paused` it never reads what the server sends (a tiny flow-control window
 * fills up at once). Prints "opened" when every request is sent; the test then kills or stops this process.
 */
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { WatchRequestSchema } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { StreamRequestSchema } from "../../gen/mikcar/queue/v1/queue_pb.js";

const [url, watches, streams, prefix, topic, group, mode] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string | undefined,
];
const paused = mode === "paused";

const frame = (p: Uint8Array) => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(p.byteLength, 1);
  return Buffer.concat([head, p]);
};

function open(path: string, body: Buffer) {
  const session = http2.connect(url, paused ? { settings: { initialWindowSize: 1024 } } : {});
  session.on("error", () => {});
  const st = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
  st.on("error", () => {});
  if (paused) st.pause();
  else st.resume();
  st.end(body);
}

const watch = frame(toBinary(WatchRequestSchema, create(WatchRequestSchema, { prefix })));
const stream = frame(toBinary(StreamRequestSchema, create(StreamRequestSchema, { topic, group })));
for (let i = 0; i < Number(watches); i++) open("/mikcar.kv.v1.KvService/Watch", watch);
for (let i = 0; i < Number(streams); i++) open("/mikcar.queue.v1.QueueService/Stream", stream);
process.stdout.write("opened\n");
setInterval(() => {}, 1_000); // stay alive until killed
