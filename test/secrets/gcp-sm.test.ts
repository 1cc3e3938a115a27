/**
 * The contract on GCP Secret Manager's REST API (fetch), against the loopback fake in fakes/gcp-sm-server.ts
 * (not Google itself). The token comes from GOOGLE_OAUTH_ACCESS_TOKEN; the metadata-server path is untested.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GcpSecrets, gcpConfig } from "../../src/services/secrets/backends/gcp-sm.js";
import { describeSecretsContract } from "./contract.js";
import { startGcpSmFake } from "./fakes/gcp-sm-server.js";
import type { FakeServer } from "./fakes/http-fake.js";

let gcp: FakeServer;
beforeAll(async () => {
  gcp = await startGcpSmFake("proj-1", "ya29.test");
});
afterAll(() => gcp.stop());
const open = (token = "ya29.test") =>
  new GcpSecrets(
    gcpConfig(`gcp-sm://proj-1?endpoint=${encodeURIComponent(gcp.url)}`, { GOOGLE_OAUTH_ACCESS_TOKEN: token }),
  );

// Secret ids cannot contain "/"; listing versions would cost a call per secret.
describeSecretsContract("gcp-sm", async () => open(), { sep: "-", listWithoutVersions: true });

describe("gcp-sm specifics", () => {
  it("refuses names with a slash, naming GCP's rule", () => {
    expect(() => open().checkName("db/password")).toThrow(/valid GCP secret id/);
  });

  it("reports a rejected token as BAD_GATEWAY without echoing it", async () => {
    const err = (await open("ya29.wrong")
      .get("x", "")
      .catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ kind: { status: 502 } });
    expect(err.message).not.toContain("ya29");
  });

  it("answers UNAVAILABLE while the endpoint is down and recovers", async () => {
    const b = open();
    await b.create("outage", "v", {});
    await gcp.stop();
    try {
      await expect(b.get("outage", "")).rejects.toMatchObject({ kind: { status: 503 } });
    } finally {
      await gcp.start();
    }
    expect((await b.get("outage", ""))?.value).toBe("v");
  });
});
