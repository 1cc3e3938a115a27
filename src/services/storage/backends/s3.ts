/**
 * Objects in an S3 bucket (AWS S3, MinIO, R2, any S3-compatible endpoint) through @aws-sdk/client-s3. Uploads
 * stream through lib-storage's `Upload` (one PutObject for small bodies, multipart beyond one part, aborted on
 * failure), so the object appears only when complete and memory stays at a few parts.
 */
import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { SidecarError, sidecarError } from "../../../shared/errors.js";
import type { ListQuery, ObjectMeta, ObjectReader, StorageBackend, WriteOptions } from "../backend.js";

/** S3 lists at most 1000 keys per call. */
const S3_PAGE = 1000;
const PART_SIZE = 8 * 1024 * 1024;

export interface S3Location {
  bucket: string;
  config: S3ClientConfig;
}

/** `s3://bucket?endpoint=&region=&access_key_id=&secret_access_key=&force_path_style=`; the rest from AWS env/chain. */
export function parseS3Url(url: string): S3Location {
  const u = new URL(url);
  const bucket = decodeURIComponent(u.hostname);
  if (!bucket) throw new Error("storage URL s3:// must name a bucket: s3://bucket?region=…");
  const q = u.searchParams;
  const config: S3ClientConfig = {
    region: q.get("region") ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    maxAttempts: 2,
    // Without these a dead endpoint holds requests for minutes before the client gives up.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 60_000 },
  };
  const endpoint = q.get("endpoint");
  if (endpoint) config.endpoint = endpoint;
  const style = q.get("force_path_style");
  if (style !== null) config.forcePathStyle = style === "" || style === "true" || style === "1";
  const id = q.get("access_key_id");
  const secret = q.get("secret_access_key");
  if ((id === null) !== (secret === null))
    throw new Error("storage URL s3:// needs both access_key_id and secret_access_key, or neither");
  if (id !== null && secret !== null) config.credentials = { accessKeyId: id, secretAccessKey: secret };
  return { bucket, config };
}

interface AwsError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "EPIPE"]);
const CREDENTIALS = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "ExpiredToken",
  "CredentialsProviderError",
  "InvalidToken",
]);

function isNotFound(err: unknown): boolean {
  const e = err as AwsError;
  return (
    e.name === "NoSuchKey" ||
    e.name === "NotFound" ||
    (e.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket")
  );
}

/** SDK errors → catalogue errors with a message that names the cause but never the endpoint or keys. */
export function mapS3Error(err: unknown): never {
  if (err instanceof SidecarError) throw err;
  const e = err as AwsError;
  const status = e.$metadata?.httpStatusCode;
  if (e.code && NETWORK.has(e.code)) throw sidecarError("UNAVAILABLE", `S3 endpoint is unreachable (${e.code})`);
  if (e.name === "TimeoutError" || e.name === "RequestTimeout")
    throw sidecarError("UNAVAILABLE", "S3 endpoint did not answer in time");
  if (e.name && CREDENTIALS.has(e.name)) throw sidecarError("BAD_GATEWAY", `S3 refused the credentials (${e.name})`);
  if (status === 403)
    throw sidecarError("BAD_GATEWAY", "S3 refused the request (403 Forbidden: credentials or permissions)");
  if (e.name === "NoSuchBucket") throw sidecarError("BAD_GATEWAY", "S3 bucket does not exist");
  if (e.name === "PreconditionFailed" || status === 412)
    throw sidecarError("CONFLICT", "object changed while it was being read");
  if (status === 503 || e.name === "SlowDown")
    throw sidecarError("UNAVAILABLE", `S3 is unavailable (${e.name ?? status})`);
  throw sidecarError("BAD_GATEWAY", `S3 request failed (${e.name ?? status ?? "unknown error"})`, {}, err);
}

export class S3Storage implements StorageBackend {
  readonly name = "s3";

  private constructor(
    private client: S3Client,
    private bucket: string,
  ) {}

  static async open(url: string): Promise<S3Storage> {
    const loc = parseS3Url(url);
    // No probe here: a sidecar starts even while S3 is down, reports it in health and recovers by itself.
    return new S3Storage(new S3Client(loc.config), loc.bucket);
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return mapS3Error(err);
    }
  }

  /** undefined when the object is missing. */
  private async headOrMissing(path: string): Promise<ObjectMeta | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: path }));
      return {
        path,
        size: r.ContentLength ?? 0,
        etag: r.ETag ?? "",
        contentType: r.ContentType ?? "",
        lastModified: r.LastModified ?? new Date(0),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      return mapS3Error(err);
    }
  }

  head(path: string) {
    return this.headOrMissing(path);
  }

  async open(path: string): Promise<ObjectReader | undefined> {
    const meta = await this.headOrMissing(path);
    if (!meta) return undefined;
    const { client, bucket } = this;
    return {
      meta,
      async *body(start: number, end: number, signal?: AbortSignal) {
        if (end <= start) return;
        // IfMatch pins the version `meta` describes; a replace in between is a CONFLICT, not mixed bytes.
        const cmd = new GetObjectCommand({
          Bucket: bucket,
          Key: path,
          Range: `bytes=${start}-${end - 1}`,
          IfMatch: meta.etag || undefined,
        });
        let body: Readable;
        try {
          body = (await client.send(cmd, { abortSignal: signal })).Body as Readable;
        } catch (err) {
          if (isNotFound(err)) throw sidecarError("CONFLICT", "object was deleted while it was being read");
          return mapS3Error(err);
        }
        try {
          for await (const chunk of body) yield chunk as Uint8Array;
        } catch (err) {
          mapS3Error(err);
        } finally {
          body.destroy();
        }
      },
      close: async () => {},
    };
  }

  async write(path: string, body: AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<ObjectMeta> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: path,
        Body: Readable.from(body, { objectMode: false }),
        ContentType: opts.contentType || undefined,
      },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => {});
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      if (err instanceof SidecarError) throw err;
      mapS3Error(err);
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
    }
    const meta = await this.headOrMissing(path);
    if (!meta) throw sidecarError("BAD_GATEWAY", "S3 accepted the upload but the object is not there");
    return meta;
  }

  async delete(path: string) {
    // S3 deletes succeed for missing keys; the contract wants NOT_FOUND, so look first.
    if (!(await this.headOrMissing(path))) return false;
    await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: path })));
    return true;
  }

  async list(q: ListQuery) {
    // ListObjects (v1) with Marker: every S3 implementation has it, and unlike v2's continuation tokens it works
    // on s3rver under Node 20 (its tokens need DES, which OpenSSL 3 dropped). Marker = the last key seen.
    const objects: ObjectMeta[] = [];
    let marker = q.after;
    let more = false;
    do {
      const r = await this.call(() =>
        this.client.send(
          new ListObjectsCommand({
            Bucket: this.bucket,
            Prefix: q.prefix === "" ? undefined : q.prefix + "/",
            Marker: marker,
            MaxKeys: Math.min(S3_PAGE, q.limit - objects.length),
          }),
        ),
      );
      for (const o of r.Contents ?? []) {
        objects.push({
          path: o.Key!,
          size: o.Size ?? 0,
          etag: o.ETag ?? "",
          contentType: "",
          lastModified: o.LastModified ?? new Date(0),
        });
      }
      more = r.IsTruncated === true;
      marker = objects.at(-1)?.path;
    } while (more && marker !== undefined && objects.length < q.limit);
    return { objects: objects.slice(0, q.limit), more: more || objects.length > q.limit };
  }

  async copy(source: string, destination: string) {
    const copySource = `${this.bucket}/${source.split("/").map(encodeURIComponent).join("/")}`;
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: destination,
          CopySource: copySource,
          MetadataDirective: "COPY",
        }),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      return mapS3Error(err);
    }
    return this.headOrMissing(destination);
  }

  async ping() {
    await this.call(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  async close() {
    this.client.destroy();
  }
}
