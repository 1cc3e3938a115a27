/**
 * The secrets backend interface. Backends store string values under slash-separated names, with versions and
 * labels where the store has them (declared as features, so the service refuses what a backend cannot do
 * instead of ignoring it). Errors a backend throws carry names, never values.
 */
import { sidecarError } from "../../shared/errors.js";

export interface SecretRecord {
  value: string;
  /** Empty when the backend has no versions. */
  version: string;
  /** RFC 3339, empty when unknown. */
  createdAt: string;
  updatedAt: string;
  labels: Record<string, string>;
}

export type SecretMeta = Omit<SecretRecord, "value" | "labels"> & { name: string };

export interface SecretsFeatures {
  /** Create, update and delete work (false for env://). */
  writable: boolean;
  /** `get` of an older version works. */
  versions: boolean;
  /** Labels given at creation are stored and returned. */
  labels: boolean;
}

export interface SecretsBackend {
  /** Short name for health and messages: "memory", "vault", … */
  readonly name: string;
  readonly features: SecretsFeatures;
  /** Throws BAD_REQUEST when the store cannot hold this name (e.g. GCP allows only [A-Za-z0-9_-]). */
  checkName?(name: string): void;
  /** Undefined when the secret (or that version) does not exist. `version` "" means current. */
  get(name: string, version: string): Promise<SecretRecord | undefined>;
  /** Returns the new version; throws ALREADY_EXISTS when the name is taken. */
  create(name: string, value: string, labels: Record<string, string>): Promise<string>;
  /** Returns the new version; throws NOT_FOUND when the secret does not exist. */
  update(name: string, value: string): Promise<string>;
  /** Removes every version; false when there was nothing to delete. */
  delete(name: string): Promise<boolean>;
  exists(name: string): Promise<boolean>;
  /** Names starting with `prefix` (plain string prefix, recursive), in any order. */
  list(prefix: string): Promise<SecretMeta[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const secretNotFound = (name: string, version = "") =>
  sidecarError(
    "NOT_FOUND",
    version ? `version ${version} of secret ${JSON.stringify(name)} not found` : `secret not found: ${name}`,
  );

export const secretExists = (name: string) => sidecarError("ALREADY_EXISTS", `secret already exists: ${name}`);

/**
 * Vault and the AWS/GCP JSON APIs store structured data; a secret written by us is `{"value": "..."}`. A secret
 * written by someone else with other fields reads as the JSON text of all its fields (as mikcar does).
 */
export function valueOfData(data: unknown): string {
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const o = data as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === "value" && typeof o.value === "string") return o.value;
  }
  return JSON.stringify(data ?? null);
}

/** Seconds or a Date → RFC 3339, "" for nothing. */
export function isoTime(t: Date | number | string | undefined | null): string {
  if (t === undefined || t === null || t === "") return "";
  const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
