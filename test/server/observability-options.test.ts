/**
 * The observability and resilience options: admin listener addresses, OTLP endpoint, compression threshold,
 * per-service resilience flags and environment variables, and the config file's `resiliency` section with its
 * precedence (flag, then environment, then file, then default) and its errors.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, helpText, parseConfig } from "../../src/options.js";
import { type CliProcess, startCli } from "../helpers/process.js";

const file = (doc: unknown) => {
  const p = join(mkdtempSync(join(tmpdir(), "mikcar-conf-")), "mikcar.json");
  writeFileSync(p, typeof doc === "string" ? doc : JSON.stringify(doc));
  return p;
};
const kvOptions = (argv: string[], env: Record<string, string> = {}) =>
  parseConfig(["--kv", ...argv], env).services.find((s) => s.module.name === "kv")!.options;

describe("admin, tracing and compression options", () => {
  it("have no admin listener by default and build the addresses asked for", () => {
    expect(parseConfig(["--kv"], {}).admin).toEqual([]);
    expect(parseConfig(["--kv", "--admin-port", "9464"], {}).admin).toEqual([{ host: "127.0.0.1", port: 9464 }]);
    expect(
      parseConfig(["--kv", "--admin-socket", "/tmp/a.sock"], { ADMIN_PORT: "9000", ADMIN_HOST: "0.0.0.0" }).admin,
    ).toEqual([{ host: "0.0.0.0", port: 9000 }, { socket: "/tmp/a.sock" }]);
  });

  it("read the OTLP endpoint and the compression threshold, and refuse nonsense", () => {
    const c = parseConfig(["--kv"], { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" });
    expect(c.otlpEndpoint).toBe("http://collector:4318");
    expect(c.compressMinBytes).toBe(1024);
    expect(parseConfig(["--kv", "--compress-min-size", "4KiB"], {}).compressMinBytes).toBe(4096);
    expect(() => parseConfig(["--kv", "--otlp-endpoint", "collector:4318"], {})).toThrow(
      /--otlp-endpoint must be an http:\/\/ or https:\/\/ URL/,
    );
  });

  it("are listed in --help with the resilience options", () => {
    const help = helpText("test");
    for (const flag of ["--admin-port", "--admin-socket", "--otlp-endpoint", "--compress-min-size", "--config"])
      expect(help).toContain(flag);
    expect(help).toContain("--<service>-breaker-failures");
  });
});

describe("resilience options", () => {
  it("default per service, and take flags and environment variables", () => {
    expect(kvOptions([])).toMatchObject({ "call-timeout": 10_000, retries: 2, "breaker-failures": 5 });
    const o = kvOptions(["--kv-retries", "4", "--kv-call-timeout", "2s"], { KV_BREAKER_HALF_OPEN: "30s" });
    expect(o).toMatchObject({ retries: 4, "call-timeout": 2_000, "breaker-half-open": 30_000 });
    expect(() => kvOptions(["--kv-retries", "99"])).toThrow(/--kv-retries must be an integer from 0 to 10/);
  });

  it('come from the config file below flags and environment, a service\'s section over "*"', () => {
    const p = file({
      resiliency: { "*": { retries: 1, "call-timeout": "5s" }, kv: { retries: 3, "breaker-half-open": 30_000 } },
    });
    expect(kvOptions(["--config", p])).toMatchObject({
      retries: 3,
      "call-timeout": 5_000,
      "breaker-half-open": 30_000,
    });
    expect(kvOptions(["--config", p, "--kv-retries", "0"])).toMatchObject({ retries: 0 });
    expect(kvOptions([], { SIDECAR_CONFIG: p, KV_CALL_TIMEOUT: "1s" })).toMatchObject({ "call-timeout": 1_000 });
  });

  it("refuse a broken file, unknown services and options, naming the entry", () => {
    expect(() => parseConfig(["--kv", "--config", "/nonexistent/mikcar.json"], {})).toThrow(ConfigError);
    expect(() => parseConfig(["--kv", "--config", file("{nope")], {})).toThrow(/cannot read config file/);
    expect(() => parseConfig(["--kv", "--config", file({ resiliency: { cache: {} } })], {})).toThrow(
      /resiliency\.cache: unknown service/,
    );
    expect(() => parseConfig(["--kv", "--config", file({ resiliency: { kv: { retry: 1 } } })], {})).toThrow(
      /resiliency\.kv\.retry: unknown option/,
    );
    expect(() => parseConfig(["--kv", "--config", file({ resiliency: { kv: { retries: "lots" } } })], {})).toThrow(
      /resiliency\.kv\.retries must be an integer/,
    );
  });
});

describe("the mikcar command with --admin-port", () => {
  it("serves /metrics and /health/ready on the admin listener, with metrics of the API port's traffic", async () => {
    const p = await startCli(["--kv", "--kv-url", "memory://", "--admin-port", "0"]);
    try {
      const m = await waitForLog(p, /"event":"admin.listening","address":"([^"]+)"/);
      await fetch(`http://${p.address}/kv/get/nothing`);
      expect((await fetch(`http://${m[1]}/health/ready`)).status).toBe(200);
      const text = await (await fetch(`http://${m[1]}/metrics`)).text();
      expect(text).toContain('mikcar_requests_total{service="kv",method="Get",protocol="rest",code="not_found"} 1');
    } finally {
      p.child.kill("SIGTERM");
      await p.exited;
    }
  });
});

async function waitForLog(p: CliProcess, re: RegExp): Promise<RegExpExecArray> {
  for (let i = 0; i < 100; i++) {
    const m = re.exec(p.stderr());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${re} in ${p.stderr()}`);
}
