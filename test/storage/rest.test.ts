/** Storage over REST (HTTP/1.1) on the file backend: API.md's storage table, statuses, headers and envelopes. */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";
import { cutUpload, raw } from "./http.js";

let s: RunningSidecar;
let parent: string;
let root: string;
beforeAll(async () => {
  parent = mkdtempSync(join(tmpdir(), "mikcar-rest-"));
  root = join(parent, "root");
  s = await startSidecar({
    services: { storage: `file://${root}` },
    serviceOptions: { storage: { "max-object-size": "1MiB", "idle-timeout": "0.3" } },
  });
});
afterAll(() => s.close());

const req = (method: string, path: string, opts?: Parameters<typeof raw>[3]) =>
  raw(s.url, method, `/storage${path}`, opts);
const json = (r: { body: Buffer }) => JSON.parse(r.body.toString());

/** Polls until `check` holds (the server finishes a cut-off upload on its own time); no timing is asserted. */
async function eventually(check: () => Promise<boolean> | boolean, tries = 100) {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("condition never held");
}

describe("storage REST", () => {
  it("puts, gets, heads, lists and deletes with mikcar's shapes", async () => {
    let r = await req("PUT", "/object/docs/hello%20world.txt", {
      body: "hello world",
      headers: { "content-type": "text/plain" },
    });
    expect(r.status).toBe(201);
    expect(json(r)).toEqual({ path: "docs/hello world.txt", status: "created" });
    const etag = r.headers.etag;
    expect(etag).toBe('"5eb63bbbe01eeed093cb22bb8f5acdc3"');

    r = await req("GET", "/object/docs/hello%20world.txt");
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("hello world");
    expect(r.headers).toMatchObject({
      "content-type": "text/plain",
      etag,
      "content-length": "11",
      "accept-ranges": "bytes",
    });
    expect(new Date(r.headers["last-modified"]!).getTime()).toBeGreaterThan(0);

    r = await req("HEAD", "/object/docs/hello%20world.txt");
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    expect(r.headers).toMatchObject({ "x-object-size": "11", etag, "content-type": "text/plain" });
    expect(r.headers["x-last-modified"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    r = await req("GET", "/list/docs");
    expect(json(r)).toEqual({
      objects: [
        {
          location: "docs/hello world.txt",
          size: 11,
          last_modified: r.headers["x-last-modified"] ?? expect.any(String),
          e_tag: etag,
        },
      ],
      next_offset: null,
    });

    r = await req("DELETE", "/object/docs/hello%20world.txt");
    expect(r.status).toBe(200);
    expect(json(r)).toEqual({ path: "docs/hello world.txt", status: "deleted" });
    r = await req("DELETE", "/object/docs/hello%20world.txt");
    expect(r.status).toBe(404);
    expect(json(r)).toEqual({ code: "NOT_FOUND", error: "object not found: docs/hello world.txt", status: 404 });
    expect((await req("GET", "/object/docs/hello%20world.txt")).status).toBe(404);
    expect((await req("HEAD", "/object/docs/hello%20world.txt")).status).toBe(404);
  });

  it("defaults the content type and serves ranges, suffixes, 416 and 304", async () => {
    await req("PUT", "/object/r.bin", { body: "0123456789" });
    let r = await req("GET", "/object/r.bin", { headers: { range: "bytes=2-4" } });
    expect(r.status).toBe(206);
    expect(r.body.toString()).toBe("234");
    expect(r.headers).toMatchObject({
      "content-range": "bytes 2-4/10",
      "content-length": "3",
      "content-type": "application/octet-stream",
    });
    r = await req("GET", "/object/r.bin", { headers: { range: "bytes=-3" } });
    expect([r.status, r.body.toString(), r.headers["content-range"]]).toEqual([206, "789", "bytes 7-9/10"]);
    r = await req("GET", "/object/r.bin", { headers: { range: "bytes=8-" } });
    expect([r.status, r.body.toString()]).toEqual([206, "89"]);
    r = await req("GET", "/object/r.bin", { headers: { range: "bytes=10-20" } });
    expect(r.status).toBe(416);
    expect(r.headers["content-range"]).toBe("bytes */10");
    expect(json(r)).toMatchObject({ code: "RANGE_NOT_SATISFIABLE", status: 416 });
    // A zero-length suffix selects nothing (RFC 9110 14.1.1), so it is unsatisfiable, not the whole object.
    r = await req("GET", "/object/r.bin", { headers: { range: "bytes=-0" } });
    expect([r.status, r.headers["content-range"]]).toEqual([416, "bytes */10"]);
    r = await req("GET", "/object/r.bin", { headers: { range: "bytes=0-1,4-5" } }); // several ranges: ignored
    expect([r.status, r.body.toString()]).toEqual([200, "0123456789"]);
    const etag = r.headers.etag!;
    r = await req("GET", "/object/r.bin", { headers: { "if-none-match": etag } });
    expect(r.status).toBe(304);
    expect(r.body.length).toBe(0);
    expect(r.headers.etag).toBe(etag);
    r = await req("GET", "/object/r.bin", { headers: { "if-none-match": '"nope"' } });
    expect(r.status).toBe(200);
    // HEAD answers conditionals like GET (RFC 9110 13.1.2), so a cache can revalidate with HEAD.
    r = await req("HEAD", "/object/r.bin", { headers: { "if-none-match": `W/${etag}` } });
    expect([r.status, r.headers.etag]).toEqual([304, etag]);
    r = await req("HEAD", "/object/r.bin", { headers: { "if-none-match": '"nope"' } });
    expect([r.status, r.headers["x-object-size"]]).toEqual([200, "10"]);
  });

  it("refuses traversal in every encoding, and writes nothing outside the root", async () => {
    const cases: Array<[string, string]> = [
      ["/object/../x", "Path traversal not allowed"],
      ["/object/a/../../x", "Path traversal not allowed"],
      ["/object/%2e%2e/x", "Path traversal not allowed"],
      ["/object/%2E%2E%2Fx", "Path traversal not allowed"],
      ["/object/a%2F..%2F..%2Fx", "Path traversal not allowed"],
      ["/object/..%5Cx", "Path traversal not allowed"],
      ["/object/a%5C..%5C..%5Cx", "Path traversal not allowed"],
      ["/object/%2Fetc%2Fpasswd", "Absolute paths not allowed"],
      ["/object//etc/passwd", "Absolute paths not allowed"],
      ["/object/%5Cetc", "Absolute paths not allowed"],
      ["/object/a%00b", "Null bytes not allowed in path"],
      ["/object/.mikcar/meta", "reserved"],
      ["/list/..%2F..", "Path traversal not allowed"],
    ];
    for (const [path, msg] of cases) {
      for (const method of path.startsWith("/list") ? ["GET"] : ["PUT", "GET", "HEAD", "DELETE"]) {
        const r = await req(method, path, method === "PUT" ? { body: "pwned" } : {});
        expect(r.status, `${method} ${path}`).toBe(400);
        if (method !== "HEAD")
          expect(json(r), `${method} ${path}`).toMatchObject({
            code: "BAD_REQUEST",
            error: expect.stringContaining(msg),
          });
      }
    }
    // Double encoding is one decoding away from "..": it names a literal "%2e%2e" file inside the root.
    expect((await req("PUT", "/object/%252e%252e/x", { body: "ok" })).status).toBe(201);
    expect(readdirSync(root)).toContain("%2e%2e");
    expect(readdirSync(parent)).toEqual(["root"]);
  });

  it("accepts a leading ./ as mikcar does: the same object as without it, on every path-taking route", async () => {
    let r = await req("PUT", "/object/./file.txt", { body: "dot" });
    expect([r.status, json(r)]).toEqual([201, { path: "file.txt", status: "created" }]);
    expect((await req("GET", "/object/file.txt")).body.toString()).toBe("dot");
    expect((await req("GET", "/object/./file.txt")).body.toString()).toBe("dot");
    expect((await req("GET", "/object/%2E/file.txt")).body.toString()).toBe("dot");
    expect((await req("HEAD", "/object/./file.txt")).headers["x-object-size"]).toBe("3");
    expect(json(await req("GET", "/list/./")).objects.map((o: { location: string }) => o.location)).toContain(
      "file.txt",
    );
    const hdr = { "content-type": "application/json" };
    r = await req("POST", "/copy", {
      headers: hdr,
      body: JSON.stringify({ source: "./file.txt", destination: "./dot/copy" }),
    });
    expect(json(r)).toEqual({ path: "dot/copy", status: "copied" });
    expect(json(await req("GET", "/list/./dot"))).toMatchObject({ objects: [{ location: "dot/copy" }] });
    r = await req("DELETE", "/object/./file.txt");
    expect([r.status, json(r)]).toEqual([200, { path: "file.txt", status: "deleted" }]);
    expect((await req("HEAD", "/object/file.txt")).status).toBe(404);
    expect(readdirSync(root)).not.toContain(".");
    // Only a leading "./": the rest of the rules stand.
    for (const [path, msg] of [
      ["/object/./../x", "Path traversal not allowed"],
      ["/object/.//x", "Absolute paths not allowed"],
      ["/object/./a/./b", 'empty or "."'],
      ["/object/./a%5C..%5Cx", "Path traversal not allowed"],
      ["/object/./a%00", "Null bytes"],
    ]) {
      r = await req("PUT", path!, { body: "x" });
      expect([r.status, json(r).error], path).toEqual([400, expect.stringContaining(msg!)]);
    }
  });

  it("names what the REST caller sent in PUT errors: the path and the Content-Type header", async () => {
    let r = await req("PUT", "/object/a//b", { body: "x" });
    expect(json(r)).toMatchObject({ status: 400, error: 'path must not contain empty or "." segments' });
    r = await req("PUT", "/object/ok", {
      body: "x",
      headers: { "content-type": Buffer.from("t\u00ebxt/plain", "latin1").toString("latin1") },
    });
    expect(json(r)).toMatchObject({ status: 400, error: expect.stringMatching(/^content-type header /) });
    expect((await req("HEAD", "/object/ok")).status).toBe(404);
  });

  it("refuses an upload over --storage-max-object-size, declared or streamed, leaving nothing", async () => {
    let r = await req("PUT", "/object/big", { body: Buffer.alloc(1024 * 1024 + 1) });
    expect(r.status).toBe(413);
    expect(json(r)).toMatchObject({ code: "PAYLOAD_TOO_LARGE", error: expect.stringContaining("1048576") });
    async function* chunked() {
      for (let i = 0; i < 20; i++) yield Buffer.alloc(64 * 1024);
    }
    r = await req("PUT", "/object/big", { body: chunked() });
    expect(r.status).toBe(413);
    expect((await req("HEAD", "/object/big")).status).toBe(404);
  });

  it("leaves no partial object when the client disconnects mid-upload", async () => {
    await req("PUT", "/object/cut", { body: "previous" });
    await cutUpload(s.url, "/storage/object/cut", 800_000, 300_000);
    await cutUpload(s.url, "/storage/object/cut-new", 800_000, 300_000);
    await eventually(() => readdirSync(join(root, ".mikcar", "tmp")).length === 0);
    expect((await req("GET", "/object/cut")).body.toString()).toBe("previous");
    expect((await req("HEAD", "/object/cut-new")).status).toBe(404);
  });

  it("drops an upload that stops sending (idle timeout) with 408", async () => {
    async function* stalls() {
      yield Buffer.from("some bytes");
      await new Promise((r) => setTimeout(r, 2_000));
    }
    const r = await req("PUT", "/object/stalled", { body: stalls(), headers: { "content-length": 100 } }).catch(
      (e: Error) => e,
    );
    if (!(r instanceof Error)) expect(r.status).toBe(408);
    expect((await req("HEAD", "/object/stalled")).status).toBe(404);
  });

  it("pages lists with limit and offset, and copies and moves", async () => {
    for (const n of ["1", "2", "3"]) await req("PUT", `/object/pg/${n}`, { body: n });
    let r = await req("GET", "/list/pg?limit=2");
    expect(json(r)).toMatchObject({ objects: [{ location: "pg/1" }, { location: "pg/2" }], next_offset: "pg/2" });
    r = await req("GET", "/list/pg?limit=2&offset=pg/2");
    expect(json(r)).toMatchObject({ objects: [{ location: "pg/3" }], next_offset: null });
    expect((await req("GET", "/list?limit=0")).status).toBe(400);
    r = await req("GET", "/list?limit=9223372036854775808");
    expect(json(r)).toMatchObject({
      status: 400,
      error: expect.stringMatching(/^query parameter limit must be a 64-bit integer/),
    });
    const hdr = { "content-type": "application/json" };
    r = await req("POST", "/copy", { headers: hdr, body: JSON.stringify({ source: "pg/1", destination: "pg/copy" }) });
    expect(json(r)).toEqual({ path: "pg/copy", status: "copied" });
    r = await req("POST", "/move", {
      headers: hdr,
      body: JSON.stringify({ source: "pg/copy", destination: "moved/x" }),
    });
    expect(json(r)).toEqual({ path: "moved/x", status: "moved" });
    expect((await req("GET", "/object/moved/x")).body.toString()).toBe("1");
    r = await req("POST", "/move", { headers: hdr, body: JSON.stringify({ source: "pg/1" }) });
    expect(json(r)).toMatchObject({ status: 400, error: "field destination must be a string" });
  });

  it("reports the backend in health", async () => {
    const r = await fetch(`${s.url}/health`);
    expect(await r.json()).toMatchObject({ status: "ok", services: { storage: { backend: "file", status: "ok" } } });
  });
});
