/**
 * Secrets in a JSON file, for development: the memory backend's state loaded at start and rewritten (to a temp
 * file, then renamed, so a crash never leaves half a file) after every change. The file is created with mode
 * 0600. Not for production: values sit on disk in clear text.
 */
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { sidecarError } from "../../../shared/errors.js";
import { MemorySecrets, type StoredSecret } from "./memory.js";

export class FileSecrets extends MemorySecrets {
  override readonly name = "file";

  private constructor(
    initial: Record<string, StoredSecret>,
    save: (state: Record<string, StoredSecret>) => Promise<void>,
  ) {
    super({ initial, onChange: save });
  }

  static async open(path: string): Promise<FileSecrets> {
    let initial: Record<string, StoredSecret> = {};
    if (existsSync(path)) {
      try {
        initial = parseFile(readFileSync(path, "utf8"));
      } catch (err) {
        throw new Error(`secrets file ${path} is not a valid secrets JSON file: ${(err as Error).message}`);
      }
    } else {
      await mkdir(dirname(path), { recursive: true });
    }
    // Writes are serialised so two quick changes cannot rename over each other out of order.
    let chain = Promise.resolve();
    const save = (state: Record<string, StoredSecret>) => {
      const text = JSON.stringify(state, null, 2) + "\n";
      // A failed save must not fail every later one: each starts after the previous, whatever its outcome.
      chain = chain
        .catch(() => {})
        .then(async () => {
          const tmp = `${path}.${process.pid}.tmp`;
          await writeFile(tmp, text, { mode: 0o600 });
          await chmod(tmp, 0o600);
          await rename(tmp, path);
        })
        .catch((err: NodeJS.ErrnoException) => {
          // The path stays out of the message; the code says enough (ENOSPC, EACCES, …).
          throw sidecarError("UNAVAILABLE", `the secrets file could not be written (${err.code ?? "error"})`);
        });
      return chain;
    };
    return new FileSecrets(initial, save);
  }
}

/**
 * Accepts our own format and, for hand-written files, the simple one: `{"name": "value"}` (each such entry
 * becomes version 1 with no timestamps).
 */
function parseFile(text: string): Record<string, StoredSecret> {
  const raw = JSON.parse(text) as unknown;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error("the top level must be a JSON object");
  const out: Record<string, StoredSecret> = {};
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v === "string") {
      out[name] = { createdAt: "", labels: {}, versions: [{ value: v, createdAt: "" }] };
    } else if (v && typeof v === "object" && Array.isArray((v as StoredSecret).versions)) {
      const s = v as StoredSecret;
      out[name] = { createdAt: String(s.createdAt ?? ""), labels: { ...(s.labels ?? {}) }, versions: s.versions };
    } else {
      throw new Error(`entry ${JSON.stringify(name)} must be a string or {"versions": [...]}`);
    }
  }
  return out;
}
