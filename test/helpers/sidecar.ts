/** Starts a real sidecar on an ephemeral port (and optionally a Unix socket) for tests that go over the wire. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSidecar, type SidecarOptions } from "../../src/server/create-sidecar.js";
import { createLogger } from "../../src/shared/log.js";
import type { Sidecar } from "../../src/server/server.js";

export interface RunningSidecar {
  sidecar: Sidecar;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Unix socket path, when asked for. */
  socket?: string;
  /** http://127.0.0.1:PORT of the admin listener, when asked for. */
  admin?: string;
  close(): Promise<void>;
}

export async function startSidecar(
  opts: Partial<SidecarOptions> & Pick<SidecarOptions, "services">,
  listen: { socket?: boolean; admin?: boolean } = {},
): Promise<RunningSidecar> {
  const sidecar = await createSidecar({
    log: createLogger(process.env.TEST_LOG === "1" ? "debug" : "silent"),
    ...opts,
  });
  const addr = await sidecar.listen({ port: 0, host: "127.0.0.1" });
  let socket: string | undefined;
  if (listen.socket) {
    socket = join(mkdtempSync(join(tmpdir(), "mikcar-")), "s.sock");
    await sidecar.listen({ socket });
  }
  const admin = listen.admin ? `http://${await sidecar.listenAdmin({ port: 0, host: "127.0.0.1" })}` : undefined;
  return { sidecar, url: `http://${addr}`, socket, admin, close: () => sidecar.close(2_000) };
}
