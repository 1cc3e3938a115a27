/**
 * The contract on AWS Secrets Manager's JSON protocol through @aws-sdk/client-secrets-manager, against the
 * loopback fake in fakes/aws-sm-server.ts (not AWS itself), plus credential and outage behaviour.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSecretsBackend } from "../../src/services/secrets/registry.js";
import { describeSecretsContract } from "./contract.js";
import { startAwsSmFake } from "./fakes/aws-sm-server.js";
import type { FakeServer } from "./fakes/http-fake.js";

let aws: FakeServer;
beforeAll(async () => {
  aws = await startAwsSmFake("AKIDTEST");
});
afterAll(() => aws.stop());
const url = (key = "AKIDTEST") =>
  `aws-sm://us-east-1?endpoint=${encodeURIComponent(aws.url)}&access_key_id=${key}&secret_access_key=shh`;

describeSecretsContract("aws-sm", () => openSecretsBackend(url()), {
  missingVersion: "00000000-0000-4000-8000-000000000000",
});

describe("aws-sm specifics", () => {
  it("accepts mikcar's awssm:// spelling and refuses names AWS cannot hold", async () => {
    const b = await openSecretsBackend(url().replace("aws-sm:", "awssm:"));
    expect(b.name).toBe("aws-sm");
    expect(() => b.checkName!("bad name!")).toThrow(/valid AWS secret name/);
  });

  it("reports rejected credentials as BAD_GATEWAY without naming them", async () => {
    const b = await openSecretsBackend(url("AKIDWRONG"));
    const err = (await b.get("x", "").catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ kind: { status: 502 } });
    expect(err.message).not.toContain("AKIDWRONG");
  });

  it("answers UNAVAILABLE while the endpoint is down and recovers", async () => {
    const b = await openSecretsBackend(url());
    await b.create("outage", "v", {});
    await aws.stop();
    try {
      await expect(b.get("outage", "")).rejects.toMatchObject({ kind: { status: 503 } });
    } finally {
      await aws.start();
    }
    expect((await b.get("outage", ""))?.value).toBe("v");
  });
});
