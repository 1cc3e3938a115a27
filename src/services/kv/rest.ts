/** The KV rows of the REST table (API.md, KV): mikcar's paths onto the one KvService implementation. */
// Validates in place (simdutf); a fatal TextDecoder would build the whole string only to throw it away.
import { isUtf8 } from "node:buffer";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import * as pb from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { sidecarError } from "../../shared/errors.js";
import { stringifyExact } from "../../shared/exact-json.js";
import { jsonInt, jsonObject, jsonStringArray, queryInt } from "../../shared/rest-params.js";
import type { RestRequest, RestRoute } from "../../shared/rest-route.js";

const m = pb.KvService.method;
const lossy = new TextDecoder("utf-8");

/** A JSON value for a stored value: its text (mikcar returns strings; invalid UTF-8 is shown with U+FFFD). */
const asText = (v: Uint8Array) => lossy.decode(v);

export function kvRoutes(kv: ServiceImpl<typeof pb.KvService>): RestRoute[] {
  const ttlParam = (r: RestRequest) => queryInt(r.query, "ttl", 0n, { min: 0n });
  return [
    {
      method: "GET",
      path: "/get/:key",
      body: "none",
      async handle(r) {
        const { value } = await kv.get(create(pb.GetRequestSchema, { key: r.params.key }), r.context(m.get));
        const bytes = value ?? new Uint8Array();
        return {
          body: bytes,
          headers: { "content-type": isUtf8(bytes) ? "text/plain; charset=utf-8" : "application/octet-stream" },
        };
      },
    },
    {
      method: "POST",
      path: "/get/batch",
      body: "json",
      async handle(r) {
        const keys = jsonStringArray(jsonObject(r.json), "keys");
        const res = await kv.getBatch(create(pb.GetBatchRequestSchema, { keys }), r.context(m.getBatch));
        const out: Record<string, string | null> = {};
        for (const k of keys) out[k] = res.values?.[k] ? asText(res.values[k]) : null;
        return { json: out };
      },
    },
    {
      method: "POST",
      path: "/set/batch",
      body: "json",
      async handle(r) {
        const values: Record<string, Uint8Array> = {};
        // Strings are stored as their text; any other JSON value as its JSON text.
        for (const [k, v] of Object.entries(jsonObject(r.json))) {
          values[k] = Buffer.from(typeof v === "string" ? v : stringifyExact(v));
        }
        const req = create(pb.SetBatchRequestSchema, { values, ttlSeconds: ttlParam(r) });
        const res = await kv.setBatch(req, r.context(m.setBatch));
        return { json: { count: res.count, status: "ok" } };
      },
    },
    {
      method: "POST",
      path: "/set/:key",
      body: "raw",
      async handle(r) {
        const req = create(pb.SetRequestSchema, { key: r.params.key, value: r.body, ttlSeconds: ttlParam(r) });
        await kv.set(req, r.context(m.set));
        return { json: { key: r.params.key, status: "ok" } };
      },
    },
    {
      method: "DELETE",
      path: "/del/:key",
      body: "none",
      async handle(r) {
        const res = await kv.delete(create(pb.DeleteRequestSchema, { key: r.params.key }), r.context(m.delete));
        return { json: { deleted: res.deleted ? 1 : 0, status: "ok" } };
      },
    },
    ...["/keys", "/keys/:pattern"].map(
      (path): RestRoute => ({
        method: "GET",
        path,
        body: "none",
        async handle(r) {
          const req = create(pb.KeysRequestSchema, {
            pattern: r.params.pattern ?? "*",
            limit: Number(queryInt(r.query, "limit", 0n, { min: 0n, max: 1_000_000n })),
            cursor: r.query.get("cursor") ?? "",
          });
          const res = await kv.keys(req, r.context(m.keys));
          return { json: { keys: res.keys ?? [], next_cursor: res.nextCursor || null } };
        },
      }),
    ),
    {
      method: "POST",
      path: "/increment/:key",
      body: "json",
      async handle(r) {
        const by = jsonInt(jsonObject(r.json), "by") ?? (r.query.has("by") ? queryInt(r.query, "by", 1n) : undefined);
        const res = await kv.increment(
          create(pb.IncrementRequestSchema, { key: r.params.key, by }),
          r.context(m.increment),
        );
        return { json: { value: res.value } };
      },
    },
    {
      method: "GET",
      path: "/exists/:key",
      body: "none",
      async handle(r) {
        const res = await kv.exists(create(pb.ExistsRequestSchema, { key: r.params.key }), r.context(m.exists));
        return { json: { exists: res.exists ?? false } };
      },
    },
    {
      method: "GET",
      path: "/ttl/:key",
      body: "none",
      async handle(r) {
        const res = await kv.ttl(create(pb.TtlRequestSchema, { key: r.params.key }), r.context(m.ttl));
        return { json: { ttl: res.ttl } };
      },
    },
    {
      method: "POST",
      path: "/expire/:key",
      body: "json",
      async handle(r) {
        const seconds = jsonInt(jsonObject(r.json), "seconds");
        if (seconds === undefined) throw sidecarError("BAD_REQUEST", "field seconds is required");
        const res = await kv.expire(
          create(pb.ExpireRequestSchema, { key: r.params.key, seconds }),
          r.context(m.expire),
        );
        return { json: { status: res.existed ? "ok" : "key_not_found" } };
      },
    },
  ];
}
