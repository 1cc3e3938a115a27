/**
 * The KV contract: one behaviour suite that every backend must pass, driven through the service
 * implementation (the same code REST and RPC call), split by concern. Backend differences are passed as quirks,
 * never as `if (name === …)`.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { createKvService } from "../../../src/services/kv/service.js";
import { describeIncrement } from "./increment.js";
import { describeKeys } from "./keys.js";
import { KvSuite, type KvTarget } from "./suite.js";
import { describeTtl } from "./ttl.js";
import { describeValues } from "./values.js";
import { describeWatch } from "./watch.js";

export type { KvTarget } from "./suite.js";

export function describeKvContract(name: string, open: () => Promise<KvTarget>) {
  describe(`KV contract: ${name}`, () => {
    const s = new KvSuite();
    beforeAll(async () => {
      s.t = await open();
      s.kv = createKvService(s.t.backend);
    });
    afterAll(() => s.t.backend.close());

    describeValues(s);
    describeTtl(s);
    describeIncrement(s);
    describeKeys(s);
    describeWatch(s);
  });
}
