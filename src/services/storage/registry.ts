/** Storage backends by URL scheme, imported lazily so `memory://` never loads the AWS SDK. */
import { filePath, schemeOf, unsupportedScheme } from "../../shared/url.js";
import type { StorageBackend } from "./backend.js";

export const STORAGE_SCHEMES = ["memory", "file", "s3"] as const;

export async function openStorageBackend(url: string): Promise<StorageBackend> {
  switch (schemeOf(url)) {
    case "memory":
      return new (await import("./backends/memory.js")).MemoryStorage();
    case "file":
      return (await import("./backends/file.js")).FileStorage.open(filePath(url));
    case "s3":
      return (await import("./backends/s3.js")).S3Storage.open(url);
    default:
      throw unsupportedScheme("storage", url, STORAGE_SCHEMES);
  }
}
