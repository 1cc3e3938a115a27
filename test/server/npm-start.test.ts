/**
 * `npm start` as the README tells a new user to run it: a SIGTERM to the npm process must reach the server,
 * which shuts down cleanly, instead of leaving it running as an orphan (issue 9, item 12).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it, onTestFinished } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

it("npm start hands SIGTERM to the server, which drains and exits before npm does", { timeout: 180_000 }, async () => {
  const env: Record<string, string | undefined> = {
    ...process.env,
    // --all on embedded backends that write nothing into the repository.
    KV_URL: "memory://",
    STORAGE_URL: "memory://",
    SQL_URL: "sqlite::memory:",
    QUEUE_URL: "memory://",
    SECRETS_URL: "memory://",
    EMAIL_URL: "memory://",
  };
  for (const k of ["SIDECAR_TOKEN", "AUTH_TOKEN", "PORT", "HOST", "SOCKET", "DATABASE_URL", "LOG_LEVEL"]) delete env[k];
  // Its own process group, so that cleanup can reach an orphaned server too.
  const npm = spawn("npm", ["start", "--silent", "--", "--port", "0"], { cwd: root, env, detached: true });
  onTestFinished(() => {
    try {
      process.kill(-npm.pid!, "SIGKILL");
    } catch {
      // the group is gone: nothing was left behind
    }
  });
  let stderr = "";
  npm.stderr.on("data", (d) => (stderr += d));
  npm.stdout.on("data", () => {});
  const exited = new Promise<number | null>((r) => npm.on("exit", (code) => r(code)));
  // "close" waits for every holder of the output pipes: an orphaned server would keep them open.
  const closed = new Promise<void>((r) => npm.on("close", () => r()));
  const address = await new Promise<string>((resolve, reject) => {
    npm.stderr.on("data", () => {
      const m = /"event":"listening","address":"([^"]+)"/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`npm start exited with ${code}: ${stderr}`)));
  });
  expect((await fetch(`http://${address}/health`)).status).toBe(200);

  npm.kill("SIGTERM");
  await exited;
  await Promise.race([closed, new Promise((r) => setTimeout(r, 15_000))]);
  // The server's own last words arrived before npm exited: it got the signal and finished its shutdown.
  expect(stderr).toContain('"event":"shutdown.started","signal":"SIGTERM"');
  expect(stderr).toContain('"event":"shutdown.done"');
  await expect(fetch(`http://${address}/health`)).rejects.toThrow();
});
