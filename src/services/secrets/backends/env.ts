/**
 * Read-only secrets from environment variables, as mikcar maps them: name `db/password` with prefix `APP_`
 * reads `APP_DB_PASSWORD` (upper-cased, every character outside [A-Z0-9_] becomes `_`). Listing maps back
 * (lower-cased, `_` → `/`), which is lossy by nature; reading a listed name always works.
 */
import type { SecretMeta, SecretRecord, SecretsBackend } from "../backend.js";

export class EnvSecrets implements SecretsBackend {
  readonly name = "env";
  readonly features = { writable: false, versions: false, labels: false };

  constructor(
    private readonly prefix: string,
    /** Injectable so tests need not touch process.env. */
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    if (prefix === "")
      throw new Error(
        "env:// needs a prefix (e.g. env://APP_SECRET_): without one every environment variable would be readable",
      );
  }

  private varName(name: string) {
    return this.prefix + name.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  }

  async get(name: string, version: string): Promise<SecretRecord | undefined> {
    const value = this.env[this.varName(name)];
    // The only version there is, is the current one.
    if (value === undefined || (version !== "" && version !== "env")) return undefined;
    return { value, version: "env", createdAt: "", updatedAt: "", labels: {} };
  }

  private readOnly(): never {
    throw new Error("unreachable: the service refuses writes to a read-only backend");
  }

  async create(): Promise<string> {
    return this.readOnly();
  }

  async update(): Promise<string> {
    return this.readOnly();
  }

  async delete(): Promise<boolean> {
    return this.readOnly();
  }

  async exists(name: string) {
    return this.env[this.varName(name)] !== undefined;
  }

  async list(prefix: string): Promise<SecretMeta[]> {
    const out: SecretMeta[] = [];
    for (const key of Object.keys(this.env)) {
      if (!key.startsWith(this.prefix) || key === this.prefix) continue;
      const name = key.slice(this.prefix.length).toLowerCase().replace(/_/g, "/");
      if (name.startsWith(prefix)) out.push({ name, version: "env", createdAt: "", updatedAt: "" });
    }
    return out;
  }

  async ping() {}

  async close() {}
}
