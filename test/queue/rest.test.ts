/** Queue over REST (HTTP/1.1) on the memory backend: API.md's queue table, shapes, long-polls and errors. */
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

let s: RunningSidecar;
let short: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar({ services: { queue: "memory://" } });
  short = await startSidecar({ services: { queue: "memory://" }, limits: { requestTimeoutMs: 1_500 } });
});
afterAll(() => Promise.all([s.close(), short.close()]));

const call = (path: string, init?: RequestInit) => fetch(s.url + "/queue" + path, init);
const post = (path: string, body?: string) => call(path, { method: "POST", body });
/** Response bodies are checked by the assertions, so they are left untyped. */
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

describe("queue REST", () => {
  it("pushes and pops with mikcar's shapes, keeping JSON text exact", async () => {
    let r = await post("/push/jobs", '{"big": 12345678901234567890, "f": 1.50}');
    expect(r.status).toBe(200);
    const pushed = (await json(r)) as { message_id: string };
    expect(pushed).toEqual({ message_id: expect.any(String), queue: "jobs", status: "pushed" });
    await post("/push/jobs", "not json");
    expect(await json(call("/len/jobs"))).toEqual({ length: 2, queue: "jobs" });

    r = await call("/pop/jobs");
    expect(r.headers.get("content-type")).toBe("application/json");
    const text = await r.text();
    expect(text).toContain('"payload":{"big": 12345678901234567890, "f": 1.50}');
    const body = JSON.parse(text);
    expect(body.queue).toBe("jobs");
    expect(body.message.id).toBe(pushed.message_id);
    expect(new Date(body.message.received_at).toISOString()).toBe(body.message.received_at);

    expect((await json(call("/pop/jobs"))).message.payload).toEqual({ data: "not json" });
    expect(await json(call("/pop/jobs"))).toEqual({ message: null, queue: "jobs" });
    // Auto-acked already: acking again is fine (mikcar handlers do it), an unknown id is 404.
    expect((await post(`/ack/jobs/${pushed.message_id}`)).status).toBe(200);
    r = await post("/ack/jobs/nope");
    expect(r.status).toBe(404);
    expect(await json(r)).toMatchObject({ code: "NOT_FOUND", status: 404 });
  });

  it("acks manual deliveries and redelivers the unacked", async () => {
    await post("/push/manual", "1");
    const m = (await json(call("/pop/manual?ack=manual&visibility=1"))).message;
    expect(await json(call("/pop/manual"))).toEqual({ message: null, queue: "manual" });
    const again = (await json(call("/pop/manual?ack=manual&timeout=5"))).message;
    expect(again.id).toBe(m.id);
    const r = await post(`/ack/manual/${m.id}`);
    expect(await json(r)).toEqual({ message_id: m.id, status: "acknowledged", topic: "manual" });
  });

  it("delivers to the default group what was published before its first subscribe (mikcar's pub/sub test)", async () => {
    const published = await json(post("/publish/events", '{"event":"created"}'));
    const got = await json(call("/subscribe/events?timeout=1&max_messages=1"));
    expect(got).toMatchObject({
      count: 1,
      topic: "events",
      messages: [{ id: published.message_id, payload: { event: "created" } }],
    });
  });

  it("publishes to every subscribed group and drains up to max_messages", async () => {
    expect((await json(call("/subscribe/news?group=a"))).count).toBe(0);
    await call("/subscribe/news"); // the default group
    for (const n of [1, 2, 3]) {
      const r = await post("/publish/news", `{"n":${n}}`);
      expect(await json(r)).toEqual({ message_id: expect.any(String), status: "published", topic: "news" });
    }
    const a = await json(call("/subscribe/news?group=a&max_messages=2"));
    expect(a).toMatchObject({ count: 2, topic: "news" });
    expect(a.messages.map((m: { payload: unknown }) => m.payload)).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await json(call("/subscribe/news"))).count).toBe(3);
    // Manual topic ack names the group.
    await post("/publish/news", "4");
    const [m] = (await json(call("/subscribe/news?group=a&ack=manual&max_messages=5"))).messages.slice(-1);
    expect((await post(`/ack/news/${m.id}?group=a`)).status).toBe(200);
  });

  it("wakes a long-poll when a message arrives; a long-poll whose client left takes nothing", async () => {
    const waiting = call("/pop/wake?timeout=20");
    await new Promise((r) => setTimeout(r, 100));
    await post("/push/wake", "hi");
    expect((await json(waiting)).message.payload).toEqual({ data: "hi" });

    const ac = new AbortController();
    const gone = call("/pop/left?timeout=20", { signal: ac.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await gone;
    await new Promise((r) => setTimeout(r, 100));
    await post("/push/left", "kept");
    const m = (await json(call("/pop/left?timeout=5"))).message;
    expect(m.payload).toEqual({ data: "kept" });
  });

  it("acks an auto-ack delivery once the response is written, over HTTP/1.1 and HTTP/2", async () => {
    await post("/push/written", "h1");
    expect((await json(call("/pop/written?visibility=1"))).message.payload).toEqual({ data: "h1" });
    await post("/push/written", "h2");
    const session = http2.connect(s.url);
    const req = session.request({ ":path": "/queue/pop/written?visibility=1" });
    let text = "";
    req.setEncoding("utf8").on("data", (d) => (text += d));
    await new Promise((r) => req.on("end", r));
    session.close();
    expect(JSON.parse(text).message.payload).toEqual({ data: "h2" });
    // Neither comes back once its visibility timeout is over: both were acked, not left in flight.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await json(call("/pop/written"))).toEqual({ message: null, queue: "written" });
  });

  it("clamps a long-poll below the request timeout instead of answering 408", async () => {
    const r = await fetch(short.url + "/queue/pop/idle?timeout=30");
    expect(r.status).toBe(200);
    expect(await json(r)).toEqual({ message: null, queue: "idle" });
  });

  it("answers bad input with a 4xx envelope naming the parameter", async () => {
    let r = await call("/pop/x?ack=sometimes");
    expect(r.status).toBe(400);
    expect((await json(r)).error).toMatch(/ack/);
    r = await call("/subscribe/x?max_messages=0");
    expect((await json(r)).error).toMatch(/max_messages/);
    r = await call("/pop/x?timeout=soon");
    expect((await json(r)).error).toMatch(/timeout/);
    // Within the REST range but over the service's cap: the message names the query parameter that was sent.
    r = await call("/pop/x?visibility=50000");
    expect(r.status).toBe(400);
    expect((await json(r)).error).toMatch(/^query parameter visibility must be at most 43200/);
    // Beyond 64 bits: the same clear 400, never a wrapped or truncated number.
    for (const q of [
      "/pop/x?timeout=9223372036854775808",
      "/pop/x?visibility=99999999999999999999",
      "/subscribe/x?max_messages=-9223372036854775809",
    ]) {
      r = await call(q);
      expect(r.status, q).toBe(400);
      expect((await json(r)).error, q).toMatch(
        /^query parameter (timeout|visibility|max_messages) must be a 64-bit integer/,
      );
    }
    r = await call("/pop/a%20b");
    expect(r.status).toBe(400);
    expect((await json(r)).error).toMatch(/queue must not contain/);
    r = await post("/nack/x/unknown");
    expect(r.status).toBe(404);
    // HEAD must not consume a message it cannot return.
    await post("/push/head", "1");
    expect((await call("/pop/head", { method: "HEAD" })).status).toBe(405);
    expect((await json(call("/pop/head"))).message.payload).toBe(1);
  });
});
