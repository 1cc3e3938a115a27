/**
 * Child processes for benchmarks, so the load generator, the server under test and the backends never share
 * one event loop: the sidecar (the compiled CLI), the limit servers of bench/limits/, stand-in backends (SMTP,
 * Vault) and the direct-client loop of bench/direct.ts.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LoadResult } from "./load.js";

export interface BenchServer {
  url: string;
  socket: string;
  /** For reading the server's memory from /proc. */
  pid: number;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcess, pattern: RegExp, label: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        child.stderr?.off("data", onData);
        child.stdout?.off("data", onData);
        child.off("exit", onExit);
        // Keep draining the pipes so a chatty child never blocks on a full one; if it dies, show how.
        let tail = "";
        const keep = (d: Buffer) => (tail = (tail + d).slice(-4000));
        child.stdout?.on("data", keep);
        child.stderr?.on("data", keep);
        child.once("exit", (code, signal) => {
          if (code !== 0 && signal !== "SIGTERM")
            process.stderr.write(`# ${label} exited (${code ?? signal}):\n${tail}\n`);
        });
        resolve(m);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`server exited (${code}): ${out.slice(-2000)}`));
    child.stderr?.on("data", onData);
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

function stopper(child: ChildProcess) {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      // The sidecar drains for up to 10 s on SIGTERM; past that it is stuck.
      const force = setTimeout(() => child.kill("SIGKILL"), 12_000);
      child.once("exit", () => {
        clearTimeout(force);
        resolve();
      });
      child.kill("SIGTERM");
    });
}

/** With MIKCAR_BENCH_PROF=dir, servers write a CPU profile there when they stop (read it with bench/prof-top.ts). */
const profArgs = () =>
  process.env.MIKCAR_BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.MIKCAR_BENCH_PROF}`] : [];

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));

/** The sidecar CLI on an ephemeral port plus a Unix socket, with the given service flags. */
export async function startSidecarProcess(args: string[], env: Record<string, string> = {}): Promise<BenchServer> {
  const socket = join(mkdtempSync(join(tmpdir(), "mikcar-bench-")), "s.sock");
  // The compiled CLI (npm run bench builds it first), as it runs in production: no TypeScript loader in the way.
  // The access log is off unless a row asks for it: the other rows measure the same server as before it existed.
  const accessLog = args.includes("--access-log") ? [] : ["--access-log", "off"];
  const child = spawn(
    process.execPath,
    [...profArgs(), here("../dist/src/cli.js"), "--port", "0", "--socket", socket, ...accessLog, ...args],
    {
      env: { ...process.env, ...env, LOG_LEVEL: "info" }, // the "listening" line is how we learn the port
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const m = await waitFor(child, /"event":"listening","address":"(\d[^"]*)"/, "sidecar");
  return { url: `http://${m[1]}`, socket, pid: child.pid!, stop: stopper(child) };
}

/**
 * A TypeScript entry point of bench/ (a limit server, a stand-in backend) in its own process. It must print
 * `listening <port>` once it serves; `nodeArgs` go to node itself (e.g. `--cpu-prof`).
 */
export async function startBenchProcess(
  entry: string,
  args: string[] = [],
  nodeArgs: string[] = [],
): Promise<BenchServer> {
  const child = spawn(process.execPath, [...profArgs(), ...nodeArgs, "--import", "tsx", here(entry), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const m = await waitFor(child, /listening (\d+)/, entry.replace(/^.*\//, "").replace(/\.ts$/, ""));
  return { url: `http://127.0.0.1:${m[1]}`, socket: "", pid: child.pid!, stop: stopper(child) };
}

export interface DirectSpec {
  /** A module of bench/limits/, e.g. "kv". */
  service: string;
  /** The backend URL the module opens. */
  backend: string;
  /** One of the module's direct operations. */
  op: string;
  keys: number;
  concurrency: number;
  durationSec: number;
}

/** Column (a): the backend work alone, no HTTP, driven by bench/direct.ts in its own process. */
export function runDirect(spec: DirectSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", here("./direct.ts"), JSON.stringify(spec)],
      { maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err)
          return reject(new Error(`direct ${spec.service}/${spec.op} failed: ${stderr.slice(-1000) || err.message}`));
        resolve(JSON.parse(stdout.trim().split("\n").at(-1)!) as LoadResult);
      },
    );
  });
}

/** User + system CPU time a process has used so far, in seconds (/proc/<pid>/stat, clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resets a process's peak RSS (VmHWM) to its current RSS (Linux: `5` into /proc/<pid>/clear_refs). */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** Resident memory of a process, current (VmRSS) or peak (VmHWM), in MiB. */
export function rssMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) / 1024 : NaN;
}
