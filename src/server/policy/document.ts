/**
 * The policy file (`--policy FILE`, JSON or YAML by extension): parsed and checked field by field, so that a
 * mistake is reported with the path of the field (`tokens[1].allow[0].methods[2]`) and what it accepts. The
 * field names are fixed (docs/policy.md); unknown fields are errors, not silently ignored.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";

export interface RateSpec {
  per_second: number;
  burst?: number;
}

export interface AllowRule {
  service: string;
  methods: string[];
  resources?: string[];
}

export interface TokenEntry {
  id: string;
  sha256?: string;
  token?: string;
  mtls_subject?: string;
  namespace?: string;
  rate?: RateSpec;
  allow: AllowRule[];
}

export interface PolicyDocument {
  tokens: TokenEntry[];
}

/** A policy that cannot be used, with the field at fault in the message. */
export class PolicyError extends Error {
  override name = "PolicyError";
}

/** What the checker knows of the services: name → its RPC method names, for the services this sidecar runs. */
export type ServiceMethods = ReadonlyMap<string, readonly string[]>;

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/;
const HEX = /^[0-9a-f]{64}$/i;
// Plain text in every service's name rules and in KV glob patterns: no glob, escape or separator tricks.
const NAMESPACE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/** Reads and checks a policy file; `known` lists every service name a rule may name (enabled or not). */
export async function readPolicyFile(path: string, services: ServiceMethods, known: readonly string[]) {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new PolicyError(`cannot read policy file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return parsePolicy(text, path, services, known);
}

/** Parses policy text (YAML for .yaml/.yml, else JSON) and checks it. Returns the document and its warnings. */
export function parsePolicy(
  text: string,
  path: string,
  services: ServiceMethods,
  known: readonly string[],
): { doc: PolicyDocument; warnings: string[] } {
  const ext = extname(path).toLowerCase();
  let raw: unknown;
  try {
    raw = ext === ".yaml" || ext === ".yml" ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new PolicyError(
      `policy file ${path} is not valid ${ext === ".json" ? "JSON" : "YAML"}: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  return checkPolicy(raw, services, known);
}

/** Checks a policy given as data (the library's `policy` option, or a parsed file). */
export function checkPolicy(
  raw: unknown,
  services: ServiceMethods,
  known: readonly string[],
): { doc: PolicyDocument; warnings: string[] } {
  const warnings: string[] = [];
  const top = object(raw, "the policy");
  onlyFields(top, ["tokens"], "the policy");
  if (!Array.isArray(top.tokens)) throw new PolicyError("tokens: must be a list of token entries");
  const ids = new Set<string>();
  const secrets = new Set<string>();
  const subjects = new Set<string>();
  const tokens = top.tokens.map((t, i): TokenEntry => {
    const at = `tokens[${i}]`;
    const o = object(t, at);
    onlyFields(o, ["id", "sha256", "token", "mtls_subject", "namespace", "rate", "allow"], at);
    const id = str(o.id, `${at}.id`);
    if (!ID.test(id)) throw new PolicyError(`${at}.id: ${JSON.stringify(id)} must be 1-64 of [A-Za-z0-9_.:@-]`);
    if (ids.has(id)) throw new PolicyError(`${at}.id: ${JSON.stringify(id)} is used by another token`);
    ids.add(id);
    const entry: TokenEntry = { id, allow: [] };
    const ways = ["sha256", "token", "mtls_subject"].filter((k) => o[k] !== undefined);
    if (ways.length !== 1)
      throw new PolicyError(
        `${at}: give exactly one of sha256, token or mtls_subject (got ${ways.join(", ") || "none"})`,
      );
    if (o.sha256 !== undefined) {
      const h = str(o.sha256, `${at}.sha256`);
      if (!HEX.test(h)) throw new PolicyError(`${at}.sha256: must be 64 hex digits (the SHA-256 of the token)`);
      entry.sha256 = h.toLowerCase();
    }
    if (o.token !== undefined) {
      entry.token = str(o.token, `${at}.token`);
      if (entry.token.trim() === "") throw new PolicyError(`${at}.token: must not be empty`);
      warnings.push(`${at} (${id}) gives its token in plain text; prefer sha256`);
    }
    if (o.mtls_subject !== undefined) {
      entry.mtls_subject = str(o.mtls_subject, `${at}.mtls_subject`);
      if (entry.mtls_subject === "") throw new PolicyError(`${at}.mtls_subject: must not be empty`);
      if (subjects.has(entry.mtls_subject))
        throw new PolicyError(`${at}.mtls_subject: ${JSON.stringify(entry.mtls_subject)} is used by another token`);
      subjects.add(entry.mtls_subject);
    }
    const secret = entry.sha256 ?? entry.token;
    if (secret !== undefined) {
      if (secrets.has(secret)) throw new PolicyError(`${at}: the same token is given to another entry`);
      secrets.add(secret);
    }
    if (o.namespace !== undefined) entry.namespace = namespace(o.namespace, `${at}.namespace`);
    if (o.rate !== undefined) entry.rate = rate(o.rate, `${at}.rate`);
    if (!Array.isArray(o.allow)) throw new PolicyError(`${at}.allow: must be a list of rules`);
    entry.allow = o.allow.map((r, j) => rule(r, `${at}.allow[${j}]`, services, known, warnings));
    return entry;
  });
  // Two entries with the same token in different spellings (plain and hashed) are caught when compiled.
  return { doc: { tokens }, warnings };
}

function rule(
  raw: unknown,
  at: string,
  services: ServiceMethods,
  known: readonly string[],
  warnings: string[],
): AllowRule {
  const o = object(raw, at);
  onlyFields(o, ["service", "methods", "resources"], at);
  const service = str(o.service, `${at}.service`);
  if (!known.includes(service))
    throw new PolicyError(`${at}.service: unknown service ${JSON.stringify(service)} (known: ${known.join(", ")})`);
  const methods = strList(o.methods, `${at}.methods`);
  if (methods.length === 0) throw new PolicyError(`${at}.methods: must name at least one method, or "*"`);
  const offered = services.get(service);
  if (!offered) warnings.push(`${at} is for ${service}, which this sidecar does not run`);
  else {
    methods.forEach((m, k) => {
      if (m !== "*" && !offered.includes(m))
        throw new PolicyError(
          `${at}.methods[${k}]: ${service} has no method ${JSON.stringify(m)} (methods: ${offered.join(", ")})`,
        );
    });
  }
  const out: AllowRule = { service, methods };
  if (o.resources !== undefined) {
    out.resources = strList(o.resources, `${at}.resources`);
    if (out.resources.length === 0)
      throw new PolicyError(`${at}.resources: an empty list allows nothing; omit it to allow any resource`);
    if (service === "sql") throw new PolicyError(`${at}.resources: sql names no resources; grant methods instead`);
  }
  return out;
}

function namespace(raw: unknown, at: string): string {
  const ns = str(raw, at);
  const segments = ns.endsWith("/") ? ns.slice(0, -1).split("/") : [];
  if (segments.length === 0 || !segments.every((s) => NAMESPACE_SEGMENT.test(s) && s !== "." && s !== ".."))
    throw new PolicyError(
      `${at}: ${JSON.stringify(ns)} must be one or more segments of [A-Za-z0-9_.-], each followed by "/" (e.g. "orders/")`,
    );
  return ns;
}

function rate(raw: unknown, at: string): RateSpec {
  const o = object(raw, at);
  onlyFields(o, ["per_second", "burst"], at);
  const per = o.per_second;
  if (typeof per !== "number" || !(per > 0) || !Number.isFinite(per))
    throw new PolicyError(`${at}.per_second: must be a number above 0`);
  const out: RateSpec = { per_second: per };
  if (o.burst !== undefined) {
    if (typeof o.burst !== "number" || !Number.isInteger(o.burst) || o.burst < 1)
      throw new PolicyError(`${at}.burst: must be a whole number of at least 1`);
    out.burst = o.burst;
  }
  return out;
}

function object(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PolicyError(`${at}: must be an object`);
  return v as Record<string, unknown>;
}

function onlyFields(o: Record<string, unknown>, allowed: readonly string[], at: string) {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw new PolicyError(`${at}: unknown field ${JSON.stringify(k)} (fields: ${allowed.join(", ")})`);
  }
}

function str(v: unknown, at: string): string {
  if (typeof v !== "string") throw new PolicyError(`${at}: must be a string`);
  return v;
}

function strList(v: unknown, at: string): string[] {
  if (!Array.isArray(v)) throw new PolicyError(`${at}: must be a list of strings`);
  return v.map((x, i) => str(x, `${at}[${i}]`));
}
