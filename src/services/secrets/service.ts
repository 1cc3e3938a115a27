/**
 * The one implementation of SecretsService: RPC handlers and REST rows both call these methods. Validation,
 * feature gates and the read cache live here; backends only store. Messages name secrets, never values.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { SecretsService } from "../../../gen/mikcar/secrets/v1/secrets_pb.js";
import { sidecarError } from "../../shared/errors.js";
import { secretNotFound, type SecretsBackend } from "./backend.js";
import type { SecretCache } from "./cache.js";

export const MAX_NAME_BYTES = 512;
export const MAX_VALUE_BYTES = 64 * 1024;
const MAX_LABELS = 64;

/** Names are slash-separated paths: no empty, `.` or `..` segments, no control characters. */
export function checkName(name: string, field = "name"): void {
  if (name === "") throw sidecarError("BAD_REQUEST", `${field} must not be empty`);
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_NAME_BYTES)
    throw sidecarError("BAD_REQUEST", `${field} is ${bytes} bytes; the limit is ${MAX_NAME_BYTES}`);
  if (!name.isWellFormed() || /[\u0000-\u001f\u007f]/.test(name)) {
    throw sidecarError("BAD_REQUEST", `${field} must be valid UTF-8 without control characters`);
  }
  if (name.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw sidecarError(
      "BAD_REQUEST",
      `${field} ${JSON.stringify(name)} must not start or end with "/", nor contain "//", "." or ".." segments`,
    );
  }
}

function checkValue(value: string) {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > MAX_VALUE_BYTES)
    throw sidecarError("BAD_REQUEST", `value is ${bytes} bytes; the limit is ${MAX_VALUE_BYTES}`);
}

function checkLabels(labels: Record<string, string>) {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS)
    throw sidecarError("BAD_REQUEST", `labels has ${entries.length} entries; the limit is ${MAX_LABELS}`);
  for (const [k, v] of entries) {
    if (!/^[A-Za-z0-9_.-]{1,63}$/.test(k))
      throw sidecarError("BAD_REQUEST", `label name ${JSON.stringify(k)} must be 1-63 of [A-Za-z0-9_.-]`);
    if (v.length > 256) throw sidecarError("BAD_REQUEST", `label ${k} is longer than 256 characters`);
  }
}

export function createSecretsService(backend: SecretsBackend, cache?: SecretCache): ServiceImpl<typeof SecretsService> {
  const named = (name: string) => {
    checkName(name);
    backend.checkName?.(name);
  };
  const writable = () => {
    if (!backend.features.writable)
      throw sidecarError("BAD_REQUEST", `the ${backend.name} secrets backend is read-only`);
  };
  const read = (name: string, version: string) =>
    cache ? cache.read(name, version, () => backend.get(name, version)) : backend.get(name, version);

  return {
    async get(req) {
      named(req.name);
      if (req.version !== "" && !backend.features.versions) {
        throw sidecarError("BAD_REQUEST", `the ${backend.name} secrets backend has no versions; omit version`);
      }
      if (req.version.length > 128) throw sidecarError("BAD_REQUEST", "version is longer than 128 characters");
      const s = await read(req.name, req.version);
      if (!s) throw secretNotFound(req.name, req.version);
      return { secret: s };
    },

    async create(req) {
      named(req.name);
      writable();
      checkValue(req.value);
      checkLabels(req.labels);
      if (Object.keys(req.labels).length > 0 && !backend.features.labels) {
        throw sidecarError("BAD_REQUEST", `the ${backend.name} secrets backend does not store labels; omit labels`);
      }
      cache?.invalidate(req.name);
      try {
        return { version: await backend.create(req.name, req.value, req.labels) };
      } finally {
        cache?.invalidate(req.name);
      }
    },

    async update(req) {
      named(req.name);
      writable();
      checkValue(req.value);
      cache?.invalidate(req.name);
      try {
        return { version: await backend.update(req.name, req.value) };
      } finally {
        cache?.invalidate(req.name);
      }
    },

    async delete(req) {
      named(req.name);
      writable();
      cache?.invalidate(req.name);
      try {
        return { deleted: await backend.delete(req.name) };
      } finally {
        cache?.invalidate(req.name);
      }
    },

    async exists(req) {
      named(req.name);
      if (cache?.has(req.name)) return { exists: true };
      return { exists: await backend.exists(req.name) };
    },

    async list(req) {
      if (Buffer.byteLength(req.prefix) > MAX_NAME_BYTES)
        throw sidecarError("BAD_REQUEST", `prefix is longer than ${MAX_NAME_BYTES} bytes`);
      const items = await backend.list(req.prefix);
      items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { secrets: items };
    },
  };
}
