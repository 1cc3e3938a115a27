/** The storage contract on the file backend, in a fresh temp directory. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "../../src/services/storage/backends/file.js";
import { describeStorageContract } from "./contract.js";

describeStorageContract("file", () => FileStorage.open(mkdtempSync(join(tmpdir(), "mikcar-storage-"))), {
  // A path cannot be both a file and a directory on a filesystem.
  noNestedObjects: true,
});
