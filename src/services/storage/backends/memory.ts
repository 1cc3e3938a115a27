/** In-process object store for development and tests; nothing survives a restart. */
import {
  comparePaths,
  EtagHasher,
  underPrefix,
  type ListQuery,
  type ObjectMeta,
  type ObjectReader,
  type StorageBackend,
  type WriteOptions,
} from "../backend.js";

interface Entry {
  data: Buffer;
  meta: ObjectMeta;
}

export interface MemoryStorageOptions {
  /** Clock for last-modified times, injectable for tests. */
  now?: () => Date;
}

/** Chunk size for reads, so large objects stream like they do from the other backends. */
const CHUNK = 256 * 1024;

export class MemoryStorage implements StorageBackend {
  readonly name = "memory";
  private objects = new Map<string, Entry>();
  private now: () => Date;

  constructor(opts: MemoryStorageOptions = {}) {
    this.now = opts.now ?? (() => new Date());
  }

  async head(path: string) {
    const e = this.objects.get(path);
    return e && { ...e.meta };
  }

  async open(path: string): Promise<ObjectReader | undefined> {
    const e = this.objects.get(path);
    if (!e) return undefined;
    // Buffers are never mutated, only replaced, so holding this one is a consistent snapshot.
    const data = e.data;
    return {
      meta: { ...e.meta },
      async *body(start: number, end: number) {
        for (let i = start; i < end; i += CHUNK) yield data.subarray(i, Math.min(end, i + CHUNK));
      },
      close: async () => {},
    };
  }

  async write(path: string, body: AsyncIterable<Uint8Array>, opts: WriteOptions) {
    const chunks: Buffer[] = [];
    const h = new EtagHasher();
    for await (const chunk of body) {
      opts.signal?.throwIfAborted();
      h.update(chunk);
      chunks.push(Buffer.from(chunk));
    }
    opts.signal?.throwIfAborted();
    return this.store(path, Buffer.concat(chunks, h.size), h.etag(), opts.contentType);
  }

  private store(path: string, data: Buffer, etag: string, contentType: string): ObjectMeta {
    const meta = { path, size: data.length, etag, contentType, lastModified: this.now() };
    this.objects.set(path, { data, meta });
    return { ...meta };
  }

  async delete(path: string) {
    return this.objects.delete(path);
  }

  async list(q: ListQuery) {
    const paths = [...this.objects.keys()]
      .filter((p) => underPrefix(p, q.prefix) && (q.after === undefined || comparePaths(p, q.after) > 0))
      .sort(comparePaths);
    return {
      objects: paths.slice(0, q.limit).map((p) => ({ ...this.objects.get(p)!.meta })),
      more: paths.length > q.limit,
    };
  }

  async copy(source: string, destination: string) {
    const e = this.objects.get(source);
    return e && this.store(destination, e.data, e.meta.etag, e.meta.contentType);
  }

  async move(source: string, destination: string) {
    const meta = await this.copy(source, destination);
    if (meta && source !== destination) this.objects.delete(source);
    return meta;
  }

  async ping() {}

  async close() {
    this.objects.clear();
  }
}
