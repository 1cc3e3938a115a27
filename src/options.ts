/**
 * Command line + environment → a validated configuration. Precedence: flag, then environment, then default.
 * Every error names the offending flag or variable and what would be accepted.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { serviceModules } from "./services/catalogue.js";
import type { ServiceModule } from "./services/module.js";
import type { ListenAddress } from "./server/listener.js";
import type { LogLevel } from "./shared/log.js";
import { schemeOf } from "./shared/url.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface Config {
  help: boolean;
  version: boolean;
  services: Array<{ module: ServiceModule; url: string; options: Record<string, string | boolean | undefined> }>;
  listen: ListenAddress[];
  authToken?: string;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  logLevel: LogLevel;
}

type Env = Record<string, string | undefined>;

const envName = (service: string) => `${service.toUpperCase()}_URL`;
const optionFlag = (service: string, opt: string) => `${service}-${opt}`;

function argSpec(): NonNullable<ParseArgsConfig["options"]> {
  const spec: NonNullable<ParseArgsConfig["options"]> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
    all: { type: "boolean" },
    port: { type: "string", short: "p" },
    host: { type: "string" },
    socket: { type: "string" },
    "auth-token": { type: "string" },
    "no-auth": { type: "boolean" },
    "max-body-size": { type: "string" },
    "request-timeout": { type: "string" },
    "log-level": { type: "string" },
  };
  for (const m of serviceModules) {
    spec[m.name] = { type: "boolean" };
    spec[`${m.name}-url`] = { type: "string" };
    for (const [opt, o] of Object.entries(m.options ?? {})) spec[optionFlag(m.name, opt)] = { type: o.type };
  }
  return spec;
}

/** Parses `argv` (without node and script) against `env`. Throws ConfigError with a user-facing message. */
export function parseConfig(argv: string[], env: Env): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: argSpec(), allowPositionals: false, strict: true }).values as typeof values;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} (see --help)`);
  }
  const help = values.help === true;
  const version = values.version === true;

  const services: Config["services"] = [];
  for (const m of serviceModules) {
    const urlFlag = values[`${m.name}-url`] as string | undefined;
    if (values[m.name] !== true && values.all !== true && urlFlag === undefined) continue;
    const url = urlFlag ?? env[envName(m.name)] ?? m.defaultUrl;
    if (!m.schemes.includes(schemeOf(url))) {
      throw new ConfigError(
        `${urlFlag !== undefined ? `--${m.name}-url` : env[envName(m.name)] !== undefined ? envName(m.name) : `default ${m.name} URL`} ` +
          `${JSON.stringify(url.replace(/\/\/[^/@]*@/, "//***@"))} is not supported: accepted schemes are ${m.schemes.map((s) => s + "://").join(", ")}`,
      );
    }
    const options: Record<string, string | boolean | undefined> = {};
    for (const [opt, o] of Object.entries(m.options ?? {})) {
      let v = values[optionFlag(m.name, opt)];
      if (v === undefined && o.env && env[o.env] !== undefined) v = o.type === "boolean" ? /^(1|true|yes|on)$/i.test(env[o.env]!) : env[o.env];
      options[opt] = v ?? o.default;
    }
    services.push({ module: m, url, options });
  }
  if (services.length === 0 && !help && !version) {
    throw new ConfigError(
      `no service enabled: pass at least one of ${serviceModules.map((m) => `--${m.name}`).join(", ")} (or --all); see --help`,
    );
  }

  let authToken: string | undefined;
  if (values["no-auth"] !== true) {
    const given = (values["auth-token"] as string | undefined) ?? env.SIDECAR_TOKEN ?? env.AUTH_TOKEN;
    if (given !== undefined && given.trim() === "") {
      throw new ConfigError("the auth token (--auth-token, SIDECAR_TOKEN or AUTH_TOKEN) is empty: set a token or pass --no-auth");
    }
    authToken = given;
  }

  const host = (values.host as string | undefined) ?? env.HOST ?? "127.0.0.1";
  const portText = (values.port as string | undefined) ?? env.PORT;
  const socket = (values.socket as string | undefined) ?? env.SOCKET;
  const listen: ListenAddress[] = [];
  // A socket alone means socket only; a port (given or default) means TCP too.
  if (portText !== undefined || socket === undefined) listen.push({ host, port: parsePort(portText ?? "3001") });
  if (socket !== undefined) listen.push({ socket: socket.replace(/^unix:/, "") });

  const logLevel = ((values["log-level"] as string | undefined) ?? env.LOG_LEVEL ?? "info") as LogLevel;
  if (!["debug", "info", "warn", "error", "silent"].includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of debug, info, warn, error, silent; got ${JSON.stringify(logLevel)}`);
  }

  return {
    help,
    version,
    services,
    listen,
    authToken,
    maxBodyBytes: parseSize((values["max-body-size"] as string | undefined) ?? env.MAX_BODY_SIZE ?? "10MiB", "--max-body-size"),
    requestTimeoutMs: parseDuration((values["request-timeout"] as string | undefined) ?? env.REQUEST_TIMEOUT ?? "30s", "--request-timeout"),
    logLevel,
  };
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new ConfigError(`port must be an integer 0-65535, got ${JSON.stringify(text)}`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** "10MiB", "512kb", "1048576" → bytes. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ConfigError(`${what} must be a size like 10MiB, 512KiB or 1048576; got ${JSON.stringify(text)}`);
  return Math.floor(Number(m[1]) * unit);
}

/** "30s", "500ms", "2m", "30" (seconds) → ms. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i.exec(text.trim());
  if (!m) throw new ConfigError(`${what} must be a duration like 30s, 500ms or 2m; got ${JSON.stringify(text)}`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s").toLowerCase() as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * factor);
}

export function helpText(version: string): string {
  const lines = [
    `mikcar ${version} — one port for storage, KV, SQL, queues, secrets and email over REST, gRPC, gRPC-Web and Connect`,
    "",
    "Usage: mikcar [--kv] [--storage] [...] [options]",
    "",
    "Services (each reads <NAME>_URL, else --<name>-url, else its embedded default):",
  ];
  for (const m of serviceModules) {
    lines.push(`  --${m.name.padEnd(10)} ${m.summary}`);
    lines.push(`  ${"".padEnd(12)} ${envName(m.name)} default ${m.defaultUrl}; schemes ${m.schemes.map((s) => s + "://").join(" ")}`);
    for (const [opt, o] of Object.entries(m.options ?? {})) {
      lines.push(`      --${optionFlag(m.name, opt)}${o.env ? ` (${o.env})` : ""}  ${o.description}${o.default !== undefined ? ` [${o.default}]` : ""}`);
    }
  }
  lines.push(
    "  --all        every service on its embedded default",
    "",
    "Options:",
    "  -p, --port N            TCP port (PORT) [3001]; 0 picks a free port",
    "      --host ADDR         address to bind (HOST) [127.0.0.1]",
    "      --socket PATH       also (or, without --port, only) listen on a Unix socket (SOCKET)",
    "      --auth-token T      require Authorization: Bearer T (SIDECAR_TOKEN, AUTH_TOKEN)",
    "      --no-auth           turn auth off even if a token is set in the environment",
    "      --max-body-size S   largest buffered request body (MAX_BODY_SIZE) [10MiB]",
    "      --request-timeout D time before 408 (REQUEST_TIMEOUT) [30s]",
    "      --log-level L       debug|info|warn|error|silent (LOG_LEVEL) [info]",
    "  -h, --help              this text",
    "  -v, --version           print the version",
  );
  return lines.join("\n") + "\n";
}
