/** The SQL rows of the REST table (API.md, SQL): mikcar's paths onto the one SqlService implementation. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import * as pb from "../../../gen/mikcar/sql/v1/sql_pb.js";
import { sidecarError } from "../../shared/errors.js";
import { pbOfValue, rowObjects, valueOfJson, valueOfPb } from "./values.js";
import { parseExact, stringifyExact } from "../../shared/exact-json.js";
import { jsonArray, jsonObject, jsonString } from "../../shared/rest-params.js";
import type { RestRoute } from "../../shared/rest-route.js";

const m = pb.SqlService.method;

/** `{"sql", "params"?}` → the statement message fields. */
function statement(obj: Record<string, unknown>, where = "") {
  const raw = obj.params;
  if (raw !== undefined && raw !== null && !Array.isArray(raw))
    throw sidecarError("BAD_REQUEST", `field ${where}params must be an array`);
  const params = ((raw ?? []) as unknown[]).map((v, i) => pbOfValue(valueOfJson(v, `${where}params[${i}]`)));
  return { sql: jsonString(obj, "sql", { what: `${where}sql` }), params };
}

export function sqlRoutes(sql: ServiceImpl<typeof pb.SqlService>): RestRoute[] {
  return [
    {
      method: "POST",
      path: "/query",
      body: "json",
      async handle(r) {
        const res = await sql.query(create(pb.QueryRequestSchema, statement(jsonObject(r.json))), r.context(m.query));
        const rows = rowObjects(
          res.columns ?? [],
          (res.rows ?? []).map((row) => (row.values ?? []).map((v) => valueOfPb(v))),
        );
        return { json: { rows, row_count: res.rowCount } };
      },
    },
    {
      method: "POST",
      path: "/execute",
      body: "json",
      async handle(r) {
        const res = await sql.execute(
          create(pb.ExecuteRequestSchema, statement(jsonObject(r.json))),
          r.context(m.execute),
        );
        return { json: { rows_affected: res.rowsAffected } };
      },
    },
    {
      method: "POST",
      path: "/batch",
      body: "json",
      async handle(r) {
        const list = jsonArray(jsonObject(r.json), "statements");
        const statements = list.map((s, i) => statement(jsonObject(s, `statements[${i}]`), `statements[${i}].`));
        const res = await sql.batch(create(pb.BatchRequestSchema, { statements }), r.context(m.batch));
        return {
          json: {
            statements_executed: res.statementsExecuted,
            status: "ok",
            total_rows_affected: res.totalRowsAffected,
          },
        };
      },
    },
    {
      method: "POST",
      path: "/script",
      body: "json",
      async handle(r) {
        const body = jsonObject(r.json);
        const inputJson = body.input === undefined ? "" : stringifyExact(body.input);
        const req = create(pb.ScriptRequestSchema, { script: jsonString(body, "script"), inputJson });
        const res = await sql.script(req, r.context(m.script));
        return { json: { result: parseExact(res.resultJson || "null"), queries_executed: res.queriesExecuted } };
      },
    },
  ];
}
