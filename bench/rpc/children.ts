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
