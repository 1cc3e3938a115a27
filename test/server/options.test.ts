/** The typed option parser and the CLI's precedence: flag, then environment variable, then default. */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/options.js";
import { type OptionSpec, parseOption, resolveOptions } from "../../src/shared/option-spec.js";
import { parseDuration, parseSize } from "../../src/shared/units.js";

const sql = (argv: string[], env: Record<string, string> = {}) => {
  const c = parseConfig(["--sql", ...argv], env);
  return c.services.find((s) => s.module.name === "sql")!;
};

describe("sizes and durations", () => {
  it("read the same units everywhere", () => {
    expect(parseSize("512KiB", "x")).toBe(512 * 1024);
    expect(parseSize("10MB", "x")).toBe(10_000_000);
    expect(parseSize("5G", "x")).toBe(5 * 1024 ** 3);
    expect(parseSize("1048576", "x")).toBe(1048576);
    expect(parseSize("64", "x", "MiB")).toBe(64 * 1024 ** 2);
    expect(parseDuration("500ms", "x")).toBe(500);
    expect(parseDuration("30s", "x")).toBe(30_000);
    expect(parseDuration("5m", "x")).toBe(300_000);
    expect(parseDuration("30", "x")).toBe(30_000);
    expect(parseDuration("5000", "x", "ms")).toBe(5000);
    expect(() => parseSize("lots", "--max-body-size")).toThrow(/--max-body-size must be a size/);
    expect(() => parseDuration("soon", "--request-timeout")).toThrow(/--request-timeout must be a duration/);
  });

  it("--max-body-size and --storage-max-object-size accept the same sizes", () => {
    const c = parseConfig(["--storage", "--max-body-size", "5G", "--storage-max-object-size", "5G"], {});
    expect(c.maxBodyBytes).toBe(5 * 1024 ** 3);
    expect(c.services[0]!.options["max-object-size"]).toBe(5 * 1024 ** 3);
  });
});

describe("each option type: flag, then env, then default", () => {
  const specs: Record<string, OptionSpec> = {
    s: { type: "string", env: "S", description: "", default: "d" },
    b: { type: "boolean", env: "B", description: "", default: false },
    i: { type: "integer", min: 1, max: 10, env: "I", description: "", default: 3 },
    z: { type: "size", min: 1, env: "Z", description: "", default: 1024 },
    d: { type: "duration", bare: "ms", env: "D", description: "", default: 100 },
  };
  it("typed values and text both resolve; missing ones take the default", () => {
    expect(resolveOptions(specs, {}, (n) => n)).toEqual({ s: "d", b: false, i: 3, z: 1024, d: 100 });
    expect(resolveOptions(specs, { s: "x", b: "yes", i: "7", z: "2KiB", d: "2s" }, (n) => n)).toEqual({
      s: "x",
      b: true,
      i: 7,
      z: 2048,
      d: 2000,
    });
    expect(resolveOptions(specs, { i: 9, d: 250 }, (n) => n)).toMatchObject({ i: 9, d: 250 });
  });
  it("out-of-range values name the option and the bound", () => {
    expect(() => parseOption(specs.i!, "11", "--x-i")).toThrow('--x-i must be an integer from 1 to 10; got "11"');
    expect(() => parseOption(specs.z!, "0", "--x-z")).toThrow("--x-z must be at least 1B; got 0B");
    expect(() => parseOption(specs.b!, "maybe", "--x-b")).toThrow(/--x-b must be true or false/);
    expect(() => resolveOptions(specs, { nope: "1" }, (n) => `--x-${n}`)).toThrow(/unknown option --x-nope/);
  });
  it("integer: flag over env over default", () => {
    expect(sql(["--sql-pool-size", "4"], { SQL_POOL_SIZE: "6" }).options["pool-size"]).toBe(4);
    expect(sql([], { SQL_POOL_SIZE: "6" }).options["pool-size"]).toBe(6);
    expect(sql([]).options["pool-size"]).toBe(10);
  });
  it("duration: flag over env over default, a bare number keeps its old unit", () => {
    expect(sql(["--sql-script-timeout", "2s"], { SQL_SCRIPT_TIMEOUT: "3000" }).options["script-timeout"]).toBe(2000);
    expect(sql([], { SQL_SCRIPT_TIMEOUT: "3000" }).options["script-timeout"]).toBe(3000);
    expect(sql([]).options["script-timeout"]).toBe(5000);
    expect(parseConfig(["--kv", "--request-timeout", "500ms"], { REQUEST_TIMEOUT: "9" }).requestTimeoutMs).toBe(500);
    expect(parseConfig(["--kv"], { REQUEST_TIMEOUT: "9" }).requestTimeoutMs).toBe(9000);
    expect(parseConfig(["--kv"], {}).requestTimeoutMs).toBe(30_000);
  });
  it("size: flag over env over default, a bare number keeps its old unit", () => {
    expect(sql(["--sql-script-memory", "32MiB"], { SQL_SCRIPT_MEMORY: "48" }).options["script-memory"]).toBe(
      32 * 1024 ** 2,
    );
    expect(sql([], { SQL_SCRIPT_MEMORY: "48" }).options["script-memory"]).toBe(48 * 1024 ** 2);
    expect(sql([]).options["script-memory"]).toBe(64 * 1024 ** 2);
  });
  it("boolean and string: flag over env over default", () => {
    expect(sql(["--sql-readonly"], { SQL_READONLY: "false" }).options.readonly).toBe(true);
    expect(sql([], { SQL_READONLY: "true" }).options.readonly).toBe(true);
    expect(sql([]).options.readonly).toBe(false);
    expect(parseConfig(["--kv", "--log-level", "warn"], { LOG_LEVEL: "debug" }).logLevel).toBe("warn");
    expect(parseConfig(["--kv"], { LOG_LEVEL: "debug" }).logLevel).toBe("debug");
    expect(parseConfig(["--kv"], {}).logLevel).toBe("info");
  });
  it("a bad value from the environment names the variable", () => {
    expect(() => sql([], { SQL_POOL_SIZE: "0" })).toThrow(ConfigError);
    expect(() => sql([], { SQL_POOL_SIZE: "0" })).toThrow(/SQL_POOL_SIZE must be an integer from 1 to 1000/);
    expect(() => parseConfig(["--kv"], { MAX_BODY_SIZE: "big" })).toThrow(/MAX_BODY_SIZE must be a size/);
  });
});

describe("SQL URL", () => {
  it("takes --sql-url, then SQL_URL, then mikcar's DATABASE_URL, then the default, and says which", () => {
    const pg = "postgres://app@127.0.0.1/test";
    expect(sql(["--sql-url", "sqlite::memory:"], { SQL_URL: pg, DATABASE_URL: pg })).toMatchObject({
      url: "sqlite::memory:",
      urlFrom: "--sql-url",
    });
    expect(sql([], { SQL_URL: "sqlite::memory:", DATABASE_URL: pg })).toMatchObject({
      url: "sqlite::memory:",
      urlFrom: "SQL_URL",
    });
    expect(sql([], { DATABASE_URL: pg })).toMatchObject({ url: pg, urlFrom: "DATABASE_URL" });
    expect(sql([])).toMatchObject({ url: "sqlite://./data/app.db", urlFrom: "default" });
  });
});
