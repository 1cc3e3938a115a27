/**
 * TLS material for the TCP listeners (`--tls-cert`, `--tls-key`, `--tls-client-ca`): read from files at start,
 * checked by building a secure context (so a wrong key fails start-up, not the first handshake), and read again
 * on `reload()` (SIGHUP), which swaps the context of every listener; connections already open keep theirs.
 */
import { readFile } from "node:fs/promises";
import * as tls from "node:tls";

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA bundle client certificates must chain to; given, every client must present one (mTLS). */
  clientCa?: string;
}

export class TlsMaterial {
  private readonly servers = new Set<tls.Server>();

  private constructor(
    readonly files: TlsFiles,
    private context: tls.SecureContextOptions,
  ) {}

  static async load(files: TlsFiles): Promise<TlsMaterial> {
    return new TlsMaterial(files, await read(files));
  }

  /** Client certificates are required and verified. */
  get mtls(): boolean {
    return this.files.clientCa !== undefined;
  }

  /** A TLS server that hands each connection, once secure, to `onSecure` (ALPN decides h2 or HTTP/1.1). */
  createServer(onSecure: (socket: tls.TLSSocket) => void): tls.Server {
    const server = tls.createServer({
      ...this.context,
      ALPNProtocols: ["h2", "http/1.1"],
      requestCert: this.mtls,
      rejectUnauthorized: this.mtls,
      handshakeTimeout: 10_000,
    });
    server.on("secureConnection", onSecure);
    server.on("tlsClientError", (_err, socket) => socket.destroy());
    this.servers.add(server);
    server.once("close", () => this.servers.delete(server));
    return server;
  }

  /** Reads the files again; the new certificates serve new connections. Throws (keeping the old) on a bad file. */
  async reload(): Promise<void> {
    const next = await read(this.files);
    this.context = next;
    for (const s of this.servers) s.setSecureContext(next);
  }

  forget(server: tls.Server): void {
    this.servers.delete(server);
  }
}

async function read(files: TlsFiles): Promise<tls.SecureContextOptions> {
  const get = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  };
  const options: tls.SecureContextOptions = {
    cert: await get(files.cert, "--tls-cert"),
    key: await get(files.key, "--tls-key"),
    ...(files.clientCa ? { ca: await get(files.clientCa, "--tls-client-ca") } : {}),
  };
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new Error(`the TLS certificate or key cannot be used: ${(err as Error).message}`);
  }
  return options;
}
