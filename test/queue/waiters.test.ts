/**
 * Long-poll wake-ups: a push makes one message receivable, so it wakes one waiting pop, not every pop on the
 * queue (which would all race for it and all but one go back to sleep). Nothing may be left waiting while a
 * message is there for it.
 */
import { expect, it } from "vitest";
import { MemoryQueue } from "../../src/services/queue/backends/memory.js";
import { Waiters } from "../../src/services/queue/waiters.js";

const settled = async (ps: Array<Promise<unknown>>) => {
  const done = ps.map(() => false);
  ps.forEach((p, i) => void p.then(() => (done[i] = true)));
  await new Promise((r) => setTimeout(r, 20));
  return done;
};

it("wakes the longest waiter only when asked for one", async () => {
  const w = new Waiters();
  const signal = new AbortController().signal;
  const waits = [0, 1, 2].map(() => w.wait("q", w.version("q"), 10_000, signal));
  w.notify("q", true);
  expect(await settled(waits)).toEqual([true, false, false]);
  w.notify("q");
  expect(await settled(waits)).toEqual([true, true, true]);
});

it("gives every waiting pop a message when as many are pushed", async () => {
  const q = new MemoryQueue({ maxDeliveries: 5, maxTopicLength: 1000 });
  const t = { kind: "queue" as const, name: "jobs" };
  const signal = new AbortController().signal;
  const pop = async () => {
    for (;;) {
      const since = q.version(t);
      const [d] = await q.receive(t, 1, 30_000);
      if (d) return d.payload;
      await q.wait(t, since, 10_000, signal);
    }
  };
  const pops = Array.from({ length: 5 }, pop);
  await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < 5; i++) await q.push("jobs", String(i));
  expect((await Promise.all(pops)).sort()).toEqual(["0", "1", "2", "3", "4"]);
  await q.close();
});
