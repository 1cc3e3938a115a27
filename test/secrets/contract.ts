/**
 * The one behaviour suite every secrets backend runs, through the service (so validation and feature gates are
 * part of what is checked). Backends differ only in what their quirks declare, each with the reason.
 */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../gen/mikcar/secrets/v1/secrets_pb.js";
import type { SecretsBackend } from "../../src/services/secrets/backend.js";
import { createSecretsService } from "../../src/services/secrets/service.js";
import { runId } from "../helpers/backends.js";
import { codeOf, handlerContext } from "../helpers/rpc.js";

export interface SecretsQuirks {
  /** Joins name segments: GCP secret ids allow no "/", so its run uses "-". */
  sep?: string;
  /** For read-only backends: how the test puts a secret in place (e.g. an environment variable). */
  seed?: (name: string, value: string) => void;
  /** A well-formed version id that does not exist (AWS ids are UUIDs, others numbers). */
  missingVersion?: string;
  /** The backend records no timestamps (env, Vault KV v1). */
  noTimestamps?: boolean;
  /** List items carry no version (GCP: it would cost a call per secret). */
  listWithoutVersions?: boolean;
}

const ctx = () => handlerContext(pb.SecretsService, "get");

export function describeSecretsContract(name: string, open: () => Promise<SecretsBackend>, quirks: SecretsQuirks = {}) {
  describe(`secrets contract: ${name}`, () => {
    let backend: SecretsBackend;
    let svc: ReturnType<typeof createSecretsService>;
    const sep = quirks.sep ?? "/";
    const run = runId("s");
    const n = (...parts: string[]) => [run, ...parts].join(sep);

    beforeAll(async () => {
      backend = await open();
      svc = createSecretsService(backend);
    });
    afterAll(() => backend?.close());

    const put = async (name: string, value: string, labels: Record<string, string> = {}) => {
      if (backend.features.writable)
        return (await svc.create(create(pb.CreateRequestSchema, { name, value, labels }), ctx())).version;
      quirks.seed!(name, value);
      return "";
    };
    const get = async (name: string, version = ""): Promise<pb.Secret> =>
      create(pb.SecretSchema, (await svc.get(create(pb.GetRequestSchema, { name, version }), ctx())).secret);

    it("reads back what was stored, with metadata", async () => {
      const labels: Record<string, string> = backend.features.labels ? { team: "core", env: "test" } : {};
      await put(n("db", "password"), "hünter2 ✓", labels);
      const s = await get(n("db", "password"));
      expect(s.value).toBe("hünter2 ✓");
      expect(s.labels).toEqual(labels);
      expect((await svc.exists(create(pb.ExistsRequestSchema, { name: n("db", "password") }), ctx())).exists).toBe(
        true,
      );
    });

    it.runIf(!quirks.noTimestamps)("records when a secret was created and updated", async () => {
      await put(n("ts"), "v");
      const s = await get(n("ts"));
      expect(Date.parse(s.createdAt)).not.toBeNaN();
      expect(Date.parse(s.updatedAt)).toBeGreaterThanOrEqual(Date.parse(s.createdAt));
    });

    it.runIf(quirks.noTimestamps)("reports no timestamps when the backend records none (declared)", async () => {
      await put(n("ts"), "v");
      const s = await get(n("ts"));
      expect([s.createdAt, s.updatedAt]).toEqual(["", ""]);
    });

    it("answers NOT_FOUND for a missing secret and false for exists", async () => {
      expect(await codeOf(get(n("nope")))).toBe(Code.NotFound);
      expect((await svc.exists(create(pb.ExistsRequestSchema, { name: n("nope") }), ctx())).exists).toBe(false);
    });

    it("lists by prefix, sorted, without values", async () => {
      await put(n("app", "b"), "2");
      await put(n("app", "a"), "1");
      await put(n("apple"), "3");
      await put(n("other"), "4");
      const res = create(
        pb.ListResponseSchema,
        await svc.list(create(pb.ListRequestSchema, { prefix: n("app") + sep }), ctx()),
      );
      expect(res.secrets.map((s) => s.name)).toEqual([n("app", "a"), n("app", "b")]);
      expect(JSON.stringify(res.secrets)).not.toMatch(/"value"/);
      const wide = create(
        pb.ListResponseSchema,
        await svc.list(create(pb.ListRequestSchema, { prefix: n("app") }), ctx()),
      );
      expect(wide.secrets.map((s) => s.name)).toEqual([n("app", "a"), n("app", "b"), n("apple")]);
    });

    it.runIf(!quirks.listWithoutVersions)("lists each secret with its current version", async () => {
      await put(n("lv", "a"), "1");
      const res = create(
        pb.ListResponseSchema,
        await svc.list(create(pb.ListRequestSchema, { prefix: n("lv") + sep }), ctx()),
      );
      expect(res.secrets[0]!.version).toBe((await get(n("lv", "a"))).version);
    });

    it.runIf(quirks.listWithoutVersions)("lists secrets without versions (declared)", async () => {
      await put(n("lv", "a"), "1");
      const res = create(
        pb.ListResponseSchema,
        await svc.list(create(pb.ListRequestSchema, { prefix: n("lv") + sep }), ctx()),
      );
      expect(res.secrets[0]!.version).toBe("");
    });

    it("refuses bad names with a message naming the field", async () => {
      for (const bad of ["", "/abs", "a//b", "a/../b", "trailing/", "nul\u0000"]) {
        await expect(get(bad)).rejects.toMatchObject({
          code: Code.InvalidArgument,
          rawMessage: expect.stringMatching(/^name/),
        });
      }
    });

    // A read-only backend is known before it is opened: its quirks say how to seed it.
    describe.runIf(quirks.seed !== undefined)("read-only backend", () => {
      it("is read-only: writes are refused and change nothing", async () => {
        const req = create(pb.CreateRequestSchema, { name: n("ro"), value: "x" });
        await expect(svc.create(req, ctx())).rejects.toMatchObject({
          code: Code.InvalidArgument,
          rawMessage: expect.stringMatching(/read-only/),
        });
        expect(await codeOf(svc.update(create(pb.UpdateRequestSchema, { name: n("ro"), value: "y" }), ctx()))).toBe(
          Code.InvalidArgument,
        );
        expect(await codeOf(svc.delete(create(pb.DeleteRequestSchema, { name: n("db", "password") }), ctx()))).toBe(
          Code.InvalidArgument,
        );
        expect(await codeOf(get(n("ro")))).toBe(Code.NotFound);
      });
      it("has no versions: asking for one is refused", async () => {
        expect(await codeOf(get(n("db", "password"), "2"))).toBe(Code.InvalidArgument);
      });
    });

    describe.runIf(quirks.seed === undefined)("writable backend", () => {
      it("refuses to create a name twice, keeping the first value", async () => {
        await put(n("dup"), "first");
        expect(await codeOf(put(n("dup"), "second"))).toBe(Code.AlreadyExists);
        expect((await get(n("dup"))).value).toBe("first");
      });

      it("updates to a new version; older versions stay readable where the backend keeps them", async () => {
        const v1 = await put(n("rot"), "one");
        const before = await get(n("rot"));
        const v2 = (await svc.update(create(pb.UpdateRequestSchema, { name: n("rot"), value: "two" }), ctx())).version;
        const after = await get(n("rot"));
        expect(after.value).toBe("two");
        expect(after.createdAt).toBe(before.createdAt);
        if (backend.features.versions) {
          expect(v2).not.toBe(v1);
          expect(after.version).toBe(v2);
          expect((await get(n("rot"), v1)).value).toBe("one");
          expect(await codeOf(get(n("rot"), quirks.missingVersion ?? "999"))).toBe(Code.NotFound);
        } else {
          expect(await codeOf(get(n("rot"), "1"))).toBe(Code.InvalidArgument);
        }
      });

      it("answers NOT_FOUND when updating a missing secret, and creates nothing", async () => {
        expect(await codeOf(svc.update(create(pb.UpdateRequestSchema, { name: n("ghost"), value: "x" }), ctx()))).toBe(
          Code.NotFound,
        );
        expect(await codeOf(get(n("ghost")))).toBe(Code.NotFound);
      });

      it("deletes every version; the name can be used again", async () => {
        await put(n("gone"), "a");
        const del = () => svc.delete(create(pb.DeleteRequestSchema, { name: n("gone") }), ctx());
        expect((await del()).deleted).toBe(true);
        expect(await codeOf(get(n("gone")))).toBe(Code.NotFound);
        expect((await del()).deleted).toBe(false);
        await put(n("gone"), "b");
        expect((await get(n("gone"))).value).toBe("b");
      });

      it("stores labels where supported, refuses them where not", async () => {
        const req = create(pb.CreateRequestSchema, { name: n("lab"), value: "v", labels: { a: "1" } });
        if (backend.features.labels) {
          await svc.create(req, ctx());
          expect((await get(n("lab"))).labels).toEqual({ a: "1" });
        } else {
          await expect(svc.create(req, ctx())).rejects.toMatchObject({
            code: Code.InvalidArgument,
            rawMessage: expect.stringMatching(/labels/),
          });
        }
        await expect(
          svc.create(
            create(pb.CreateRequestSchema, { name: n("lab2"), value: "v", labels: { "bad key": "1" } }),
            ctx(),
          ),
        ).rejects.toMatchObject({
          code: Code.InvalidArgument,
        });
      });

      it("keeps values exactly, up to the 64 KiB limit", async () => {
        const big = "é".repeat(32 * 1024);
        await put(n("big"), big);
        expect((await get(n("big"))).value).toBe(big);
        await expect(put(n("huge"), "x".repeat(64 * 1024 + 1))).rejects.toMatchObject({
          code: Code.InvalidArgument,
          rawMessage: expect.stringMatching(/^value/),
        });
      });
    });
  });
}
