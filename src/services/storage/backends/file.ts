/**
 * Objects as plain files under one root directory. Nothing outside the root is ever read or written: paths are
 * validated by the service, every parent directory is checked not to be a symbolic link, the object itself is
 * opened with O_NOFOLLOW, and writes go to a temp file that is renamed into place (a rename replaces a symlink
 * rather than following it, and readers never see a torn object). Metadata lives under `.mikcar/`.
 */
import { randomUUID } from "node:crypto";
import { constants, type Stats } from "node:fs";
import * as fs from "node:fs/promises";
import { dirname, join } from "node:path";
import { sidecarError } from "../../../shared/errors.js";
import {
  comparePaths,
  EtagHasher,
  type ListQuery,
  type ObjectMeta,
  type ObjectReader,
  type StorageBackend,
  type WriteOptions,
} from "../backend.js";
import { sortByUtf8 } from "../../../shared/utf8-order.js";
import { RESERVED_PREFIX } from "../paths.js";
import { FileMeta } from "./file-meta.js";

const READ_CHUNK = 256 * 1024;
/** Objects (or ranges) up to this size are read with one read call into one buffer. */
const SMALL_READ = 64 * 1024;
/** Upload chunks are written in batches of about this size. */
const WRITE_BATCH = 1024 * 1024;
const STALE_TEMP_MS = 3600_000;

type Parents = "ok" | "missing";

export class FileStorage implements StorageBackend {
  readonly name = "file";
  private tmpDir: string;
  private meta: FileMeta;

  private constructor(private root: string) {
    this.tmpDir = join(root, RESERVED_PREFIX, "tmp");
    this.meta = new FileMeta(join(root, RESERVED_PREFIX, "meta"), join(root, RESERVED_PREFIX, "tmp"));
  }

  /** Opens (creating if needed) the directory; the root is resolved once so a symlinked root still works. */
  static async open(dir: string): Promise<FileStorage> {
    await fs.mkdir(dir, { recursive: true });
    const s = new FileStorage(await fs.realpath(dir));
    await fs.mkdir(s.tmpDir, { recursive: true });
    await s.meta.init();
    await s.sweepTemp();
    return s;
  }

  /** Temp files left by a crash are garbage; old ones only, as another process may share the directory. */
  private async sweepTemp() {
    const now = Date.now();
    for (const name of await fs.readdir(this.tmpDir).catch(() => [])) {
      const p = join(this.tmpDir, name);
      const st = await fs.lstat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TEMP_MS) await fs.rm(p, { force: true, recursive: true }).catch(() => {});
    }
  }

  private abs(path: string) {
    return join(this.root, path);
  }

  /**
   * Checks every directory between the root and `path` (exclusive): none may be a symlink. With `create`,
   * missing ones are made; a non-directory in the way is a CONFLICT. Without, it reports "missing".
   */
  private async parents(path: string, create: boolean, includeSelf = false): Promise<Parents> {
    const segments = path.split("/");
    if (!includeSelf) segments.pop();
    let dir = this.root;
    for (const seg of segments) {
      dir = join(dir, seg);
      let st = await fs.lstat(dir).catch(mapFsError);
      if (!st && create) {
        await fs.mkdir(dir).catch((e) => (e.code === "EEXIST" ? undefined : mapFsError(e)));
        st = await fs.lstat(dir).catch(mapFsError);
      }
      if (!st) return "missing";
      if (st.isSymbolicLink()) throw sidecarError("FORBIDDEN", "path passes through a symbolic link");
      if (!st.isDirectory()) {
        if (create)
          throw sidecarError("CONFLICT", `cannot store under ${JSON.stringify(path)}: a parent path is an object`);
        return "missing";
      }
    }
    return "ok";
  }

  private async metaOf(path: string, st: Stats): Promise<ObjectMeta> {
    return this.meta.read(path, st);
  }

  async head(path: string) {
    if ((await this.parents(path, false)) === "missing") return undefined;
    const st = await fs.lstat(this.abs(path)).catch(mapFsError);
    if (!st || st.isDirectory()) return undefined;
    if (!st.isFile()) throw sidecarError("FORBIDDEN", "object is not a regular file");
    return this.metaOf(path, st);
  }

  async open(path: string): Promise<ObjectReader | undefined> {
    // The parents are checked while the file opens (neither needs the other), and refused afterwards: nothing is
    // read from a descriptor reached through a symlinked directory.
    const [parents, opened] = await Promise.allSettled([
      this.parents(path, false),
      fs.open(this.abs(path), constants.O_RDONLY | constants.O_NOFOLLOW).catch(mapFsError),
    ]);
    const fh = opened.status === "fulfilled" ? opened.value : undefined;
    if (parents.status === "rejected" || parents.value === "missing" || opened.status === "rejected") {
      void fh?.close().catch(() => {});
      if (parents.status === "rejected") throw parents.reason;
      if (opened.status === "rejected") throw opened.reason;
      return undefined;
    }
    if (!fh) return undefined;
    let closed = false;
    // Not awaited by readers: the bytes are already out, and the descriptor goes back a moment later.
    const close = async () => {
      if (closed) return;
      closed = true;
      await fh.close().catch(() => {});
    };
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        await close();
        return undefined;
      }
      const meta = await this.metaOf(path, st);
      return {
        meta,
        // Reads from the descriptor opened above: a concurrent replace renames a new inode into place and
        // this reader keeps serving the version whose metadata it reported.
        async *body(start: number, end: number) {
          try {
            if (end - start > 0 && end - start <= SMALL_READ) {
              // One read for a small object; a stream would cost a second read to find the end, and its machinery.
              const buf = Buffer.allocUnsafe(end - start);
              const { bytesRead } = await fh.read(buf, 0, end - start, start);
              if (bytesRead > 0) yield buf.subarray(0, bytesRead);
            } else if (end > start) {
              yield* fh.createReadStream({ start, end: end - 1, highWaterMark: READ_CHUNK, autoClose: false });
            }
          } finally {
            void close();
          }
        },
        close,
      };
    } catch (err) {
      await close();
      throw err;
    }
  }

  async write(path: string, body: AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<ObjectMeta> {
    await this.parents(path, true);
    const tmp = join(this.tmpDir, randomUUID());
    const h = new EtagHasher();
    try {
      const fh = await fs.open(tmp, "wx");
      let st: Stats;
      let etag = "";
      try {
        // Chunks (64 KiB off a socket) are gathered into writes of up to WRITE_BATCH, and the next batch is read
        // while the previous one is written. One write in flight at a time is the backpressure: at most two
        // batches of an upload are in memory.
        let batch: Uint8Array[] = [];
        let batched = 0;
        let writing: Promise<void> = Promise.resolve();
        const flush = async () => {
          await writing;
          const chunks = batch;
          writing = writeAll(fh, chunks);
          // Awaited by the next flush or the finally below; meanwhile a failure must not count as unhandled.
          writing.catch(() => {});
          batch = [];
          batched = 0;
        };
        try {
          for await (const chunk of body) {
            opts.signal?.throwIfAborted();
            h.update(chunk);
            batch.push(chunk);
            batched += chunk.length;
            if (batched >= WRITE_BATCH) await flush();
          }
          if (batched > 0) await flush();
        } finally {
          // A failed write surfaces here; one that failed while a read was pending is not left unhandled.
          await writing;
        }
        opts.signal?.throwIfAborted();
        st = await fh.stat();
        // On disk before the rename publishes it: after a power cut the object is the old one or the whole new one.
        // The metadata record (which names this inode, size and mtime) is written meanwhile: syncing the data
        // changes none of them, and the record must be in place before the rename makes the object visible.
        etag = h.etag();
        await Promise.all([fh.datasync(), this.meta.write(path, st, etag, opts.contentType)]);
      } finally {
        await fh.close();
      }
      // rename replaces a symlink at the target instead of following it; onto a directory it fails (CONFLICT).
      await fs.rename(tmp, this.abs(path)).catch(mapFsError);
      await syncDir(dirname(this.abs(path)));
      return { path, size: st.size, etag, contentType: opts.contentType, lastModified: st.mtime };
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      // A cancelled write reports a bare AbortError; the reason says why (client gone, shutdown).
      throw opts.signal?.aborted ? (opts.signal.reason ?? err) : mapFsErrorOr(err);
    }
  }

  async delete(path: string) {
    if ((await this.parents(path, false)) === "missing") return false;
    const target = this.abs(path);
    const st = await fs.lstat(target).catch(mapFsError);
    if (!st || st.isDirectory()) return false;
    if (!st.isFile()) throw sidecarError("FORBIDDEN", "object is not a regular file");
    const gone = await fs.unlink(target).then(
      () => true,
      (e) => mapFsError(e) ?? false,
    );
    if (gone) {
      await this.meta.remove(path);
      await this.prune(path);
    }
    return gone;
  }

  /** Removes directories left empty by a delete or move, up to the root. */
  private async prune(path: string) {
    const segments = path.split("/");
    for (segments.pop(); segments.length > 0; segments.pop()) {
      const ok = await fs.rmdir(this.abs(segments.join("/"))).then(
        () => true,
        () => false,
      );
      if (!ok) return;
    }
  }

  async move(source: string, destination: string) {
    if (source === destination) return this.head(source);
    if ((await this.parents(source, false)) === "missing") return undefined;
    const st = await fs.lstat(this.abs(source)).catch(mapFsError);
    if (!st || st.isDirectory()) return undefined;
    if (!st.isFile()) throw sidecarError("FORBIDDEN", "object is not a regular file");
    const old = await this.metaOf(source, st);
    await this.parents(destination, true);
    const existing = await fs.lstat(this.abs(destination)).catch(mapFsError);
    if (existing?.isDirectory())
      throw sidecarError("CONFLICT", `cannot store ${JSON.stringify(destination)}: objects exist under it`);
    // rename keeps the inode and mtime, so metadata written for the new path matches the file once moved.
    await this.meta.write(destination, st, old.etag, old.contentType);
    const moved = await fs.rename(this.abs(source), this.abs(destination)).then(
      () => true,
      (e) => mapFsError(e) ?? false,
    );
    if (!moved) return undefined;
    await this.meta.remove(source);
    await this.prune(source);
    return { ...old, path: destination };
  }

  async list(q: ListQuery) {
    const found: Array<{ path: string; st: Stats }> = [];
    if (q.prefix === "" || (await this.parents(q.prefix, false, true)) === "ok") {
      const walker = this.walk(q.prefix === "" ? "" : q.prefix + "/", q.after);
      // Candidates are stat'ed a batch at a time, in parallel; one that vanished meanwhile is skipped.
      for (let done = false; !done && found.length <= q.limit; ) {
        const batch: string[] = [];
        while (batch.length < q.limit + 1 - found.length) {
          const next = await walker.next();
          if (next.done) {
            done = true;
            break;
          }
          batch.push(next.value);
        }
        const stats = await Promise.all(batch.map((p) => fs.lstat(this.abs(p)).catch(() => undefined)));
        batch.forEach((path, i) => {
          const st = stats[i];
          if (st?.isFile()) found.push({ path, st });
        });
      }
      await walker.return(undefined);
    }
    const page = found.slice(0, q.limit);
    return { objects: await Promise.all(page.map((f) => this.metaOf(f.path, f.st))), more: found.length > q.limit };
  }

  /** Paths of files under `dir` (a "" or "a/b/" path) in UTF-8 byte order, skipping subtrees wholly <= `after`. */
  private async *walk(dir: string, after?: string): AsyncGenerator<string> {
    const entries = await fs.readdir(this.abs(dir), { withFileTypes: true }).catch(() => []);
    const items = entries
      .filter((e) => (e.isFile() || e.isDirectory()) && !(dir === "" && e.name === RESERVED_PREFIX))
      .map((e) => ({ key: dir + e.name + (e.isDirectory() ? "/" : ""), dir: e.isDirectory() }));
    sortByUtf8(items, (i) => i.key);
    for (const item of items) {
      if (after !== undefined && comparePaths(item.key, after) <= 0 && !(item.dir && after.startsWith(item.key)))
        continue;
      if (item.dir) yield* this.walk(item.key, after);
      else yield item.key;
    }
  }

  async ping() {
    await fs.access(this.tmpDir, constants.W_OK).catch(mapFsError);
  }

  async close() {}
}

/** fs errors → catalogue errors; ENOENT becomes undefined (callers treat it as "missing"). Never names the root. */
export function mapFsError(err: NodeJS.ErrnoException): undefined {
  switch (err.code) {
    case "ENOENT":
      return undefined;
    case "ELOOP":
      throw sidecarError("FORBIDDEN", "object is a symbolic link");
    case "ENAMETOOLONG":
      throw sidecarError("BAD_REQUEST", "a path segment is too long for the file backend");
    case "ENOTDIR":
    case "EISDIR":
    case "ENOTEMPTY":
    case "EEXIST":
      throw sidecarError("CONFLICT", "an object and a directory of objects cannot share a path on the file backend");
    case "ENOSPC":
    case "EDQUOT":
      throw sidecarError("UNAVAILABLE", "the storage directory is full");
    case "EACCES":
    case "EPERM":
    case "EROFS":
      throw sidecarError("UNAVAILABLE", "the storage directory is not accessible");
    default:
      throw err;
  }
}

/** mapFsError for a thrown value that may not be an fs error at all. */
function mapFsErrorOr(err: unknown): unknown {
  if (err instanceof Error && "code" in err && typeof err.code === "string" && err.code !== "ENOENT") {
    try {
      mapFsError(err as NodeJS.ErrnoException);
    } catch (mapped) {
      return mapped;
    }
  }
  return err;
}

/** Writes every byte of `chunks` at the file's current position (writev may write fewer than asked). */
async function writeAll(fh: fs.FileHandle, chunks: Uint8Array[]): Promise<void> {
  let { bytesWritten } = await fh.writev(chunks);
  for (const c of chunks) {
    if (bytesWritten >= c.length) {
      bytesWritten -= c.length;
      continue;
    }
    for (let off = bytesWritten; off < c.length; ) off += (await fh.write(c, off, c.length - off)).bytesWritten;
    bytesWritten = 0;
  }
}

/** Makes a rename in `dir` durable (the directory entry itself must reach the disk). Best effort: some filesystems refuse. */
async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!fh) return;
  await fh.sync().catch(() => {});
  await fh.close().catch(() => {});
}
