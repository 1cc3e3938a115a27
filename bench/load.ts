/**
 * The load generator: `wrk` (C, one thread, keep-alive HTTP/1.1), run as its own process so the server under
 * test and the load never share an event loop, and cheap enough on a 2-core machine that the server gets
 * nearly a core of its own. The same spec drives the limit server and the sidecar, so the bytes on the wire
 * are the same for both. A spec is a cycle of steps (one request each); `{i}` in a path or body is replaced by
 * a key number that advances once per cycle and wraps at `keys`.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Step {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path and query; `{i}` becomes the key number. */
  path: string;
  /** `{i}` in a string body becomes the key number too (wrk then sets Content-Length itself). */
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface LoadSpec {
  /** `http://host:port` of the server under test. */
  url: string;
  steps: Step[];
  /** Key numbers cycle through 0 … keys-1. */
  keys?: number;
  connections: number;
  durationSec: number;
  /** A response body containing this text counts as an error (e.g. an empty pop). */
  reject?: string;
}

export interface LoadResult {
  /** Completed cycles per second (requests per second divided by the number of steps). */
  rps: number;
  /** Completed cycles. */
  ops: number;
  /** CPU time of the server process per cycle, µs (filled in by `measure`). */
  cpuUs?: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed requests: socket errors, timeouts, HTTP status >= 400, and responses matching `reject`. */
  errors: number;
}

const lua = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal for ASCII

function script(spec: LoadSpec, dir: string): string {
  const steps = spec.steps.map((s, n) => {
    let bodyExpr = "nil";
    const keyedBody = typeof s.body === "string" && s.body.includes("{i}");
    if (keyedBody) {
      bodyExpr = lua(s.body as string);
    } else if (s.body !== undefined) {
      const file = join(dir, `body${n}`);
      writeFileSync(file, s.body);
      bodyExpr = `readfile(${lua(file)})`;
    }
    const headers = { ...(s.headers ?? {}) };
    if (s.body !== undefined && !keyedBody) headers["Content-Length"] ??= String(Buffer.byteLength(s.body));
    const h = Object.entries(headers)
      .map(([k, v]) => `[${lua(k)}]=${lua(v)}`)
      .join(",");
    return `{ m=${lua(s.method)}, path=${lua(s.path)}, keyed=${s.path.includes("{i}")}, keyedBody=${keyedBody}, h={${h}}, body=${bodyExpr} }`;
  });
  return `
local function readfile(p) local f = assert(io.open(p, "rb")); local s = f:read("*a"); f:close(); return s end
local steps = { ${steps.join(",\n")} }
local N = ${spec.keys ?? 1}
local nsteps = #steps
local n = 0
local threads = {}
bad = 0
function setup(thread) table.insert(threads, thread) end
-- wrk calls request() once after init to see whether requests vary, and throws that one away: start at -1
-- so that the first request sent is step 1 of cycle 0 (else every pop would precede its push).
function init(args) n = -1 end
function request()
  local k = math.max(n, 0)
  local s = steps[(k % nsteps) + 1]
  local i = math.floor(k / nsteps) % N
  n = n + 1
  local path = s.path
  if s.keyed then path = string.gsub(path, "{i}", tostring(i)) end
  local body = s.body
  if s.keyedBody then body = string.gsub(body, "{i}", tostring(i)) end
  return wrk.format(s.m, path, s.h, body)
end
${
  spec.reject === undefined
    ? ""
    : `local reject = ${lua(spec.reject)}
function response(status, headers, body)
  if body ~= nil and string.find(body, reject, 1, true) then bad = bad + 1 end
end`
}
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + (t:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format('RESULT {"requests":%d,"us":%d,"socket":%d,"status":%d,"timeout":%d,"bad":%d,"p50":%.1f,"p99":%.1f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write, e.status, e.timeout, b,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

/** Runs wrk once against `spec.url` and returns cycles per second, latency per request and the error count. */
export async function wrk(spec: LoadSpec): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "mikcar-wrk-"));
  try {
    const file = join(dir, "load.lua");
    writeFileSync(file, script(spec, dir));
    const args = [
      "-t1",
      `-c${spec.connections}`,
      `-d${Math.max(1, Math.round(spec.durationSec))}s`,
      "--timeout",
      "30s",
      "-s",
      file,
      spec.url,
    ];
    const out = await new Promise<string>((resolve, reject) =>
      execFile("wrk", args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`wrk failed: ${err.message} ${stderr}`)) : resolve(stdout),
      ),
    );
    const m = /RESULT (\{.*\})/.exec(out);
    if (!m) throw new Error(`wrk printed no result: ${out}`);
    const r = JSON.parse(m[1]!) as {
      requests: number;
      us: number;
      socket: number;
      status: number;
      timeout: number;
      bad: number;
      p50: number;
      p99: number;
    };
    // `requests` counts every response, refused ones (status >= 400, `reject`) included: count only good ones.
    const ok = Math.max(0, r.requests - r.status - r.bad);
    return {
      rps: ok / spec.steps.length / (r.us / 1e6),
      ops: ok / spec.steps.length,
      p50Ms: r.p50 / 1000,
      p99Ms: r.p99 / 1000,
      errors: r.socket + r.status + r.timeout + r.bad,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when wrk is on PATH (npm run bench installs it if it can). */
export function haveWrk(): Promise<boolean> {
  return new Promise((resolve) =>
    execFile("wrk", ["-v"], (err, stdout, stderr) => resolve(/wrk/.test(stdout + stderr) || !err)),
  );
}
