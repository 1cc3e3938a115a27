/**
 * Token buckets in Redis (`--rate-limit-store redis://…`): every check is one Lua script that refills, tests
 * and takes from all the buckets of a call atomically, on Redis's own clock, so several sidecars enforce one
 * limit together. Redis being down fails closed: the call gets 503 UNAVAILABLE, never a free pass.
 */
import { Redis } from "ioredis";
import { connectRedis, mapRedisError, parseRedisUrl } from "../../shared/redis.js";
import type { Bucket, RateStore, Refusal } from "./rate-limit.js";

// KEYS: one hash per bucket. ARGV: per bucket, tokens per ms and burst. Returns {0, 0} when taken, else
// {1-based index of the bucket that ran dry, ms until it refills}.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local wait = 0
local dry = 0
local tokens = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local s = redis.call('HMGET', key, 'tokens', 'at')
  local have = tonumber(s[1]) or burst
  local at = tonumber(s[2]) or now
  if now > at then have = math.min(burst, have + (now - at) * rate) end
  tokens[i] = have
  if have < 1 and (1 - have) / rate > wait then
    wait = (1 - have) / rate
    dry = i
  end
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local have = tokens[i]
  if wait == 0 then have = have - 1 end
  redis.call('HSET', key, 'tokens', tostring(have), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate) + 1000)
end
return {dry, math.ceil(wait)}
`;

export class RedisRateStore implements RateStore {
  private constructor(
    private readonly client: Redis & { mikcarTake(n: number, ...args: (string | number)[]): Promise<[number, number]> },
    private readonly prefix: string,
  ) {}

  static async open(url: string): Promise<RedisRateStore> {
    const target = parseRedisUrl(url);
    const client = new Redis(target.options);
    client.defineCommand("mikcarTake", { lua: TAKE });
    await connectRedis(client);
    return new RedisRateStore(client as never, `${target.prefix}mikcar:rate:`);
  }

  async take(buckets: readonly Bucket[]): Promise<Refusal | undefined> {
    const keys = buckets.map((b) => this.prefix + b.key);
    const args = buckets.flatMap((b) => [b.perSecond / 1000, b.burst]);
    let r: [number, number];
    try {
      r = await this.client.mikcarTake(keys.length, ...keys, ...args);
    } catch (err) {
      return mapRedisError(err);
    }
    return Number(r[0]) === 0 ? undefined : { index: Number(r[0]) - 1, waitMs: Number(r[1]) };
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
