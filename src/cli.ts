#!/usr/bin/env node
/** The `mikcar` command: parse flags and environment, open the services, listen, shut down on a signal. */
import { readFileSync } from "node:fs";
import { ConfigError, helpText, parseConfig } from "./options.js";
import { createLogger, describeError } from "./shared/log.js";
import { createSidecar } from "./index.js";

/** The package version; package.json is one level up from src/ and two from dist/src/. */
function packageVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version: string };
      if (pkg.name === "mikcar-ts") return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return "unknown";
}

const version = packageVersion();

async function main(): Promise<number> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mikcar: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(helpText(version));
    return 0;
  }
  if (config.version) {
    process.stdout.write(`mikcar ${version}\n`);
    return 0;
  }
  const log = createLogger(config.logLevel);
  if (!config.authToken && !config.policy && !config.tls?.clientCa)
    log.warn("auth.disabled", { hint: "set SIDECAR_TOKEN or --auth-token to require a Bearer token, or --policy" });

  let sidecar;
  try {
    sidecar = await createSidecar({
      services: Object.fromEntries(config.services.map((s) => [s.module.name, s.url])),
      serviceOptions: Object.fromEntries(config.services.map((s) => [s.module.name, s.options])),
      urlSources: Object.fromEntries(config.services.map((s) => [s.module.name, s.urlFrom])),
      authToken: config.authToken,
      policy: config.policy,
      watchPolicy: config.policyWatch,
      rateLimit: config.rateLimit,
      rateLimitStore: config.rateLimitStore,
      maxConcurrency: Object.fromEntries(config.services.map((s) => [s.module.name, s.maxConcurrency])),
      maxConcurrencyWaitMs: config.maxConcurrencyWaitMs,
      accessLog: config.accessLog,
      tls: config.tls,
      limits: {
        maxBodyBytes: config.maxBodyBytes,
        requestTimeoutMs: config.requestTimeoutMs,
        maxConnections: config.maxConnections,
        h2IdleTimeoutMs: config.h2IdleTimeoutMs,
        keepAliveIntervalMs: config.keepAliveIntervalMs,
        writeTimeoutMs: config.writeTimeoutMs,
      },
      log,
      // Nothing could read the metrics without an admin listener, so they cost nothing then.
      metrics: config.admin.length > 0,
      otlpEndpoint: config.otlpEndpoint,
      compressMinBytes: config.compressMinBytes,
    });
    for (const addr of config.listen) await sidecar.listen(addr);
    for (const addr of config.admin) await sidecar.listenAdmin(addr);
  } catch (err) {
    process.stderr.write(`mikcar: ${describeError(err).error}\n`);
    await sidecar?.close(0).catch(() => {});
    return 1;
  }

  // First signal: drain and exit 0. A second one: exit at once.
  const running = sidecar;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) {
        log.warn("shutdown.forced", { signal });
        process.exit(1);
      }
      stopping = true;
      log.info("shutdown.started", { signal });
      running.close(config.shutdownGraceMs).then(resolve, (err) => {
        log.error("shutdown.failed", describeError(err));
        resolve();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    // SIGHUP: read the policy file and the TLS certificates again; a bad file keeps what runs (and says why).
    process.on("SIGHUP", () => {
      log.info("reload.started", { signal: "SIGHUP" });
      running.reload().catch((err) => log.error("reload.failed", describeError(err)));
    });
  });
  log.info("shutdown.done");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`mikcar: fatal: ${describeError(err).error}\n`);
    process.exit(1);
  },
);
