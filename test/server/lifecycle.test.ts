/** The CLI as a user runs it: start-up errors, help, persistence across restarts, graceful SIGTERM. */
import { mkdtempSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, startCli } from "../helpers/process.js";

describe("start-up", () => {
  it("refuses to start with no service enabled", async () => {
    const r = await runCli([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no service enabled: pass at least one of .*--kv/);
  });

  it("names a bad URL and the schemes it accepts", async () => {
    const r = await runCli(["--kv"], { KV_URL: "mongodb://user:pw@db/x" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('KV_URL "mongodb://***@db/x" is not supported');
    expect(r.stderr).toContain("memory://, file://, lmdb://, redb://, redis://");
    expect(r.stderr).not.toContain("pw");
  });

  it("refuses an empty auth token", async () => {
    const r = await runCli(["--kv", "--kv-url", "memory://"], { SIDECAR_TOKEN: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/auth token .* is empty/);
  });

  it("says that the folder of a --socket path does not exist (not EACCES)", async () => {
    const r = await runCli(["--kv", "--kv-url", "memory://", "--socket", "/nonexistent/dir/x.sock"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot listen on /nonexistent/dir/x.sock: the folder /nonexistent/dir does not exist");
    expect(r.stderr).not.toContain("EACCES");
  });

  it("prints help and version", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--kv");
    expect(help.stdout).toContain("KV_URL default file://./data/kv.lmdb");
    const version = await runCli(["--version"]);
    expect(version.stdout).toMatch(/^mikcar \d+\.\d+\.\d+/);
  });
});

describe("running", () => {
  it("keeps file-backed data across a restart, and exits 0 on SIGTERM", async () => {
    const url = `file://${join(mkdtempSync(join(tmpdir(), "kvp-")), "kv.lmdb")}`;
    let p = await startCli(["--kv", "--kv-url", url]);
    expect(
      (await fetch(`http://${p.address}/kv/set/durable?ttl=3600`, { method: "POST", body: "still here" })).status,
    ).toBe(200);
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    p = await startCli(["--kv", "--kv-url", url]);
    expect(await (await fetch(`http://${p.address}/kv/get/durable`)).text()).toBe("still here");
    expect(await (await fetch(`http://${p.address}/kv/ttl/durable`)).json()).toMatchObject({ ttl: expect.any(Number) });
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  });

  it("finishes requests in flight when SIGTERM arrives, then exits 0", async () => {
    const url = `file://${join(mkdtempSync(join(tmpdir(), "kvs-")), "kv.lmdb")}`;
    let p = await startCli(["--kv", "--kv-url", url]);
    const [host, port] = [p.address.split(":")[0]!, Number(p.address.split(":")[1])];
    // Three requests whose bodies are only half sent when the signal arrives.
    const inflight = [1, 2, 3].map(
      (i) =>
        new Promise<{ sock: net.Socket; reply: Promise<string> }>((resolve) => {
          const sock = net.connect(port, host, () => {
            sock.write(`POST /kv/set/inflight${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234`);
            let data = "";
            const reply = new Promise<string>((r) => {
              sock.on("data", (d) => {
                data += d;
                if (/\r\n\r\n[\s\S]*\}/.test(data)) sock.end(); // the JSON body has arrived
              });
              sock.on("close", () => r(data));
              sock.on("end", () => r(data));
            });
            resolve({ sock, reply });
          });
        }),
    );
    const conns = await Promise.all(inflight);
    await new Promise((r) => setTimeout(r, 200));
    p.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    for (const c of conns) c.sock.write("56789");
    const replies = await Promise.all(conns.map((c) => c.reply));
    for (const r of replies) expect(r, p.stderr()).toMatch(/^HTTP\/1\.1 200/);
    expect(await p.exited).toBe(0);
    expect(p.stderr()).toContain('"event":"shutdown.done"');
    p = await startCli(["--kv", "--kv-url", url]);
    for (const i of [1, 2, 3])
      expect(await (await fetch(`http://${p.address}/kv/get/inflight${i}`)).text()).toBe("0123456789");
    p.child.kill("SIGTERM");
    await p.exited;
  });

  it("exits at once on a second signal, even with a request still in flight", async () => {
    const p = await startCli(["--kv", "--kv-url", "memory://"]);
    const [host, port] = [p.address.split(":")[0]!, Number(p.address.split(":")[1])];
    // A request whose body never completes would hold a graceful shutdown for its whole grace period.
    const sock = net.connect(port, host, () =>
      sock.write("POST /kv/set/stuck HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01"),
    );
    sock.on("error", () => {});
    await new Promise((r) => setTimeout(r, 200));
    p.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toContain('"event":"shutdown.forced"');
    sock.destroy();
  });
});
