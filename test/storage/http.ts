/** A raw HTTP/1.1 client for storage tests: sends the path byte for byte (fetch would normalise "..") and streams. */
import * as http from "node:http";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function raw(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string | number>; body?: string | Buffer | AsyncIterable<Buffer> } = {},
): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path, headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    const body = opts.body;
    if (body === undefined || typeof body === "string" || Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    (async () => {
      for await (const chunk of body) if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
      req.end();
    })().catch(reject);
  });
}

/** Streams a GET body through `onChunk` without keeping it; resolves with status and byte count. */
export function drain(
  base: string,
  path: string,
  onChunk: (c: Buffer) => void = () => {},
): Promise<{ status: number; bytes: number }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path, agent: false }, (res) => {
        let bytes = 0;
        res.on("data", (c: Buffer) => {
          bytes += c.length;
          onChunk(c);
        });
        res.on("end", () => resolve({ status: res.statusCode!, bytes }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

/**
 * Starts a PUT that sends `sent` bytes of a declared `declared`, then cuts the connection: a client that
 * crashed mid-upload.
 */
export function cutUpload(base: string, path: string, declared: number, sent: number): Promise<void> {
  const u = new URL(base);
  return new Promise((resolve) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method: "PUT",
      path,
      headers: { "content-length": declared },
      agent: false,
    });
    req.on("error", () => resolve());
    req.write(Buffer.alloc(sent, 7), () => setTimeout(() => req.destroy(), 50));
    req.on("close", () => resolve());
  });
}
