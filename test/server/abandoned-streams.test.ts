/**
 * Streams whose clients vanish must not pin anything (issue 9, item 6): KvService.Watch and QueueService.Stream
 * end when their connection dies (socket closed without RST_STREAM), stops answering (HTTP/2 PING keep-alive)
 * or stops reading (write timeout); file descriptors and the backend's own counts (Redis watch connections in
 * CLIENT LIST, in-flight deliveries of the group) return to baseline, and a live subscriber of the same group
 * then gets every message. The clients are a separate process, killed (-9) or frozen (SIGSTOP).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { backendAvailable, runId, tcpProbe } from "../helpers/backends.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const clientScript = fileURLToPath(new URL("../helpers/stream-client.ts", import.meta.url));
const hasRedis = await backendAvailable("redis", () => tcpProbe(6379));
const N = 100; // streams of each kind per round

/** Open sockets of this process (the sidecar's, since the clients are another process). */
const fds = () =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:");
    } catch {
      return false; // closed while we looked
    }
  }).length;

/** Polls `probe` until it returns true, for up to `ms`; returns the last result. */
async function eventually(probe: () => Promise<boolean> | boolean, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!hasRedis)("abandoned streams on Redis backends", () => {
  const prefix = `${runId("abandon")}:`;
  const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true });
  let s: RunningSidecar;
  let baseline: number;

  beforeAll(async () => {
    await redis.connect();
    s = await startSidecar({
      services: {
        kv: `redis://127.0.0.1:6379?prefix=${prefix}kv:`,
        queue: `redis://127.0.0.1:6379?prefix=${prefix}q:`,
      },
      // Short periods so that the test does not wait for the defaults (60 s idle, 30 s keep-alive and writes), but
      // long enough for a live client process on a busy machine to answer its PINGs.
      limits: { keepAliveIntervalMs: 2_000, writeTimeoutMs: 1_000, h2IdleTimeoutMs: 1_000 },
    });
    baseline = fds();
  });
  afterAll(async () => {
    await s?.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  /** Watch connections this sidecar holds, as Redis itself counts them. */
  const watchConnections = async () =>
    ((await redis.client("LIST")) as string).split("\n").filter((l) => l.includes(`name=mikcar-kv-watch:${prefix}kv:`))
      .length;
  /** Deliveries of the topic group in flight (taken, not yet acked or released), as Redis counts them. */
  const inFlight = (topic: string, group: string) => redis.zcard(`${prefix}q:t:${topic}|${group}|vis`);

  function startClients(topic: string, group: string, watches: number, streams: number, mode = ""): ChildProcess {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", clientScript, s.url, String(watches), String(streams), "w", topic, group, mode],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    onTestFinished(() => {
      child.kill("SIGKILL");
    });
    return child;
  }

  async function opened(child: ChildProcess, watches: number, streams: number) {
    await new Promise<void>((resolve) => child.stdout!.on("data", (d) => String(d).includes("opened") && resolve()));
    // Every stream has reached the server: one socket per session, and each watch has its Redis subscription.
    expect(await eventually(() => fds() >= baseline + watches + streams)).toBe(true);
    expect(await eventually(async () => (await watchConnections()) === watches)).toBe(true);
  }

  /** Publishes 20 messages and collects what a live REST subscriber of `group` receives. */
  async function liveSubscriberGets(topic: string, group: string): Promise<number> {
    for (let i = 0; i < 20; i++) {
      await fetch(`${s.url}/queue/publish/${topic}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ i }),
      });
    }
    let got = 0;
    await eventually(async () => {
      const r = (await (
        await fetch(`${s.url}/queue/subscribe/${topic}?group=${group}&timeout=1&max_messages=100`)
      ).json()) as { messages: unknown[] };
      got += r.messages.length;
      return got >= 20;
    }, 5_000);
    return got;
  }

  /** `extra`: sockets a client process still alive holds here (its stdout is a socketpair). */
  async function backToBaseline(topic: string, group: string, extra = 0) {
    expect(await eventually(async () => (await watchConnections()) === 0)).toBe(true);
    expect(await eventually(() => fds() <= baseline + extra), `${fds()} sockets open, ${baseline} at the start`).toBe(
      true,
    );
    expect(await inFlight(topic, group)).toBe(0);
  }

  it("clients killed without RST_STREAM: streams end, resources return, a live subscriber gets all 20", async () => {
    const [topic, group] = [runId("t"), "g"];
    // The group exists before the consumers come, as it would for a running service.
    await fetch(`${s.url}/queue/subscribe/${topic}?group=${group}&timeout=0`);
    const child = startClients(topic, group, N, N);
    await opened(child, N, N);
    child.kill("SIGKILL"); // the kernel closes the sockets: FIN, and no HTTP/2 frame at all
    await backToBaseline(topic, group);
    expect(await liveSubscriberGets(topic, group)).toBe(20);
    await backToBaseline(topic, group);
  });

  it("clients frozen (no PING answered): the keep-alive drops their sessions and everything is released", async () => {
    const [topic, group] = [runId("t"), "g"];
    await fetch(`${s.url}/queue/subscribe/${topic}?group=${group}&timeout=0`);
    const child = startClients(topic, group, N, N);
    await opened(child, N, N);
    child.kill("SIGSTOP"); // sockets stay open; the kernel still acknowledges, the HTTP/2 stack is silent
    onTestFinished(() => {
      child.kill("SIGKILL");
    });
    await backToBaseline(topic, group, 1);
    expect(await liveSubscriberGets(topic, group)).toBe(20);
  });

  it("clients that stop reading: the write timeout ends their watches, then their idle sessions close", async () => {
    const child = startClients(runId("t"), "g", N, 0, "paused");
    await opened(child, N, 0);
    // More than the clients' windows and the server's buffers hold, for every watcher.
    const big = "v".repeat(64 * 1024);
    for (let i = 0; i < 8; i++) {
      await fetch(`${s.url}/kv/set/w${i}`, { method: "POST", body: big });
    }
    expect(await eventually(async () => (await watchConnections()) === 0)).toBe(true);
    // Still alive and answering PINGs, but with no stream left its sessions are idle and get closed.
    expect(await eventually(() => fds() <= baseline + 1), `${fds()} sockets open, ${baseline} at the start`).toBe(true);
  });
});
