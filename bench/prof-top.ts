/**
 * Prints the functions with the most self time in a V8 .cpuprofile (from `node --cpu-prof`), and the share of
 * idle time: `npx tsx bench/prof-top.ts file.cpuprofile [N]`. With MIKCAR_BENCH_PROF=dir set, `npm run bench`
 * starts every sidecar and limit server with --cpu-prof writing there.
 */
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
const prof = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
const top = Number(process.argv[3] ?? 25);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  total += dt;
  const f = byId.get(id)!.callFrame;
  const key = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(node_modules|src|dist|bench)\//, "$1/")}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + dt);
});
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
// With the number of operations served as a third argument, also µs of self time per operation.
const ops = Number(process.argv[4] ?? 0);
const busy = total - (self.get("(idle) :0") ?? 0);
if (ops > 0) console.log(`busy ${(busy / ops).toFixed(1)} µs per operation over ${ops} operations`);
for (const [k, v] of rows) {
  const per = ops > 0 ? `${(v / ops).toFixed(2).padStart(7)} µs  ` : "";
  console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${per}${k}`);
}
