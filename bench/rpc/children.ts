/** The baseline servers of the rpc suite, each in its own process (run through tsx, as the bench itself). */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface Child {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export function startChild(script: string, env: Record<string, string> = {}): Promise<Child> {
  const file = fileURLToPath(new URL(script, import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", file], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (!m) return;
      child.stdout.off("data", onData);
      resolve({
        port: Number(m[1]),
        pid: child.pid!,
        stop: () =>
          new Promise<void>((done) => {
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => (out += d));
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}): ${out}`)));
  });
}

/** A bare node:http server answering a fixed body on TCP and a Unix socket: the HTTP/1.1 ceiling here. */
export async function startBareHttp(): Promise<{ url: string; socket: string; pid: number; stop(): Promise<void> }> {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const socket = join(mkdtempSync(join(tmpdir(), "mikcar-base-")), "b.sock");
  const code = `
    const http = require("node:http");
    const body = Buffer.from("hello");
    const h = (req, res) => { req.resume(); res.writeHead(200, { "content-type": "text/plain", "content-length": body.length }); res.end(body); };
    const a = http.createServer(h), b = http.createServer(h);
    a.listen(0, "127.0.0.1", () => b.listen(${JSON.stringify(socket)}, () => console.log("listening " + a.address().port)));
  `;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "pipe"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (c) => reject(new Error(`bare http server exited (${c}): ${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    socket,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((done) => {
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}
