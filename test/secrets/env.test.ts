/** env:// is read-only: the contract seeds its secrets as variables of an injected environment. */
import { describe, expect, it } from "vitest";
import { EnvSecrets } from "../../src/services/secrets/backends/env.js";
import { openSecretsBackend } from "../../src/services/secrets/registry.js";
import { describeSecretsContract } from "./contract.js";

const env: Record<string, string> = { UNRELATED: "not visible" };
const toVar = (name: string) => "MIKCAR_T_" + name.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
describeSecretsContract("env", async () => new EnvSecrets("MIKCAR_T_", env), {
  seed: (name, value) => void (env[toVar(name)] = value),
  noTimestamps: true,
});

describe("env:// URL", () => {
  it("refuses an empty prefix, which would expose the whole environment", async () => {
    await expect(openSecretsBackend("env://")).rejects.toThrow(/needs a prefix/);
  });
  it("maps names the way mikcar does", async () => {
    const b = new EnvSecrets("APP_", { APP_DB_PASSWORD: "pw", OTHER: "x" });
    expect((await b.get("db/password", ""))?.value).toBe("pw");
    expect(await b.list("")).toEqual([{ name: "db/password", version: "env", createdAt: "", updatedAt: "" }]);
  });
});
