/**
 * Command line + environment → a validated configuration, for the `mikcar` command. Precedence: the flag, then
 * the environment variable, then the default. Every value goes through the typed option parser
 * (shared/option-spec.ts), so every error names the flag or variable and what it accepts.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { ListenAddress } from "./server/listener.js";
import { parseRate } from "./server/policy/rate-limit.js";
import type { TlsFiles } from "./server/tls.js";
import { serviceModules } from "./services/catalogue.js";
import { readFileSync } from "node:fs";
import { optionSpecsOf, type ServiceModule, urlEnvOf } from "./services/module.js";
import type { LogLevel } from "./shared/log.js";
import {
  envNames,
  type OptionSpec,
  type OptionValue,
  parseOption,
  resolveOptions,
  showDefault,
  valueHint,
} from "./shared/option-spec.js";
import { OptionError } from "./shared/units.js";
import { redactUrl } from "./shared/redact.js";
import { RESILIENCE_KEYS } from "./shared/resilience-options.js";
import { schemeOf } from "./shared/url.js";

/** A configuration the user must fix; the CLI prints the message and exits 1. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface ServiceConfig {
  module: ServiceModule;
  url: string;
  /** What chose the URL, for the start-up log: `--sql-url`, `DATABASE_URL`, `default`. */
  urlFrom: string;
  options: Record<string, OptionValue | undefined>;
  /** Calls that may run against the backend at once (`--<service>-max-concurrency`); 0 = no cap. */
  maxConcurrency: number;
}

export interface Config {
  help: boolean;
  version: boolean;
  services: ServiceConfig[];
  listen: ListenAddress[];
  authToken?: string;
  /** Policy file (`--policy`, `SIDECAR_POLICY`). */
  policy?: string;
  policyWatch: boolean;
  rateLimit?: { perSecond: number; burst?: number };
  rateLimitStore: string;
  maxConcurrencyWaitMs: number;
  /** `-` (stderr), a file, or `off`. */
  accessLog: string;
  tls?: TlsFiles;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  maxConnections: number;
  h2IdleTimeoutMs: number;
  keepAliveIntervalMs: number;
  writeTimeoutMs: number;
  shutdownGraceMs: number;
  logLevel: LogLevel;
  /** Admin listeners (metrics, stats, health); none unless --admin-port or --admin-socket. */
  admin: ListenAddress[];
  otlpEndpoint?: string;
  compressMinBytes: number;
}

type Env = Record<string, string | undefined>;

/** The server's own options; services declare theirs in their modules. */
export const SERVER_OPTIONS = {
  port: {
    type: "integer",
    min: 0,
    max: 65_535,
    env: "PORT",
    description: "TCP port; 0 picks a free one",
    default: 3001,
  },
  host: { type: "string", env: "HOST", description: "address to bind", default: "127.0.0.1" },
  socket: { type: "string", env: "SOCKET", description: "also (or, without --port, only) listen on a Unix socket" },
  "auth-token": {
    type: "string",
    env: ["SIDECAR_TOKEN", "AUTH_TOKEN"],
    description: "require Authorization: Bearer <token> on everything but /health",
  },
  "no-auth": { type: "boolean", description: "turn auth off even if a token is set in the environment" },
  "max-body-size": {
    type: "size",
    min: 1,
    env: "MAX_BODY_SIZE",
    description: "largest buffered request body",
    default: 10 * 1024 * 1024,
  },
  "request-timeout": {
    type: "duration",
    env: "REQUEST_TIMEOUT",
    description: "time before 408 / DEADLINE_EXCEEDED, 0 = none",
    default: 30_000,
  },
  "admin-port": {
    type: "integer",
    min: 0,
    max: 65_535,
    env: "ADMIN_PORT",
    description: "admin listener (/metrics, /stats, /health/live, /health/ready; no token) on this TCP port",
  },
  "admin-host": { type: "string", env: "ADMIN_HOST", description: "address of the admin port", default: "127.0.0.1" },
  "admin-socket": { type: "string", env: "ADMIN_SOCKET", description: "admin listener on a Unix socket" },
  "otlp-endpoint": {
    type: "string",
    env: ["OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"],
    description: "send OpenTelemetry traces over OTLP/HTTP to this URL (http://collector:4318)",
  },
  "compress-min-size": {
    type: "size",
    env: "COMPRESS_MIN_SIZE",
    description: "smallest JSON response compressed (gzip, br) when the client asks, 0 = never",
    default: 1024,
  },
  config: {
    type: "string",
    env: "SIDECAR_CONFIG",
    description: 'JSON file with a resiliency section: {"resiliency": {"kv": {"retries": 3}, "*": {...}}}',
  },
  policy: {
    type: "string",
    env: "SIDECAR_POLICY",
    description: "policy file (JSON, or YAML by extension): per-token rules, namespaces, rates; see docs/policy.md",
  },
  "no-policy-watch": {
    type: "boolean",
    description: "do not watch the policy file for changes (SIGHUP still reloads it)",
  },
  "rate-limit": {
    type: "string",
    env: "RATE_LIMIT",
    description: "server-wide rate limit for all calls together, e.g. 1000/s, 6000/m",
  },
  "rate-limit-burst": {
    type: "integer",
    min: 1,
    max: 1_000_000_000,
    env: "RATE_LIMIT_BURST",
    description: "calls the server-wide limit lets through at once (default: one second's worth)",
  },
  "rate-limit-store": {
    type: "string",
    env: "RATE_LIMIT_STORE",
    description: "where rate-limit buckets live: memory, or redis://… to share them between replicas",
    default: "memory",
  },
  "max-concurrency-wait": {
    type: "duration",
    env: "MAX_CONCURRENCY_WAIT",
    description: "time a call waits for a --<service>-max-concurrency slot before 503",
    default: 1_000,
  },
  "access-log": {
    type: "string",
    env: "ACCESS_LOG",
    description: "one JSON line per request: - (stderr), a file to append to, or off",
    default: "-",
  },
  "tls-cert": { type: "string", env: "TLS_CERT", description: "serve TLS on the TCP port (h2 and http/1.1 by ALPN)" },
  "tls-key": { type: "string", env: "TLS_KEY", description: "private key of --tls-cert" },
  "tls-client-ca": {
    type: "string",
    env: "TLS_CLIENT_CA",
    description: "require client certificates signed by this CA (mTLS; see mtls_subject in docs/policy.md)",
  },
  "max-connections": {
    type: "integer",
    min: 0,
    max: 1_000_000,
    env: "MAX_CONNECTIONS",
    description: "concurrent connections per listener; more get 503 (HTTP/1.1) or GOAWAY (HTTP/2), 0 = no cap",
    default: 10_000,
  },
  "h2-idle-timeout": {
    type: "duration",
    env: "H2_IDLE_TIMEOUT",
    description: "close an HTTP/2 connection with no open stream after this long, 0 = never",
    default: 60_000,
  },
  "keepalive-interval": {
    type: "duration",
    env: "KEEPALIVE_INTERVAL",
    description: "PING HTTP/2 connections with open streams this often; no answer within as long drops them, 0 = off",
    default: 30_000,
  },
  "write-timeout": {
    type: "duration",
    env: "WRITE_TIMEOUT",
    description: "cut a response or stream whose client has read nothing for this long, 0 = never",
    default: 30_000,
  },
  "shutdown-grace": {
    type: "duration",
    env: "SHUTDOWN_GRACE",
    description: "at SIGTERM, time in-flight requests get to finish before connections are cut",
    default: 10_000,
  },
  "log-level": {
    type: "string",
    choices: ["debug", "info", "warn", "error", "silent"],
    env: "LOG_LEVEL",
    description: "lowest level logged",
    default: "info",
  },
} as const satisfies Record<string, OptionSpec>;

/** Options the server applies to each service, as `--<service>-<option>` (env `<SERVICE>_<OPTION>`). */
export const SERVICE_SERVER_OPTIONS = {
  "max-concurrency": {
    type: "integer",
    min: 0,
    max: 1_000_000,
    description: "calls running against the backend at once, 0 = no cap (excess waits, then 503)",
    default: 0,
  },
} as const satisfies Record<string, OptionSpec>;

const serviceServerSpec = (service: string, opt: keyof typeof SERVICE_SERVER_OPTIONS): OptionSpec => ({
  ...SERVICE_SERVER_OPTIONS[opt],
  env: `${service}_${opt}`.toUpperCase().replace(/-/g, "_"),
});

const optionFlag = (service: string, opt: string) => `${service}-${opt}`;

function argSpec(): NonNullable<ParseArgsConfig["options"]> {
  const spec: NonNullable<ParseArgsConfig["options"]> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
    all: { type: "boolean" },
  };
  for (const [name, o] of Object.entries(SERVER_OPTIONS) as Array<[string, OptionSpec]>) {
    spec[name] = { type: o.type === "boolean" ? "boolean" : "string" };
  }
  spec.port = { type: "string", short: "p" };
  for (const m of serviceModules) {
    spec[m.name] = { type: "boolean" };
    spec[`${m.name}-url`] = { type: "string" };
    for (const [opt, o] of Object.entries(optionSpecsOf(m))) {
      spec[optionFlag(m.name, opt)] = { type: o.type === "boolean" ? "boolean" : "string" };
    }
    for (const opt of Object.keys(SERVICE_SERVER_OPTIONS)) spec[optionFlag(m.name, opt)] = { type: "string" };
  }
  return spec;
}

/** The raw value of one option: the flag, else the first of its environment variables that is set. */
function pick(
  values: Record<string, string | boolean | undefined>,
  env: Env,
  flag: string,
  spec: OptionSpec,
): { raw: string | boolean | undefined; from: string } {
  if (values[flag] !== undefined) return { raw: values[flag], from: `--${flag}` };
  for (const name of envNames(spec)) if (env[name] !== undefined) return { raw: env[name], from: name };
  return { raw: undefined, from: "default" };
}

/** Parses `argv` (without node and script) against `env`. Throws ConfigError with a user-facing message. */
export function parseConfig(argv: string[], env: Env): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: argSpec(), allowPositionals: false, strict: true })
      .values as typeof values;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} (see --help)`);
  }
  try {
    return buildConfig(values, env);
  } catch (err) {
    if (err instanceof OptionError) throw new ConfigError(err.message);
    throw err;
  }
}

function buildConfig(values: Record<string, string | boolean | undefined>, env: Env): Config {
  const help = values.help === true;
  const version = values.version === true;
  const server = (name: keyof typeof SERVER_OPTIONS) => {
    const spec: OptionSpec = SERVER_OPTIONS[name];
    const { raw, from } = pick(values, env, name, spec);
    const what = from === "default" ? `--${name}` : from;
    return { value: raw === undefined ? spec.default : parseOption(spec, raw, what), from, given: raw !== undefined };
  };

  const configFile = server("config").value as string | undefined;
  const resiliency = configFile ? readResiliency(configFile) : {};

  const services: ServiceConfig[] = [];
  for (const m of serviceModules) {
    const urlFlag = values[`${m.name}-url`] as string | undefined;
    if (values[m.name] !== true && values.all !== true && urlFlag === undefined) continue;
    const fromEnv = urlEnvOf(m).find((name) => env[name] !== undefined);
    const url = urlFlag ?? (fromEnv ? env[fromEnv]! : m.defaultUrl);
    const urlFrom = urlFlag !== undefined ? `--${m.name}-url` : (fromEnv ?? "default");
    if (!m.schemes.includes(schemeOf(url))) {
      throw new ConfigError(
        `${urlFrom === "default" ? `default ${m.name} URL` : urlFrom} ${JSON.stringify(redactUrl(url))} is not supported: ` +
          `accepted schemes are ${m.schemes.map((s) => `${s}://`).join(", ")}`,
      );
    }
    const given: Record<string, string | boolean | number | undefined> = {};
    const sources: Record<string, string> = {};
    const specs = optionSpecsOf(m);
    for (const [opt, o] of Object.entries(specs)) {
      const picked = pick(values, env, optionFlag(m.name, opt), o);
      let raw: string | boolean | number | undefined = picked.raw;
      let from = picked.from;
      // Flag, then environment, then the config file (the service's section, then "*"), then the default.
      const fileValue = resiliency[m.name]?.[opt] ?? resiliency["*"]?.[opt];
      if (raw === undefined && fileValue !== undefined) {
        raw = fileValue;
        from = `${configFile} resiliency.${resiliency[m.name]?.[opt] !== undefined ? m.name : "*"}.${opt}`;
      }
      given[opt] = raw;
      sources[opt] = from;
    }
    // Messages name what the user actually set: the flag, the environment variable or the file entry.
    const options = resolveOptions(specs, given, (opt) =>
      sources[opt] === "default" || sources[opt] === undefined ? `--${optionFlag(m.name, opt)}` : sources[opt]!,
    );
    const concurrencySpec = serviceServerSpec(m.name, "max-concurrency");
    const c = pick(values, env, optionFlag(m.name, "max-concurrency"), concurrencySpec);
    const maxConcurrency =
      c.raw === undefined
        ? 0
        : (parseOption(
            concurrencySpec,
            c.raw,
            c.from === "default" ? `--${m.name}-max-concurrency` : c.from,
          ) as number);
    services.push({ module: m, url, urlFrom, options, maxConcurrency });
  }
  if (services.length === 0 && !help && !version) {
    throw new ConfigError(
      `no service enabled: pass at least one of ${serviceModules.map((m) => `--${m.name}`).join(", ")} (or --all); see --help`,
    );
  }

  let authToken: string | undefined;
  if (values["no-auth"] !== true) {
    const token = server("auth-token");
    if (token.given && String(token.value).trim() === "") {
      throw new ConfigError(
        "the auth token (--auth-token, SIDECAR_TOKEN or AUTH_TOKEN) is empty: set a token or pass --no-auth",
      );
    }
    authToken = token.value as string | undefined;
  }

  const port = server("port");
  const socket = server("socket").value as string | undefined;
  const listen: ListenAddress[] = [];
  // A socket alone means socket only; a port (given or default) means TCP too.
  if (port.given || socket === undefined)
    listen.push({ host: server("host").value as string, port: port.value as number });
  if (socket !== undefined) listen.push({ socket: socket.replace(/^unix:/, "") });

  const admin: ListenAddress[] = [];
  const adminPort = server("admin-port");
  if (adminPort.given) admin.push({ host: server("admin-host").value as string, port: adminPort.value as number });
  const adminSocket = server("admin-socket").value as string | undefined;
  if (adminSocket !== undefined) admin.push({ socket: adminSocket.replace(/^unix:/, "") });
  const otlp = server("otlp-endpoint").value as string | undefined;
  if (otlp !== undefined && !/^https?:\/\/[^/]/.test(otlp)) {
    throw new ConfigError(`--otlp-endpoint must be an http:// or https:// URL; got ${JSON.stringify(otlp)}`);
  }

  const rateText = server("rate-limit");
  let rateLimit: Config["rateLimit"];
  if (rateText.value !== undefined) {
    try {
      rateLimit = {
        perSecond: parseRate(String(rateText.value), rateText.from === "default" ? "--rate-limit" : rateText.from),
      };
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    const burst = server("rate-limit-burst").value as number | undefined;
    if (burst !== undefined) rateLimit.burst = burst;
  } else if (server("rate-limit-burst").given) {
    throw new ConfigError("--rate-limit-burst needs --rate-limit");
  }
  const store = String(server("rate-limit-store").value);
  if (store !== "memory" && !/^rediss?:\/\//.test(store))
    throw new ConfigError(
      `--rate-limit-store must be memory or a redis:// URL; got ${JSON.stringify(redactUrl(store))}`,
    );

  const cert = server("tls-cert").value as string | undefined;
  const key = server("tls-key").value as string | undefined;
  const clientCa = server("tls-client-ca").value as string | undefined;
  if ((cert === undefined) !== (key === undefined))
    throw new ConfigError("--tls-cert and --tls-key go together: give both");
  if (clientCa !== undefined && cert === undefined)
    throw new ConfigError("--tls-client-ca needs --tls-cert and --tls-key (client certificates are checked over TLS)");

  return {
    help,
    version,
    services,
    listen,
    admin,
    otlpEndpoint: otlp,
    compressMinBytes: server("compress-min-size").value as number,
    authToken,
    policy: server("policy").value as string | undefined,
    policyWatch: values["no-policy-watch"] !== true,
    rateLimit,
    rateLimitStore: store,
    maxConcurrencyWaitMs: server("max-concurrency-wait").value as number,
    accessLog: String(server("access-log").value),
    tls:
      cert !== undefined && key !== undefined
        ? { cert, key, ...(clientCa !== undefined ? { clientCa } : {}) }
        : undefined,
    maxBodyBytes: server("max-body-size").value as number,
    requestTimeoutMs: server("request-timeout").value as number,
    maxConnections: server("max-connections").value as number,
    h2IdleTimeoutMs: server("h2-idle-timeout").value as number,
    keepAliveIntervalMs: server("keepalive-interval").value as number,
    writeTimeoutMs: server("write-timeout").value as number,
    shutdownGraceMs: server("shutdown-grace").value as number,
    logLevel: server("log-level").value as LogLevel,
  };
}

type Resiliency = Record<string, Record<string, string | number | boolean>>;

/**
 * The `resiliency` section of a config file: per service name (or "*" for all), the resilience options by the
 * names of their flags without the service prefix (`call-timeout`, `retries`, `breaker-failures`, …).
 */
function readResiliency(file: string): Resiliency {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  const section = (doc as { resiliency?: unknown } | null)?.resiliency;
  if (section === undefined) return {};
  const known = new Set(["*", ...serviceModules.map((m) => m.name)]);
  if (typeof section !== "object" || section === null || Array.isArray(section)) {
    throw new ConfigError(`${file}: resiliency must be an object keyed by service name or "*"`);
  }
  for (const [svc, opts] of Object.entries(section)) {
    if (!known.has(svc))
      throw new ConfigError(`${file}: resiliency.${svc}: unknown service (known: ${[...known].join(", ")})`);
    if (typeof opts !== "object" || opts === null || Array.isArray(opts)) {
      throw new ConfigError(`${file}: resiliency.${svc} must be an object of options`);
    }
    for (const [k, v] of Object.entries(opts)) {
      if (!RESILIENCE_KEYS.includes(k)) {
        throw new ConfigError(`${file}: resiliency.${svc}.${k}: unknown option (known: ${RESILIENCE_KEYS.join(", ")})`);
      }
      if (!["string", "number", "boolean"].includes(typeof v)) {
        throw new ConfigError(`${file}: resiliency.${svc}.${k} must be a string or a number`);
      }
    }
  }
  return section as Resiliency;
}

function optionLine(flag: string, spec: OptionSpec, short?: string): string {
  const envs = envNames(spec);
  const def = showDefault(spec);
  const left = `${short ? `${short}, ` : "    "}--${flag}${valueHint(spec)}`;
  return `  ${left.padEnd(44)} ${spec.description}${envs.length ? ` (env ${envs.join(", ")})` : ""}${def !== undefined ? ` [${def}]` : ""}`;
}

export function helpText(version: string): string {
  const lines = [
    `mikcar ${version} — one port for storage, KV, SQL, queues, secrets and email over REST, gRPC, gRPC-Web and Connect`,
    "",
    "Usage: mikcar [--kv] [--storage] [...] [options]",
    "",
    "Every option is read from its flag, else from its environment variable, else its default.",
    "Sizes take 512KiB, 10MB, 5GiB (a bare number is bytes unless noted); durations take 500ms, 30s, 5m",
    "(a bare number is seconds unless noted).",
    "",
    "Services (--<name>-url URL, else the environment variable named, else the embedded default):",
  ];
  for (const m of serviceModules) {
    lines.push(`  --${m.name.padEnd(10)} ${m.summary}`);
    lines.push(
      `  ${"".padEnd(12)} --${m.name}-url or ${urlEnvOf(m).join(" or ")} default ${m.defaultUrl}; schemes ${m.schemes.map((s) => `${s}://`).join(" ")}`,
    );
    for (const [opt, o] of Object.entries(m.options ?? {})) lines.push(`  ${optionLine(optionFlag(m.name, opt), o)}`);
    for (const opt of Object.keys(SERVICE_SERVER_OPTIONS) as Array<keyof typeof SERVICE_SERVER_OPTIONS>)
      lines.push(`  ${optionLine(optionFlag(m.name, opt), serviceServerSpec(m.name, opt))}`);
  }
  lines.push("", "Resilience toward each backend (--<service>-<option>, env <SERVICE>_<OPTION>, or the config file):");
  for (const [opt, o] of Object.entries(optionSpecsOf({ ...serviceModules[0]!, options: {} }))) {
    lines.push(`  ${optionLine(`<service>-${opt}`, { ...o, env: undefined })}`);
  }
  lines.push("  --all        every service on its embedded default", "", "Options:");
  for (const [name, o] of Object.entries(SERVER_OPTIONS) as Array<[string, OptionSpec]>) {
    lines.push(optionLine(name, o, name === "port" ? "-p" : undefined));
  }
  lines.push(
    "  -h, --help                                   this text",
    "  -v, --version                                print the version",
  );
  return `${lines.join("\n")}\n`;
}
