/** Runs the real `mikcar` CLI as a child process (through tsx, so no build step is needed). */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

export interface CliProcess {
  child: ChildProcess;
  /** "127.0.0.1:PORT" of the first listener. */
  address: string;
  stderr(): string;
  exited: Promise<number | null>;
}

export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { env: { ...cleanEnv(), ...env } });
    let stdout = "",
      stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the CLI and resolves once it logs that it is listening. */
export function startCli(args: string[], env: Record<string, string> = {}): Promise<CliProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", cli, "--port", "0", ...args], {
    env: { ...cleanEnv(), ...env },
  });
  let err = "";
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`mikcar did not start: ${err}`)), 20_000);
    child.stderr.on("data", (d) => {
      err += d;
      const m = /"event":"listening","address":"([^"]+)"/.exec(err);
      if (m) {
        clearTimeout(t);
        resolve({ child, address: m[1]!, stderr: () => err, exited });
      }
    });
    void exited.then((code) => reject(new Error(`mikcar exited with ${code}: ${err}`)));
  });
}

// The test runner's own settings (a token in the environment, say) must not leak into the child.
function cleanEnv() {
  const env = { ...process.env };
  for (const k of ["SIDECAR_TOKEN", "AUTH_TOKEN", "PORT", "HOST", "SOCKET", "KV_URL", "LOG_LEVEL"]) delete env[k];
  return env;
}
