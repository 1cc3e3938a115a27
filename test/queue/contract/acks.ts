/** Queue contract — acks: visibility timeouts, late acks, nack, dead letters, broker drops. */
import { expect, it } from "vitest";
import { runId } from "../../helpers/backends.js";
import { MAX_DELIVERIES, retry, type QueueSuite } from "./suite.js";

export function describeAcks(s: QueueSuite) {
  const { push, pop, ack, nack, len, manual, wait5 } = s;
  it("redelivers an unacked manual delivery after its visibility timeout; ack is final and idempotent", async () => {
    const name = runId("vis");
    const id = await push(name, "x");
    const first = await pop(name, manual);
    expect(first?.id).toBe(id);
    expect(await pop(name)).toBeUndefined(); // invisible while in flight
    const again = await pop(name, { ...manual, timeoutSeconds: 10 });
    expect(again?.id).toBe(id);
    expect(again?.deliveryCount).toBe(2);
    await ack(name, id);
    await ack(name, id); // already acked: still fine (mikcar handlers ack after an auto pop)
    await expect(ack(name, "0-1")).rejects.toThrow(/no delivery/);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await pop(name)).toBeUndefined();
  });

  it("accepts a late ack until the message is taken again; an expired message comes back ahead of newer ones", async () => {
    const name = runId("late");
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const late = await push(name, "late");
    expect((await pop(name, manual))?.id).toBe(late);
    await sleep(1_500); // past the 1 s visibility, and nobody has popped since
    await ack(name, late); // 200, not 404: the delivery was still open
    expect(await pop(name)).toBeUndefined(); // and it is not delivered again
    expect(await len(name)).toBe(0n);

    const a = await push(name, "a");
    expect((await pop(name, manual))?.id).toBe(a);
    const b = await push(name, "b");
    await sleep(1_500);
    const again = await pop(name, manual);
    expect(again?.id).toBe(a); // FIFO per queue holds across the redelivery
    expect(again?.deliveryCount).toBe(2);
    expect((await pop(name, manual))?.id).toBe(b);
    await ack(name, a);
    await ack(name, b);
  });

  it("puts a nacked message back ahead of newer ones", async () => {
    const name = runId("nackorder");
    const a = await push(name, "a");
    const b = await push(name, "b");
    expect((await pop(name, manual))?.id).toBe(a);
    await nack(name, a);
    const again = await pop(name, manual);
    expect(again?.id).toBe(a);
    expect(again?.deliveryCount).toBe(2);
    expect((await pop(name, manual))?.id).toBe(b);
    await ack(name, a);
    await ack(name, b);
  });

  it("dead-letters after the delivery limit and on request; the DLQ pops like any queue", async () => {
    const name = runId("dlq");
    await push(name, '{"poison":true}');
    for (let i = 1; i <= MAX_DELIVERIES; i++) {
      const m = await pop(name, { ...manual, timeoutSeconds: 5 });
      expect(m?.deliveryCount).toBe(i);
      await nack(name, m!.id);
    }
    expect(await pop(name)).toBeUndefined();
    const dead = await pop(`${name}.dlq`, wait5);
    expect(dead?.payloadJson).toBe('{"poison":true}');

    await push(name, "now");
    const m = await pop(name, manual);
    await nack(name, m!.id, true);
    expect((await pop(`${name}.dlq`, { timeoutSeconds: 5 }))?.payloadJson).toBe('{"data":"now"}');
    await expect(nack(name, m!.id)).rejects.toThrow(/no delivery/);
  });

  it.runIf(s.quirks.dropConnection)("loses no message when the broker connection drops mid-run", async () => {
    const name = runId("drop");
    const pushed = new Set<string>();
    for (let i = 0; i < 10; i++) pushed.add(await push(name, `{"i":${i}}`));
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const m = await pop(name, manual);
      await ack(name, m!.id);
      seen.add(m!.id);
    }
    await pop(name, manual); // in flight when the connection dies, and not counted: it must come back
    s.quirks.dropConnection!(s.backend);
    // Drain until nothing is delivered for longer than the visibility timeout. An ack made on the dead
    // connection may be lost; its message then comes again (at-least-once), which the loop absorbs.
    for (;;) {
      const m = await retry(() => pop(name, { ...manual, timeoutSeconds: 3 }));
      if (!m) break;
      seen.add(m.id);
      await retry(() => ack(name, m.id)).catch(() => {});
    }
    expect(seen).toEqual(pushed);
    expect(await retry(() => len(name))).toBe(0n);
  });
}
