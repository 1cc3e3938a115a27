/**
 * `npm run bench [-- suite…] [--duration S] [--connections 1,32,256 | --scale] [--population N | --million]`:
 * runs every suite in bench/suites (or the named ones) and prints, per suite, the sidecar ÷ limit ratio and the
 * three columns (direct client, limit server, sidecar). Suites whose backend is not running say so and skip it.
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { onlyCases, printRows, type BenchRow, type BenchSuite } from "./lib.js";
import { haveWrk } from "./load.js";

const { values, positionals } = parseArgs({
  options: {
    duration: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    scale: { type: "boolean", default: false },
    population: { type: "string", default: "10000" },
    million: { type: "boolean", default: false },
    case: { type: "string" },
  },
  allowPositionals: true,
});

if (!(await haveWrk())) {
  // wrk is the load generator of every suite; it is a Debian package, not an npm one.
  console.error("# wrk not found: installing it with apt-get (bench only; tests do not need it)");
  try {
    execFileSync("apt-get", ["install", "-y", "wrk"], { stdio: "inherit" });
  } catch {
    console.error("# could not install wrk: run `apt-get install wrk` (Debian/Ubuntu) and try again");
    process.exit(1);
  }
}

onlyCases(values.case);
const durationSec = Number(values.duration);
const connections = values.scale ? [1, 32, 256] : values.connections.split(",").map(Number);
const population = values.million ? 1_000_000 : Number(values.population);
const dir = new URL("./suites/", import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".ts"))
  .sort();
const known = files.map((f) => f.replace(/\.ts$/, ""));
const unknown = positionals.filter((p) => !known.includes(p));
if (unknown.length > 0) {
  console.error(`unknown suite ${unknown.join(", ")}; suites: ${known.join(", ")}`);
  process.exit(2);
}
const rows: BenchRow[] = [];
for (const f of files) {
  if (positionals.length > 0 && !positionals.includes(f.replace(/\.ts$/, ""))) continue;
  const suite = (await import(new URL(f, dir).href)).default as BenchSuite;
  console.error(
    `# running ${suite.name} (${durationSec}s per column, connections ${connections.join("/")}, population ${population})`,
  );
  try {
    rows.push(
      ...(await suite.run({ durationSec, connections, population })).filter((r): r is BenchRow => r !== undefined),
    );
  } catch (err) {
    console.error(`# ${suite.name} failed: ${(err as Error).stack ?? err}`);
  }
}
printRows(rows);
process.exit(0);
