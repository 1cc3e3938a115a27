/**
 * The glob compiler against Redis's own matcher: the same patterns over the same strings, through SSCAN MATCH on
 * a set (Redis's stringmatchlen, the matcher KEYS and SCAN use). Every printable ASCII character is tried in
 * every position a pattern gives it (literal, escaped, in a set, escaped in a set, as a range end), plus every
 * pattern of up to four characters over the glob syntax itself and a fixed sample of random ones.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compilePattern } from "../../src/services/kv/glob.js";
import { backendAvailable, runId, tcpProbe } from "../helpers/backends.js";

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
const SYNTAX = [..."*?[]\\^-a"];

function* words(alphabet: string[], length: number): Generator<string> {
  if (length === 0) return yield "";
  for (const w of words(alphabet, length - 1)) for (const c of alphabet) yield w + c;
}

/** Strings to match: never empty (KV keys are not), short enough that every corner case shows. */
const candidates = [
  ...PRINTABLE,
  ...words([..."*?[]\\^-ab"], 2),
  ...words([..."[]\\-a"], 3),
  ...PRINTABLE.flatMap((c) => [`a${c}`, `a${c}z`, `${c}${c}`]),
  "abc",
  "a-b-c",
  "hello",
  "a/b/c",
];

/** A deterministic sample, so a failure reproduces. */
function randomPatterns(n: number): string[] {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const pool = [...PRINTABLE, ...SYNTAX, ...SYNTAX, ...SYNTAX];
  return Array.from({ length: n }, () =>
    Array.from({ length: 1 + (next() % 8) }, () => pool[next() % pool.length]).join(""),
  );
}

const patterns = [
  ...new Set([
    ...PRINTABLE.flatMap((c) => [
      c,
      `\\${c}`,
      `[${c}]`,
      `[\\${c}]`,
      `[^${c}]`,
      `[^\\${c}]`,
      `a${c}*`,
      `a\\${c}*`,
      `${c}*`,
      `*${c}`,
      `?${c}`,
      `[${c}-~]`,
      `[ -${c}]`,
      `[~-${c}]`,
      `[${c}`,
      `a-${c}*`,
    ]),
    ...[1, 2, 3, 4].flatMap((n) => [...words(SYNTAX, n)]),
    ...randomPatterns(3000),
  ]),
];

const up = await backendAvailable("redis", () => tcpProbe(6379));

describe.runIf(up)("glob compiler agrees with Redis's MATCH", () => {
  const key = runId("mikcar-glob-");
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis("redis://127.0.0.1:6379");
    await redis.sadd(key, ...candidates);
  });
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  async function redisMatches(pattern: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.sscan(key, cursor, "MATCH", pattern, "COUNT", 10_000);
      cursor = next;
      out.push(...batch);
    } while (cursor !== "0");
    return out.sort();
  }

  it(`on ${patterns.length} patterns over ${new Set(candidates).size} strings`, async () => {
    const differ: string[] = [];
    let compared = 0;
    for (const pattern of patterns) {
      const { match } = compilePattern(pattern);
      // A pattern without glob characters is a prefix by the API's definition, not Redis's exact match.
      if (match === null) continue;
      compared++;
      const ours = [...new Set(candidates)].filter(match).sort();
      const theirs = await redisMatches(pattern);
      if (JSON.stringify(ours) !== JSON.stringify(theirs))
        differ.push(`${JSON.stringify(pattern)}: ours ${JSON.stringify(ours)}, redis ${JSON.stringify(theirs)}`);
    }
    expect(compared).toBeGreaterThan(5_000);
    expect(differ.slice(0, 20)).toEqual([]);
  }, 120_000);
});
