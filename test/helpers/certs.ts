/** Throwaway certificates for TLS tests, made with the openssl command: a CA, a server cert, client certs. */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: "pipe" });

export interface Ca {
  cert: string;
  key: string;
}

/** A self-signed CA named `name` in `dir` (files name.pem, name.key). */
export function makeCa(dir: string, name: string): Ca {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

/**
 * A certificate signed by `ca`: subject CN `cn`, with the given subjectAltNames (`DNS:localhost`,
 * `IP:127.0.0.1`, `URI:spiffe://…`) and usage `server` or `client`.
 */
export function makeCert(dir: string, ca: Ca, name: string, cn: string, sans: string[], usage: "server" | "client") {
  openssl(
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    ],
    dir,
  );
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    [
      ...(sans.length ? [`subjectAltName=${sans.join(",")}`] : []),
      `extendedKeyUsage=${usage === "server" ? "serverAuth" : "clientAuth"}`,
    ].join("\n"),
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      ext,
      "-out",
      `${name}.pem`,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}
