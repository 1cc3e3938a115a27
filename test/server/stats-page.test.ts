/**
 * The live /stats page in headless Chromium (Debian `chromium`, driven by playwright-core): its figures change
 * as traffic arrives, and a backend cut through the test proxy shows as a breaker open. With
 * UPDATE_SCREENSHOTS=1 it also refreshes docs/stats.png, the screenshot the README shows.
 */
import { access } from "node:fs/promises";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendAvailable, runId, tcpProbe } from "../helpers/backends.js";
import { type CuttableProxy, startProxy } from "../helpers/proxy.js";
import { type RunningSidecar, startSidecar } from "../helpers/sidecar.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = await backendAvailable("chromium", () => access(CHROMIUM));
const haveRedis = await backendAvailable("redis", () => tcpProbe(6379));

describe.runIf(haveChromium && haveRedis)("the /stats page", () => {
  let browser: Browser;
  let page: Page;
  let proxy: CuttableProxy;
  let s: RunningSidecar;

  beforeAll(async () => {
    proxy = await startProxy(6379);
    s = await startSidecar(
      {
        services: { kv: `redis://127.0.0.1:${proxy.port}/0?prefix=${runId("stats")}:`, queue: "memory://" },
        // Once open, the breaker stays open for the rest of the test.
        serviceOptions: { kv: { retries: 0, "breaker-failures": 3, "breaker-half-open": "10m" } },
      },
      { admin: true },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
    await proxy?.close();
  });

  const text = (selector: string) => page.locator(selector).first().textContent({ timeout: 10_000 });
  const num = async (selector: string) => Number(await text(selector));
  const traffic = async (n: number) => {
    for (let i = 0; i < n; i++) await (await fetch(`${s.url}/kv/get/stats-${i % 5}`)).text();
  };

  it("shows figures that move with the traffic", async () => {
    await fetch(`${s.url}/kv/set/stats-0`, { method: "POST", body: "v" });
    await page.goto(`${s.admin}/stats`);
    await expect.poll(() => text("#updated"), { timeout: 10_000 }).not.toBe("never");
    await traffic(40);
    await expect.poll(() => num('tr[data-method="kv/Get"] .requests'), { timeout: 10_000 }).toBe(40);
    expect(await num("#total-rps")).toBeGreaterThan(0);
    expect(await text('tr[data-method="kv/Get"] .p50')).toMatch(/^\d+(\.\d+)?$/);
    expect(await text('tr[data-backend="kv"] .state')).toBe("up");
    await traffic(25);
    await expect.poll(() => num('tr[data-method="kv/Get"] .requests'), { timeout: 10_000 }).toBe(65);
    await expect.poll(() => num("#connections"), { timeout: 10_000 }).toBeGreaterThanOrEqual(0);
  });

  it("shows the breaker open after the backend is cut", async () => {
    proxy.cut();
    for (let i = 0; i < 5; i++) expect((await fetch(`${s.url}/kv/get/stats-0`)).status).toBe(503);
    await expect.poll(() => text('tr[data-backend="kv"] .state'), { timeout: 10_000 }).toBe("open");
    await expect.poll(() => num('tr[data-method="kv/Get"] .errors'), { timeout: 10_000 }).toBe(5);
    expect(await text('tr[data-backend="queue"] .state')).toBe("up");
    const shot = await page.screenshot({
      fullPage: true,
      ...(process.env.UPDATE_SCREENSHOTS === "1"
        ? { path: new URL("../../docs/stats.png", import.meta.url).pathname }
        : {}),
    });
    expect(shot.length).toBeGreaterThan(10_000);
  });
});
