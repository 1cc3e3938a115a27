/**
 * The `/stats` page of the admin listener: one HTML document with a small script that polls `/stats.json` every
 * second and redraws its tables. No build step, no external resources (it must work offline and under a strict
 * CSP), so it lives here as a string.
 */
export const STATS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mikcar stats</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2433; background: #f7f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; } h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  .muted { color: #6b7385; } .cards { display: flex; gap: .75rem; flex-wrap: wrap; margin-top: 1rem; }
  .card { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .6rem .9rem; min-width: 8rem; }
  .card b { display: block; font-size: 1.4rem; font-variant-numeric: tabular-nums; }
  table { border-collapse: collapse; background: #fff; border: 1px solid #dde1e8; min-width: 40rem; }
  th, td { padding: .35rem .7rem; border-bottom: 1px solid #eef0f4; text-align: right; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
  th { background: #f0f2f6; font-weight: 600; }
  .state { font-weight: 600; } .up { color: #1a7f37; } .down, .open { color: #c62828; } .half-open { color: #b26a00; }
</style>
</head>
<body>
<h1>mikcar</h1>
<div class="muted">live, last <span id="window">60</span> s &middot; updated <span id="updated">never</span></div>
<div class="cards">
  <div class="card">requests/s<b id="total-rps">0</b></div>
  <div class="card">errors<b id="total-errors">0</b></div>
  <div class="card">in flight<b id="inflight">0</b></div>
  <div class="card">connections<b id="connections">0</b></div>
  <div class="card">HTTP/2 streams<b id="streams">0</b></div>
</div>
<h2>Requests by method</h2>
<table id="methods"><thead><tr><th>service</th><th>method</th><th>req/s</th><th>requests</th><th>p50 ms</th><th>p99 ms</th><th>errors</th></tr></thead><tbody></tbody></table>
<h2>Backends</h2>
<table id="backends"><thead><tr><th>service</th><th>backend</th><th>state</th><th>calls/s</th><th>p50 ms</th><th>p99 ms</th><th>failed</th></tr></thead><tbody></tbody></table>
<h2>Queue deliveries and script workers</h2>
<div class="cards">
  <div class="card">acked<b id="q-acked">0</b></div>
  <div class="card">redelivered<b id="q-redelivered">0</b></div>
  <div class="card">dead-lettered<b id="q-dead-lettered">0</b></div>
  <div class="card">scripts busy<b id="w-busy">0</b></div>
  <div class="card">scripts idle<b id="w-idle">0</b></div>
  <div class="card">scripts waiting<b id="w-waiting">0</b></div>
</div>
<script>
"use strict";
const fmt = (v) => (v === null || v === undefined ? "–" : String(v));
function cell(tr, cls, text) { const td = document.createElement("td"); td.className = cls; td.textContent = fmt(text); tr.appendChild(td); }
function rows(id, items, build) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(...items.map((it) => { const tr = document.createElement("tr"); build(tr, it); return tr; }));
}
function set(id, v) { document.getElementById(id).textContent = fmt(v); }
async function tick() {
  try {
    const r = await fetch("stats.json", { cache: "no-store" });
    const s = await r.json();
    set("window", s.windowSeconds); set("updated", new Date(s.time).toLocaleTimeString());
    set("total-rps", s.totals.rps); set("total-errors", s.totals.errors); set("inflight", s.totals.inflight);
    set("connections", s.totals.connections); set("streams", s.totals.streams);
    rows("methods", s.methods, (tr, m) => {
      tr.dataset.method = m.service + "/" + m.method;
      cell(tr, "service", m.service); cell(tr, "method", m.method); cell(tr, "rps", m.rps); cell(tr, "requests", m.requests);
      cell(tr, "p50", m.p50Ms); cell(tr, "p99", m.p99Ms); cell(tr, "errors", m.errors);
    });
    rows("backends", s.backends, (tr, b) => {
      tr.dataset.backend = b.service;
      cell(tr, "service", b.service); cell(tr, "backend", b.backend); cell(tr, "state " + b.state, b.state);
      cell(tr, "rps", b.rps); cell(tr, "p50", b.p50Ms); cell(tr, "p99", b.p99Ms); cell(tr, "errors", b.errors);
    });
    for (const k of ["acked", "redelivered", "dead-lettered"]) set("q-" + k, s.queueDeliveries[k] || 0);
    for (const k of ["busy", "idle", "waiting"]) set("w-" + k, s.scriptWorkers[k] || 0);
  } catch (e) {
    set("updated", "failed: " + e.message);
  }
}
tick();
setInterval(tick, 1000);
</script>
</body>
</html>
`;
