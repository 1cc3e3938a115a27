/** The secrets rows of the REST table (API.md, Secrets): mikcar's paths and shapes onto the one SecretsService. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import * as pb from "../../../gen/mikcar/secrets/v1/secrets_pb.js";
import { sidecarError } from "../../shared/errors.js";
import { jsonObject } from "../../shared/rest-params.js";
import type { RestRequest, RestRoute } from "../../shared/rest-route.js";

const m = pb.SecretsService.method;

/** `{"value": "...", "labels": {...}}`, checked field by field. */
function secretBody(r: RestRequest): { value: string; labels: Record<string, string> } {
  const body = jsonObject(r.json);
  if (typeof body.value !== "string") throw sidecarError("BAD_REQUEST", "field value is required and must be a string");
  const labels = body.labels ?? {};
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) {
    throw sidecarError("BAD_REQUEST", "field labels must be an object of strings");
  }
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== "string") throw sidecarError("BAD_REQUEST", `field labels.${k} must be a string`);
  }
  return { value: body.value, labels: labels as Record<string, string> };
}

const infoJson = (s: pb.SecretInfo) => ({
  name: s.name,
  version: s.version,
  created_at: s.createdAt,
  updated_at: s.updatedAt,
});

export function secretsRoutes(svc: ServiceImpl<typeof pb.SecretsService>): RestRoute[] {
  const name = (r: RestRequest) => r.params["*"] ?? "";
  const list = async (r: RestRequest, prefix: string | undefined) => {
    const res = await svc.list(create(pb.ListRequestSchema, { prefix: prefix ?? "" }), r.context(m.list));
    const secrets = (res.secrets ?? []).map((s) => infoJson(create(pb.SecretInfoSchema, s)));
    return { json: { secrets, count: secrets.length, ...(prefix !== undefined ? { prefix } : {}) } };
  };
  return [
    {
      method: "GET",
      path: "/secret/*",
      body: "none",
      async handle(r) {
        const req = create(pb.GetRequestSchema, { name: name(r), version: r.query.get("version") ?? "" });
        const s = create(pb.SecretSchema, (await svc.get(req, r.context(m.get))).secret);
        return {
          json: {
            value: s.value,
            version: s.version,
            created_at: s.createdAt,
            updated_at: s.updatedAt,
            labels: s.labels,
          },
        };
      },
    },
    {
      method: "POST",
      path: "/secret/*",
      body: "json",
      async handle(r) {
        const { value, labels } = secretBody(r);
        const res = await svc.create(
          create(pb.CreateRequestSchema, { name: name(r), value, labels }),
          r.context(m.create),
        );
        return { status: 201, json: { status: "created", name: name(r), version: res.version ?? "" } };
      },
    },
    {
      method: "PUT",
      path: "/secret/*",
      body: "json",
      async handle(r) {
        const { value, labels } = secretBody(r);
        // Refused rather than ignored (mikcar ignores them): labels belong to the secret, set at creation.
        if (Object.keys(labels).length > 0)
          throw sidecarError("BAD_REQUEST", "field labels can only be set when a secret is created");
        const res = await svc.update(create(pb.UpdateRequestSchema, { name: name(r), value }), r.context(m.update));
        return { json: { status: "updated", name: name(r), version: res.version ?? "" } };
      },
    },
    {
      method: "DELETE",
      path: "/secret/*",
      body: "none",
      async handle(r) {
        const res = await svc.delete(create(pb.DeleteRequestSchema, { name: name(r) }), r.context(m.delete));
        if (!res.deleted) throw sidecarError("NOT_FOUND", `secret not found: ${name(r)}`);
        return { json: { status: "deleted", name: name(r) } };
      },
    },
    {
      method: "GET",
      path: "/exists/*",
      body: "none",
      async handle(r) {
        const res = await svc.exists(create(pb.ExistsRequestSchema, { name: name(r) }), r.context(m.exists));
        return { json: { exists: res.exists ?? false, name: name(r) } };
      },
    },
    { method: "GET", path: "/list", body: "none", handle: (r) => list(r, undefined) },
    { method: "GET", path: "/list/*", body: "none", handle: (r) => list(r, name(r)) },
  ];
}
