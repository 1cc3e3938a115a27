/**
 * Deletes the queues and exchanges a test run declared on the shared RabbitMQ (names starting with its prefix).
 * Listing needs `rabbitmqctl` (no management plugin is assumed); without it the run's names are left behind.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

async function list(kind: "list_queues" | "list_exchanges"): Promise<string[]> {
  try {
    const { stdout } = await run("rabbitmqctl", [kind, "name", "-q", "--no-table-headers"], { timeout: 20_000 });
    return stdout
      .split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

export async function deleteAmqpNames(url: string, prefix: string): Promise<void> {
  const [queues, exchanges] = await Promise.all([list("list_queues"), list("list_exchanges")]);
  const mine = (n: string) => n.startsWith(prefix);
  if (!queues.some(mine) && !exchanges.some(mine)) return;
  const conn = await (await import("amqplib")).connect(url);
  try {
    const ch = await conn.createChannel();
    for (const q of queues.filter(mine)) await ch.deleteQueue(q);
    for (const x of exchanges.filter(mine)) await ch.deleteExchange(x);
  } finally {
    await conn.close();
  }
}
