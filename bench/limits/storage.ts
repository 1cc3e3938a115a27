/**
 * The storage limit on a directory (file:///dir): the least a server can do with the same durability as the
 * sidecar's file backend. GET opens with O_NOFOLLOW, fstats and reads (one read for small objects, a stream
 * otherwise); PUT writes a temp file, fdatasyncs it, renames it into place and fsyncs the directory; a list page
 * reads the directory, sorts it and lstats the page. No metadata, no hashing, no path checks.
 */
import { randomUUID } from "node:crypto";
import { constants, type Stats } from "node:fs";
import * as fs from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { isMain, serve, type Limit, type LimitRoute } from "./serve.js";

const SMALL = 64 * 1024;
const CHUNK = 256 * 1024;
const data1k = Buffer.alloc(1024, 0x5a);

const headersOf = (st: Stats) => ({
  etag: `"${st.ino.toString(16)}-${Math.round(st.mtimeMs * 1000).toString(16)}-${st.size.toString(16)}"`,
  "last-modified": st.mtime.toUTCString(),
  "content-type": "application/octet-stream",
  "accept-ranges": "bytes",
  "content-length": st.size,
});

export async function open(url: string): Promise<Limit> {
  const root = new URL(url).pathname;
  const tmp = join(root, ".tmp");
  await fs.mkdir(tmp, { recursive: true });

  async function write(path: string, body: AsyncIterable<Buffer> | Buffer) {
    const file = join(tmp, randomUUID());
    const fh = await fs.open(file, "wx");
    try {
      if (Buffer.isBuffer(body)) await fh.write(body);
      else for await (const c of body) await fh.write(c);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    const target = join(root, path);
    await fs.rename(file, target).catch(async (err) => {
      if (err.code !== "ENOENT") throw err;
      await fs.mkdir(dirname(target), { recursive: true });
      await fs.rename(file, target);
    });
    const dir = await fs.open(dirname(target), constants.O_RDONLY);
    await dir.sync();
    await dir.close();
  }

  async function readSmall(path: string): Promise<Buffer | undefined> {
    const fh = await fs.open(join(root, path), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = await fh.stat();
      const buf = Buffer.allocUnsafe(st.size);
      await fh.read(buf, 0, st.size, 0);
      return buf;
    } finally {
      await fh.close();
    }
  }

  const routes: LimitRoute[] = [
    {
      method: "GET",
      prefix: "/storage/object/",
      body: "stream",
      async handle({ rest, res }) {
        const fh = await fs
          .open(join(root, rest), constants.O_RDONLY | constants.O_NOFOLLOW)
          .catch((e) => (e.code === "ENOENT" ? undefined : Promise.reject(e)));
        if (!fh) return { status: 404, json: { error: `object not found: ${rest}` } };
        try {
          const st = await fh.stat();
          if (st.size <= SMALL) {
            const buf = Buffer.allocUnsafe(st.size);
            await fh.read(buf, 0, st.size, 0);
            await fh.close();
            res.writeHead(200, headersOf(st));
            res.end(buf);
            return undefined;
          }
          res.writeHead(200, headersOf(st));
          await pipeline(fh.createReadStream({ highWaterMark: CHUNK, autoClose: false }), res);
        } finally {
          await fh.close().catch(() => {});
        }
        return undefined;
      },
    },
    {
      method: "PUT",
      prefix: "/storage/object/",
      body: "stream",
      async handle({ rest, req }) {
        await write(rest, req);
        return { status: 201, json: { path: rest, status: "created" } };
      },
    },
    {
      method: "GET",
      prefix: "/storage/list/",
      async handle({ rest, query }) {
        const limit = Number(query.get("limit") ?? 1000);
        const dir = join(root, rest);
        const names = (await fs.readdir(dir)).sort();
        const page = names.slice(0, limit);
        const objects = await Promise.all(
          page.map(async (n) => {
            const st = await fs.lstat(join(dir, n));
            return {
              location: `${rest}/${n}`,
              size: st.size,
              last_modified: st.mtime.toISOString(),
              e_tag: headersOf(st).etag,
            };
          }),
        );
        return { json: { objects, next_offset: names.length > limit ? `${rest}/${page.at(-1)}` : null } };
      },
    },
  ];
  return {
    routes,
    direct: {
      put1k: (i) => write(`b/o${i}`, data1k),
      get1k: (i) => readSmall(`b/o${i}`),
    },
    close: async () => {},
  };
}

if (isMain(import.meta.url)) await serve(open);
