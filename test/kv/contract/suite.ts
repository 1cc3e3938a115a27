/**
 * What every file of the KV contract shares: the target under test, the service over it, fresh keys per test and
 * one-line helpers for each RPC. The fields are filled in `beforeAll`, so cases read them when they run.
 */
import { create } from "@bufbuild/protobuf";
import { type Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import * as pb from "../../../gen/mikcar/kv/v1/kv_pb.js";
import type { KvBackend } from "../../../src/services/kv/backend.js";
import { handlerContext } from "../../helpers/rpc.js";

export interface KvTarget {
  backend: KvBackend;
  /** Moves the backend's clock forward; absent for backends on real time (then the suite sleeps). */
  advance?: (ms: number) => void;
  /** Runs the background purge now, if the backend has one the test can trigger. */
  purge?: () => Promise<unknown> | unknown;
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const ctx = () => handlerContext(pb.KvService, "get");

/** The Connect code `p` fails with, undefined when it succeeds. */
export async function code(p: Promise<unknown> | unknown): Promise<Code | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

export class KvSuite {
  t!: KvTarget;
  kv!: ServiceImpl<typeof pb.KvService>;
  private n = 0;

  // Every test uses fresh keys, so suites can share a server (and run again) without clean-up races.
  key = (s: string) => `c${++this.n}:${s}`;
  passTime = async (ms: number) => {
    if (this.t.advance) this.t.advance(ms);
    else await sleep(ms);
  };
  get = (k: string) => this.kv.get(create(pb.GetRequestSchema, { key: k }), ctx()) as Promise<{ value: Uint8Array }>;
  set = (k: string, v: string | Uint8Array, ttlSeconds = 0n) =>
    this.kv.set(create(pb.SetRequestSchema, { key: k, value: typeof v === "string" ? enc(v) : v, ttlSeconds }), ctx());
  ttl = async (k: string) => (await this.kv.ttl(create(pb.TtlRequestSchema, { key: k }), ctx())).ttl;
  exists = async (k: string) => (await this.kv.exists(create(pb.ExistsRequestSchema, { key: k }), ctx())).exists;
  incr = async (k: string, by?: bigint) =>
    (await this.kv.increment(create(pb.IncrementRequestSchema, { key: k, by }), ctx())).value;
  keys = async (pattern: string, limit = 0, cursor = "") =>
    this.kv.keys(create(pb.KeysRequestSchema, { pattern, limit, cursor }), ctx()) as Promise<{
      keys: string[];
      nextCursor: string;
    }>;
}
