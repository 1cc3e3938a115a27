/**
 * The contract on Vault's HTTP API (KV v2 and v1) through node-vault, against the loopback fake in
 * fakes/vault-server.ts — no Vault binary exists here. Also: token and namespace headers, a bad token, outage
 * and recovery.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultSecrets } from "../../src/services/secrets/backends/vault.js";
import { describeSecretsContract } from "./contract.js";
import { startVaultFake, type VaultFake } from "./fakes/vault-server.js";

const TOKEN = "test-root-token";
let vault: VaultFake;
beforeAll(async () => {
  vault = await startVaultFake({ token: TOKEN, kv2Mounts: ["secret", "team/kv2"], kv1Mounts: ["kv"] });
});
afterAll(() => vault.stop());

const url = (q: string) => `vault://127.0.0.1:${vault.port}?token=${TOKEN}&${q}`;

describeSecretsContract("vault kv2", () => VaultSecrets.open(url("mount=secret")));
describeSecretsContract("vault kv2 on a nested mount", () => VaultSecrets.open(url("mount=team/kv2&kv=2")));
// KV v1 has no versions, labels or timestamps.
describeSecretsContract("vault kv1", () => VaultSecrets.open(url("mount=kv&kv=1")), { noTimestamps: true });

describe("vault specifics", () => {
  it("sends the token and namespace from the environment", async () => {
    process.env.VAULT_TOKEN = TOKEN;
    process.env.VAULT_NAMESPACE = "team-a";
    try {
      const b = await VaultSecrets.open(`vault://127.0.0.1:${vault.port}`);
      await b.create("ns/check", "v", {});
      const last = vault.seen.at(-1)!;
      expect(last.headers["x-vault-token"]).toBe(TOKEN);
      expect(last.headers["x-vault-namespace"]).toBe("team-a");
    } finally {
      delete process.env.VAULT_TOKEN;
      delete process.env.VAULT_NAMESPACE;
    }
  });

  it("reads a secret written by others with several fields as their JSON", async () => {
    vault.kv2.get("secret")!.set("ext/multi", {
      created: new Date().toISOString(),
      updated: new Date().toISOString(),
      custom: null,
      versions: [{ data: { user: "u", pass: "p" }, created: new Date().toISOString(), deleted: "" }],
    });
    const b = await VaultSecrets.open(url("mount=secret"));
    expect((await b.get("ext/multi", ""))?.value).toBe('{"user":"u","pass":"p"}');
  });

  it("maps a bad token to FORBIDDEN without echoing the token", async () => {
    const b = await VaultSecrets.open(`vault://127.0.0.1:${vault.port}?token=wrong`);
    const err = await b.get("x", "").catch((e: Error) => e);
    expect(err).toMatchObject({ kind: { status: 403 } });
    expect(String((err as Error).message)).not.toContain("wrong");
  });

  it("answers UNAVAILABLE while Vault is down and recovers when it is back", async () => {
    const b = await VaultSecrets.open(url("mount=secret"));
    await b.create("outage/x", "v", {});
    await vault.stop();
    try {
      await expect(b.get("outage/x", "")).rejects.toMatchObject({
        kind: { status: 503 },
        message: expect.not.stringContaining("127.0.0.1"),
      });
      await expect(b.ping()).rejects.toMatchObject({ kind: { status: 503 } });
    } finally {
      await vault.start();
    }
    expect((await b.get("outage/x", ""))?.value).toBe("v");
  });
});
