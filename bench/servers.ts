/** Child processes for benchmarks, so the load generator and the server do not share one event loop. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface BenchServer {
  url: string;
  socket: string;
  /** For reading the server's memory from /proc. */
  pid: number;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        child.stderr?.off("data", onData);
        child.stdout?.off("data", onData);
        resolve(m);
      }
    };
    child.stderr?.on("data", onData);
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
}

function stopper(child: ChildProcess) {
  return () =>
    new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
}

/** The sidecar CLI on an ephemeral port plus a Unix socket, with the given service flags. */
export async function startSidecarProcess(args: string[], env: Record<string, string> = {}): Promise<BenchServer> {
  const socket = join(mkdtempSync(join(tmpdir(), "mikcar-bench-")), "s.sock");
  // The compiled CLI (npm run bench builds it first), as it runs in production: no TypeScript loader in the way.
  const cli = fileURLToPath(new URL("../dist/src/cli.js", import.meta.url));
  // The access log is off unless a row asks for it: the other rows measure the same server as before it existed.
  const accessLog = args.includes("--access-log") ? [] : ["--access-log", "off"];
  const child = spawn(process.execPath, [cli, "--port", "0", "--socket", socket, ...accessLog, ...args], {
    env: { ...process.env, ...env, LOG_LEVEL: "info" }, // the "listening" line is how we learn the port
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = await waitFor(child, /"event":"listening","address":"(\d[^"]*)"/);
  return { url: `http://${m[1]}`, socket, pid: child.pid!, stop: stopper(child) };
}

/** A bare node:http server answering a fixed body: the ceiling any HTTP server on this machine can reach. */
export async function startBaselineServer(): Promise<BenchServer> {
  const socket = join(mkdtempSync(join(tmpdir(), "mikcar-base-")), "b.sock");
  const code = `
    const http = require("node:http");
    const body = Buffer.from("hello");
    const h = (req, res) => { req.resume(); res.writeHead(200, { "content-type": "text/plain", "content-length": body.length }); res.end(body); };
    const a = http.createServer(h), b = http.createServer(h);
    a.listen(0, "127.0.0.1", () => b.listen(${JSON.stringify(socket)}, () => console.log("listening " + a.address().port)));
  `;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "pipe"] });
  const m = await waitFor(child, /listening (\d+)/);
  return { url: `http://127.0.0.1:${m[1]}`, socket, pid: child.pid!, stop: stopper(child) };
}
