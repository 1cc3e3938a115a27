/** The SQL service as a sidecar module: `--sql`, `SQL_URL`, backends postgres / sqlite, and its guard rails. */
import { availableParallelism } from "node:os";
import { SqlService } from "../../../gen/mikcar/sql/v1/sql_pb.js";
import { createLogger, type Logger } from "../../shared/log.js";
import { type OptionInput, type OptionSpec, resolveOptions } from "../../shared/option-spec.js";
import { type ServiceInstance, type ServiceModule, serviceInstance } from "../module.js";
import { auditBackend } from "./audit.js";
import type { ServiceObserver } from "../../shared/instrument.js";
import type { ResultLimits, SqlBackend } from "./backend.js";
import { SQL_CALLS } from "./calls.js";
import { SQL_SCHEMES, openSqlBackend } from "./registry.js";
import { ScriptPool } from "./script/pool.js";
import type { ScriptLimits } from "./script/protocol.js";
import { sqlRoutes } from "./rest.js";
import { createSqlService } from "./service.js";
import { sqlResources } from "./resources.js";

const MiB = 1024 * 1024;

export interface SqlSettings {
  readonly: boolean;
  poolSize: number;
  statementTimeoutMs: number;
  result: ResultLimits;
  scripts: ScriptLimits;
  scriptWorkers: number;
  /** Scripts that may wait for a worker; more are refused with 503 and Retry-After. */
  scriptQueue: number;
}

export const DEFAULT_SQL_SETTINGS: SqlSettings = {
  readonly: false,
  poolSize: 10,
  statementTimeoutMs: 30_000,
  result: { maxRows: 10_000, maxBytes: 16 * MiB },
  scripts: { timeMs: 5_000, memoryBytes: 64 * MiB, stackBytes: 256 * 1024 },
  scriptWorkers: availableParallelism(),
  scriptQueue: 32,
};

const options: Record<string, OptionSpec> = {
  readonly: { type: "boolean", env: "SQL_READONLY", description: "refuse statements that write", default: false },
  "pool-size": {
    type: "integer",
    min: 1,
    max: 1000,
    env: "SQL_POOL_SIZE",
    description: "Postgres connections",
    default: 10,
  },
  "statement-timeout": {
    type: "duration",
    bare: "ms",
    max: 86_400_000,
    env: "SQL_STATEMENT_TIMEOUT",
    description: "per-statement limit, 0 = none",
    default: DEFAULT_SQL_SETTINGS.statementTimeoutMs,
  },
  "max-rows": {
    type: "integer",
    min: 1,
    max: 10_000_000,
    env: "SQL_MAX_ROWS",
    description: "rows one result may have (more: 400 RESULT_TOO_LARGE)",
    default: DEFAULT_SQL_SETTINGS.result.maxRows,
  },
  "max-result-size": {
    type: "size",
    min: 1024,
    max: 1024 * MiB,
    env: "SQL_MAX_RESULT_SIZE",
    description: "size one result may have (more: 400 RESULT_TOO_LARGE)",
    default: DEFAULT_SQL_SETTINGS.result.maxBytes,
  },
  "script-timeout": {
    type: "duration",
    bare: "ms",
    min: 1,
    max: 3_600_000,
    env: "SQL_SCRIPT_TIMEOUT",
    description: "script wall time",
    default: DEFAULT_SQL_SETTINGS.scripts.timeMs,
  },
  "script-memory": {
    type: "size",
    bare: "MiB",
    min: 16 * MiB,
    max: 4096 * MiB,
    env: "SQL_SCRIPT_MEMORY",
    description: "memory of one script",
    default: DEFAULT_SQL_SETTINGS.scripts.memoryBytes,
  },
  "script-stack": {
    type: "size",
    bare: "KiB",
    min: 16 * 1024,
    max: 64 * MiB,
    env: "SQL_SCRIPT_STACK",
    description: "stack of one script",
    default: DEFAULT_SQL_SETTINGS.scripts.stackBytes,
  },
  "script-workers": {
    type: "integer",
    min: 1,
    max: 256,
    env: "SQL_SCRIPT_WORKERS",
    description: "scripts running at once",
    default: DEFAULT_SQL_SETTINGS.scriptWorkers,
  },
  "script-queue": {
    type: "integer",
    min: 0,
    max: 100_000,
    env: "SQL_SCRIPT_QUEUE",
    description: "scripts waiting for a worker (more: 503 with Retry-After)",
    default: DEFAULT_SQL_SETTINGS.scriptQueue,
  },
};

/** The SQL settings from the module's options (already parsed and defaulted by the option parser). */
export function sqlSettings(o: Readonly<Record<string, OptionInput>> = {}): SqlSettings {
  const v = resolveOptions(options, o, (name) => `--sql-${name}`);
  return {
    readonly: v.readonly as boolean,
    poolSize: v["pool-size"] as number,
    statementTimeoutMs: v["statement-timeout"] as number,
    result: { maxRows: v["max-rows"] as number, maxBytes: v["max-result-size"] as number },
    scripts: {
      timeMs: v["script-timeout"] as number,
      memoryBytes: v["script-memory"] as number,
      stackBytes: v["script-stack"] as number,
    },
    scriptWorkers: v["script-workers"] as number,
    scriptQueue: v["script-queue"] as number,
  };
}

export interface SqlInstanceOptions {
  log?: Logger;
  settings?: SqlSettings;
  /** Reports the script worker pool (`mikcar_sql_script_workers`). */
  observer?: ServiceObserver;
}

/** A SQL service instance over a backend you opened yourself (library use and tests). */
export function sqlInstance(backend: SqlBackend, opts: SqlInstanceOptions = {}): ServiceInstance<typeof SqlService> {
  const settings = opts.settings ?? DEFAULT_SQL_SETTINGS;
  const audited = auditBackend(backend, opts.log ?? createLogger("silent"));
  // What a script hands out (its result, the params of a call) is bounded like a query's result.
  const limits = { ...settings.scripts, outputBytes: settings.result.maxBytes };
  const scripts = new ScriptPool(limits, settings.scriptWorkers, settings.scriptQueue);
  opts.observer?.scriptWorkers(() => scripts.stats());
  return {
    ...serviceInstance(SqlService, createSqlService(audited, scripts), sqlRoutes, backend, () => scripts.close()),
    resources: sqlResources,
  };
}

export const sqlModule: ServiceModule = {
  name: "sql",
  summary: "SQL queries, atomic batches and transactional JavaScript scripts (postgres, sqlite)",
  defaultUrl: "sqlite://./data/app.db",
  // mikcar configures SQL with DATABASE_URL; SQL_URL, named like every other service's, wins.
  urlEnv: ["SQL_URL", "DATABASE_URL"],
  schemes: SQL_SCHEMES,
  options,
  async open(url, ctx) {
    const settings = sqlSettings(ctx.options);
    const backend = ctx.guard(await openSqlBackend(url, settings), SQL_CALLS);
    return sqlInstance(backend, { log: ctx.log, settings, observer: ctx.observer });
  },
};
