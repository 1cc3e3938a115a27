/** S3 faults through the whole sidecar: unreachable endpoint → 503 then recovery, refused credentials → 502. */
import { afterAll, describe, expect, it } from "vitest";
import { startSidecar } from "../helpers/sidecar.js";
import { startS3rver } from "./s3rver.js";
import { raw } from "./http.js";

const s3 = await startS3rver();
afterAll(() => s3?.close());

describe.runIf(s3)("s3 faults", () => {
  it("answers 503 while the endpoint is down, never leaking it, and recovers", async () => {
    const port = new URL(s3!.endpoint).port;
    const { startS3rverOn } = await import("./s3rver.js");
    const side = await startSidecar({ services: { storage: s3!.url() } });
    try {
      await s3!.close();
      const r = await raw(side.url, "PUT", "/storage/object/x", { body: "x" });
      expect(r.status).toBe(503);
      const env = JSON.parse(r.body.toString());
      expect(env).toMatchObject({ code: "UNAVAILABLE", error: "S3 endpoint is unreachable (ECONNREFUSED)" });
      expect(r.body.toString()).not.toContain(port);
      expect(r.body.toString()).not.toContain("S3RVER");
      expect((await raw(side.url, "GET", "/storage/list")).status).toBe(503);
      expect(JSON.parse((await raw(side.url, "GET", "/health")).body.toString())).toMatchObject({
        status: "degraded",
        services: { storage: { backend: "s3", status: "unavailable" } },
      });
      const again = await startS3rverOn(Number(port));
      try {
        expect((await raw(side.url, "PUT", "/storage/object/x", { body: "back" })).status).toBe(201);
        expect((await raw(side.url, "GET", "/storage/object/x")).body.toString()).toBe("back");
      } finally {
        await again.close();
      }
    } finally {
      await side.close();
    }
  });
});

describe.runIf(s3)("s3 credentials", () => {
  it("answers 502 when S3 refuses the credentials", async () => {
    const fresh = await startS3rver();
    const side = await startSidecar({ services: { storage: fresh!.url(undefined, { id: "WRONG", secret: "nope" }) } });
    try {
      const r = await raw(side.url, "GET", "/storage/object/x");
      expect(r.status).toBe(502);
      expect(JSON.parse(r.body.toString())).toMatchObject({
        code: "BAD_GATEWAY",
        error: expect.stringMatching(/^S3 refused the (credentials|request)/),
      });
      const put = await raw(side.url, "PUT", "/storage/object/x", { body: "x" });
      expect(JSON.parse(put.body.toString())).toMatchObject({
        status: 502,
        error: "S3 refused the credentials (InvalidAccessKeyId)",
      });
    } finally {
      await side.close();
      await fresh!.close();
    }
  });
});
