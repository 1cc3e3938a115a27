/** The policy, rate-limit, concurrency, access-log and TLS options of the CLI: values, defaults and errors. */
import { describe, expect, it } from "vitest";
import { ConfigError, helpText, parseConfig } from "../../../src/options.js";

const kv = (argv: string[], env: Record<string, string> = {}) => parseConfig(["--kv", ...argv], env);

describe("policy options", () => {
  it("have defaults that leave everything as before, except the access log on stderr", () => {
    const c = kv([]);
    expect(c.policy).toBeUndefined();
    expect(c.policyWatch).toBe(true);
    expect(c.rateLimit).toBeUndefined();
    expect(c.rateLimitStore).toBe("memory");
    expect(c.accessLog).toBe("-");
    expect(c.tls).toBeUndefined();
    expect(c.services[0]!.maxConcurrency).toBe(0);
    expect(c.maxConcurrencyWaitMs).toBe(1_000);
  });

  it("read flags and environment variables", () => {
    const c = kv(
      ["--rate-limit", "600/m", "--rate-limit-burst", "20", "--kv-max-concurrency", "4", "--no-policy-watch"],
      {
        SIDECAR_POLICY: "/etc/mikcar/policy.yaml",
        ACCESS_LOG: "off",
        TLS_CERT: "c.pem",
        TLS_KEY: "k.pem",
        TLS_CLIENT_CA: "ca.pem",
        MAX_CONCURRENCY_WAIT: "250ms",
      },
    );
    expect(c.policy).toBe("/etc/mikcar/policy.yaml");
    expect(c.policyWatch).toBe(false);
    expect(c.rateLimit).toEqual({ perSecond: 10, burst: 20 });
    expect(c.services[0]!.maxConcurrency).toBe(4);
    expect(c.maxConcurrencyWaitMs).toBe(250);
    expect(c.accessLog).toBe("off");
    expect(c.tls).toEqual({ cert: "c.pem", key: "k.pem", clientCa: "ca.pem" });
    expect(kv([], { KV_MAX_CONCURRENCY: "7" }).services[0]!.maxConcurrency).toBe(7);
  });

  it("refuse what cannot work, naming the flag", () => {
    const fails = (argv: string[], message: RegExp) => {
      expect(() => kv(argv)).toThrow(ConfigError);
      expect(() => kv(argv)).toThrow(message);
    };
    fails(["--rate-limit", "fast"], /--rate-limit must look like 1000\/s/);
    fails(["--rate-limit-burst", "5"], /--rate-limit-burst needs --rate-limit/);
    fails(["--rate-limit-store", "memcached://x"], /--rate-limit-store must be memory or a redis:\/\/ URL/);
    fails(["--tls-cert", "c.pem"], /--tls-cert and --tls-key go together/);
    fails(["--tls-client-ca", "ca.pem"], /--tls-client-ca needs --tls-cert/);
    fails(["--kv-max-concurrency=-1"], /--kv-max-concurrency must be an integer from 0/);
  });

  it("are listed in --help", () => {
    const help = helpText("test");
    for (const flag of [
      "--policy",
      "--rate-limit",
      "--rate-limit-store",
      "--access-log",
      "--tls-client-ca",
      "--kv-max-concurrency",
      "--sql-max-concurrency",
    ])
      expect(help).toContain(flag);
  });
});
