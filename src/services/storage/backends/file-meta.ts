/**
 * Metadata of the file backend (etag, content type), one small JSON file per object under `.mikcar/meta/`, named
 * by a hash of the path so no object path can collide with it. Each record names the inode, size and mtime of
 * the data file it describes: a record that does not match the file (written by a crashed upload, or the file
 * was changed outside the sidecar) is ignored, and the etag is derived from the file itself.
 *
 * Records are also kept in memory (a bounded map, same inode/size/mtime check), so reading a known object costs
 * no metadata I/O: a GET is open, fstat, read, close, like a server with no metadata at all. A record written by
 * another process sharing the directory describes a new data file (new inode), so it never matches a stale entry.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Stats } from "node:fs";
import * as fs from "node:fs/promises";
import { join } from "node:path";
import type { ObjectMeta } from "../backend.js";

interface Record {
  path: string;
  etag: string;
  contentType: string;
  ino: number;
  size: number;
  mtimeMs: number;
}

/** Records kept in memory; past this the oldest go (a miss costs one small file read). */
const CACHED = 10_000;

const describes = (r: Record, path: string, st: Stats) =>
  r.path === path && r.ino === st.ino && r.size === st.size && r.mtimeMs === st.mtimeMs;

export class FileMeta {
  private cache = new Map<string, Record>();

  constructor(
    private dir: string,
    private tmpDir: string,
    private maxCached = CACHED,
  ) {}

  private remember(r: Record) {
    this.cache.delete(r.path);
    this.cache.set(r.path, r);
    if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value!);
  }

  async init() {
    await fs.mkdir(this.dir, { recursive: true });
  }

  private file(path: string) {
    const h = createHash("sha256").update(path).digest("hex");
    return join(this.dir, h.slice(0, 2), `${h}.json`);
  }

  async read(path: string, st: Stats): Promise<ObjectMeta> {
    const base = { path, size: st.size, lastModified: st.mtime };
    const hit = this.cache.get(path);
    if (hit && describes(hit, path, st)) return { ...base, etag: hit.etag, contentType: hit.contentType };
    try {
      const r = JSON.parse(await fs.readFile(this.file(path), "utf8")) as Record;
      if (describes(r, path, st)) {
        this.remember(r);
        return { ...base, etag: r.etag, contentType: r.contentType };
      }
    } catch {
      // Missing or unreadable record: fall through to the derived etag.
    }
    return {
      ...base,
      etag: `"${st.ino.toString(16)}-${Math.round(st.mtimeMs * 1000).toString(16)}-${st.size.toString(16)}"`,
      contentType: "",
    };
  }

  /** Records metadata for the data file `st` describes (written atomically, like the data). */
  async write(path: string, st: Stats, etag: string, contentType: string) {
    const rec: Record = { path, etag, contentType, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
    const file = this.file(path);
    const tmp = join(this.tmpDir, `${randomUUID()}.meta`);
    await fs.writeFile(tmp, JSON.stringify(rec), { flag: "wx" });
    // The old record goes first, so the rename does not replace a file: ext4 (auto_da_alloc) makes a rename
    // over an existing file flush the new one's data at the next journal commit, which the upload's directory
    // fsync then waits for — a third disk flush per upload, doubling a small PUT. Meanwhile a reader that misses
    // the in-memory record sees none on disk and derives an etag: never a stale one.
    await fs.rm(file, { force: true });
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await fs.mkdir(join(file, ".."), { recursive: true });
      await fs.rename(tmp, file);
    }
    this.remember(rec);
  }

  async remove(path: string) {
    this.cache.delete(path);
    await fs.rm(this.file(path), { force: true });
  }
}
