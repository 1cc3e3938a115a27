/**
 * `npm run bench [-- suite…] [--duration S]`: runs every suite in bench/suites (or the named ones) and prints one
 * table. Suites that need a backend that is not running say so and are skipped.
 */
import { readdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { printRows, type BenchRow, type BenchSuite } from "./lib.js";

const { values, positionals } = parseArgs({
  options: { duration: { type: "string", default: "5" } },
  allowPositionals: true,
});
const durationSec = Number(values.duration);
const dir = new URL("./suites/", import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .sort();
const rows: BenchRow[] = [];
for (const f of files) {
  const suite = (await import(new URL(f, dir).href)).default as BenchSuite;
  if (positionals.length > 0 && !positionals.includes(suite.name)) continue;
  console.error(`# running ${suite.name} (${durationSec}s per case)`);
  try {
    rows.push(...(await suite.run({ durationSec })));
  } catch (err) {
    console.error(`# ${suite.name} failed: ${(err as Error).message}`);
  }
}
printRows(rows);
process.exit(0);
