/** An in-process S3-protocol server (s3rver) on loopback with a random port, for the S3 backend's tests. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backendAvailable } from "../helpers/backends.js";

export interface LocalS3 {
  /** An `s3://` URL for `bucket` with endpoint, region, path-style and s3rver's fixed credentials. */
  url(bucket?: string, creds?: { id: string; secret: string }): string;
  endpoint: string;
  close(): Promise<void>;
}

export const BUCKET = "mikcar-test";

/** Starts s3rver, or returns undefined (an honest skip, a failure under REQUIRE_BACKENDS) when it cannot run. */
export async function startS3rver(): Promise<LocalS3 | undefined> {
  let started: LocalS3 | undefined;
  const ok = await backendAvailable("s3", async () => {
    started = await startS3rverOn(0);
  });
  return ok ? started : undefined;
}

/** Starts s3rver on `port` (0 = any free one). */
export async function startS3rverOn(wanted: number): Promise<LocalS3> {
  const dir = mkdtempSync(join(tmpdir(), "mikcar-s3rver-"));
  const S3rver = (await import("s3rver")).default;
  const server = new S3rver({
    port: wanted,
    address: "127.0.0.1",
    silent: true,
    directory: dir,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = await server.run();
  let closed = false;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    url: (bucket = BUCKET, creds = { id: "S3RVER", secret: "S3RVER" }) =>
      `s3://${bucket}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&force_path_style=true` +
      `&access_key_id=${creds.id}&secret_access_key=${creds.secret}`,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
