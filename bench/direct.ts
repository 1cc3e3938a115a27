/**
 * Column (a): a limit module's backend work called in a loop, without HTTP, in its own process
 * (`node --import tsx bench/direct.ts <DirectSpec JSON>`). Prints one JSON line: the LoadResult.
 */
import type { LoadResult } from "./load.js";
import type { OpenLimit } from "./limits/serve.js";
import type { DirectSpec } from "./servers.js";

/** Runs `op` from `concurrency` loops for `durationSec`; ops/s and latency percentiles in ms. */
export async function loop(
  op: (i: number) => Promise<unknown>,
  durationSec: number,
  concurrency: number,
  keys: number,
): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const start = performance.now();
  const end = start + durationSec * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await op(n++ % keys);
          lat.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { rps: lat.length / secs, ops: lat.length, p50Ms: pct(0.5), p99Ms: pct(0.99), errors };
}

const spec = JSON.parse(process.argv[2]!) as DirectSpec;
const mod = (await import(`./limits/${spec.service}.js`)) as { open: OpenLimit };
const limit = await mod.open(spec.backend);
const op = limit.direct[spec.op];
if (!op) throw new Error(`limits/${spec.service} has no direct operation ${spec.op}`);
await op(0); // connect before the clock starts
const result = await loop(op, spec.durationSec, spec.concurrency, spec.keys);
await limit.close();
console.log(JSON.stringify(result));
process.exit(0);
