/** In-process secrets with full version history. For development and tests; `file.ts` persists the same state. */
import { secretExists, secretNotFound, type SecretMeta, type SecretRecord, type SecretsBackend } from "../backend.js";

/** The whole state, as the file backend writes it to disk. */
export interface StoredSecret {
  createdAt: string;
  labels: Record<string, string>;
  /** Oldest first; version n is `versions[n - 1]`. */
  versions: Array<{ value: string; createdAt: string }>;
}

export interface MemorySecretsOptions {
  /** Clock, injectable so tests see predictable timestamps. */
  now?: () => Date;
  initial?: Record<string, StoredSecret>;
  /** Called after every change with the full state (the file backend saves it). */
  onChange?: (state: Record<string, StoredSecret>) => Promise<void>;
}

export class MemorySecrets implements SecretsBackend {
  readonly name: string = "memory";
  readonly features = { writable: true, versions: true, labels: true };
  private map: Map<string, StoredSecret>;
  private now: () => Date;
  private onChange?: MemorySecretsOptions["onChange"];

  constructor(opts: MemorySecretsOptions = {}) {
    this.now = opts.now ?? (() => new Date());
    this.map = new Map(Object.entries(opts.initial ?? {}));
    this.onChange = opts.onChange;
  }

  /** Saves the new state; if that fails, puts `name` back as it was (`prev`), so memory and file agree. */
  private async changed(name: string, prev: StoredSecret | undefined) {
    try {
      await this.onChange?.(Object.fromEntries(this.map));
    } catch (err) {
      if (prev) this.map.set(name, prev);
      else this.map.delete(name);
      throw err;
    }
  }

  async get(name: string, version: string): Promise<SecretRecord | undefined> {
    const s = this.map.get(name);
    if (!s) return undefined;
    const n = version === "" ? s.versions.length : /^[1-9]\d{0,8}$/.test(version) ? Number(version) : 0;
    const v = s.versions[n - 1];
    if (!v) return undefined;
    return {
      value: v.value,
      version: String(n),
      createdAt: s.createdAt,
      updatedAt: v.createdAt,
      labels: { ...s.labels },
    };
  }

  async create(name: string, value: string, labels: Record<string, string>) {
    if (this.map.has(name)) throw secretExists(name);
    const at = this.now().toISOString();
    this.map.set(name, { createdAt: at, labels: { ...labels }, versions: [{ value, createdAt: at }] });
    await this.changed(name, undefined);
    return "1";
  }

  async update(name: string, value: string) {
    const s = this.map.get(name);
    if (!s) throw secretNotFound(name);
    const next = { ...s, versions: [...s.versions, { value, createdAt: this.now().toISOString() }] };
    this.map.set(name, next);
    await this.changed(name, s);
    return String(next.versions.length);
  }

  async delete(name: string) {
    const prev = this.map.get(name);
    if (!prev) return false;
    this.map.delete(name);
    await this.changed(name, prev);
    return true;
  }

  async exists(name: string) {
    return this.map.has(name);
  }

  async list(prefix: string): Promise<SecretMeta[]> {
    const out: SecretMeta[] = [];
    for (const [name, s] of this.map) {
      if (!name.startsWith(prefix)) continue;
      const last = s.versions.at(-1)!;
      out.push({ name, version: String(s.versions.length), createdAt: s.createdAt, updatedAt: last.createdAt });
    }
    return out;
  }

  async ping() {}

  async close() {}
}
