/** The SQL service as a sidecar module: `--sql`, `SQL_URL`, backends postgres / sqlite, and its guard rails. */
import { availableParallelism } from "node:os";
import type { ServiceImpl } from "@connectrpc/connect";
import { SqlService } from "../../../gen/mikcar/sql/v1/sql_pb.js";
import type { Logger } from "../../shared/log.js";
import { sqlRoutes } from "./rest.js";
import { serviceInstance, type ServiceInstance, type ServiceModule, type ServiceOption } from "../module.js";
import { auditBackend } from "./audit.js";
import type { SqlBackend } from "./backend.js";
import { SQL_SCHEMES, openSqlBackend } from "./registry.js";
import { ScriptPool } from "./script/pool.js";
import type { ScriptLimits } from "./script/protocol.js";
import { createSqlService } from "./service.js";

const MiB = 1024 * 1024;

export interface SqlSettings {
  readonly: boolean;
  poolSize: number;
  statementTimeoutMs: number;
  scripts: ScriptLimits;
  scriptWorkers: number;
}

export const DEFAULT_SQL_SETTINGS: SqlSettings = {
  readonly: false,
  poolSize: 10,
  statementTimeoutMs: 30_000,
  scripts: { timeMs: 5_000, memoryBytes: 64 * MiB, stackBytes: 256 * 1024 },
  scriptWorkers: availableParallelism(),
};

const options: Record<string, ServiceOption> = {
  readonly: { type: "boolean", env: "SQL_READONLY", description: "refuse statements that write", default: false },
  "pool-size": { type: "string", env: "SQL_POOL_SIZE", description: "Postgres connections (default 10)" },
  "statement-timeout": { type: "string", env: "SQL_STATEMENT_TIMEOUT", description: "per-statement limit in ms, 0 = none (default 30000; Postgres only)" },
  "script-timeout": { type: "string", env: "SQL_SCRIPT_TIMEOUT", description: "script wall time in ms (default 5000)" },
  "script-memory": { type: "string", env: "SQL_SCRIPT_MEMORY", description: "script memory in MiB (default 64, at least 16)" },
  "script-stack": { type: "string", env: "SQL_SCRIPT_STACK", description: "script stack in KiB (default 256)" },
  "script-workers": { type: "string", env: "SQL_SCRIPT_WORKERS", description: "scripts running at once (default: CPU count)" },
};

/** An integer option within bounds, with a message naming the flag. */
function intOption(raw: string | boolean | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`--sql-${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function sqlSettings(o: Record<string, string | boolean | undefined>): SqlSettings {
  const d = DEFAULT_SQL_SETTINGS;
  return {
    readonly: o.readonly === true || o.readonly === "true" || o.readonly === "1",
    poolSize: intOption(o["pool-size"], "pool-size", d.poolSize, 1, 1000),
    statementTimeoutMs: intOption(o["statement-timeout"], "statement-timeout", d.statementTimeoutMs, 0, 86_400_000),
    scripts: {
      timeMs: intOption(o["script-timeout"], "script-timeout", d.scripts.timeMs, 1, 3_600_000),
      memoryBytes: intOption(o["script-memory"], "script-memory", d.scripts.memoryBytes / MiB, 16, 4096) * MiB,
      stackBytes: intOption(o["script-stack"], "script-stack", d.scripts.stackBytes / 1024, 16, 65_536) * 1024,
    },
    scriptWorkers: intOption(o["script-workers"], "script-workers", d.scriptWorkers, 1, 256),
  };
}

/** A SQL service instance over a backend you opened yourself (e.g. embedding the sidecar as a library). */
export function sqlInstance(backend: SqlBackend, log: Logger, settings: SqlSettings = DEFAULT_SQL_SETTINGS): ServiceInstance & { impl: ServiceImpl<typeof SqlService> } {
  const audited = auditBackend(backend, log);
  const scripts = new ScriptPool(settings.scripts, settings.scriptWorkers);
  const impl = createSqlService(audited, scripts);
  return { ...serviceInstance(SqlService, impl, sqlRoutes(impl), backend, () => scripts.close()), impl };
}

export const sqlModule: ServiceModule = {
  name: "sql",
  summary: "SQL queries, atomic batches and transactional JavaScript scripts (postgres, sqlite)",
  defaultUrl: "sqlite://./data/app.db",
  schemes: SQL_SCHEMES,
  options,
  async open(url, ctx) {
    const settings = sqlSettings(ctx.options);
    const backend = await openSqlBackend(url, settings);
    return sqlInstance(backend, ctx.log, settings);
  },
};
