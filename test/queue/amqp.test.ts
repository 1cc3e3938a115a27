import { describe } from "vitest";
import { AmqpQueue } from "../../src/services/queue/backends/amqp.js";
import { backendAvailable, runId } from "../helpers/backends.js";
import { describeQueueContract } from "./contract.js";

const URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const up = await backendAvailable("rabbitmq", async () => {
  const amqp = await import("amqplib");
  const conn = await amqp.connect(URL, { timeout: 2_000 });
  await conn.close();
});

describe.runIf(up)("rabbitmq", () => {
  describeQueueContract("amqp", (opts) => AmqpQueue.open(`${URL}?prefix=${runId("mikcar-test-")}.`, opts), {
    // Destroys the socket under amqplib's connection; the backend reconnects on the next call.
    dropConnection: (b) =>
      (b as unknown as { link: { conn: { connection: { stream: { destroy(err?: Error): void } } } } }).link.conn.connection.stream.destroy(new Error("dropped by the test")),
  });
});
