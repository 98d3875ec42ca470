// Checks a Grafana dashboard JSON against real scrapes of SessionGate's /metrics (Prometheus text format): every
// series a panel's PromQL selects must be exported, every fixed label matcher (result="hit", store="redis") must match
// some exported series, and every label a query groups by or a legend names must be on that series. A panel that
// passes can still show nothing when nothing happened; one that fails never shows anything.
//
//   node check.mjs --dashboard docs/grafana/sessiongate-dashboard.json scrape1.txt [scrape2.txt ...]
//
// Prints one line per problem and a summary; exits 1 when there is a problem.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a, positionals: scrapes } = parseArgs({ options: { dashboard: { type: 'string' } }, allowPositionals: true });
if (!a.dashboard || !scrapes.length) {
  console.error('usage: node check.mjs --dashboard FILE SCRAPE...');
  process.exit(2);
}

// ---- the scrapes: metric name -> label sets ------------------------------------------------------------------------
const exported = new Map();
const parseLabels = (s) => {
  const out = {};
  for (const m of s.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]] = m[2].replace(/\\(.)/g, '$1');
  return out;
};
for (const file of scrapes) {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s/);
    if (!m) continue;
    if (!exported.has(m[1])) exported.set(m[1], []);
    exported.get(m[1]).push(parseLabels(m[3] ?? ''));
  }
}
if (!exported.size) {
  console.error('no series in the scrapes');
  process.exit(2);
}
// Prometheus adds these to every scraped series.
const TARGET_LABELS = new Set(['job', 'instance']);

// ---- the queries -----------------------------------------------------------------------------------------------------
const dash = JSON.parse(readFileSync(a.dashboard, 'utf8'));
const panels = [];
const walk = (ps) => { for (const p of ps ?? []) { panels.push(p); walk(p.panels); } };
walk(dash.panels);

const problems = [];
let queries = 0;
const names = new Set();
for (const panel of panels) {
  for (const t of panel.targets ?? []) {
    if (!t.expr) continue;
    queries++;
    const where = `"${panel.title}" (${t.refId ?? '?'})`;
    const selectors = [...t.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)].map((m) => ({ name: m[1], matchers: m[2] }));
    if (!selectors.length) problems.push(`${where}: no metric selector found in ${t.expr}`);
    const used = [];
    for (const s of selectors) {
      names.add(s.name);
      const series = exported.get(s.name);
      if (!series) { problems.push(`${where}: ${s.name} is not exported`); continue; }
      used.push(series);
      for (const m of s.matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
        const [, label, op, value] = m;
        if (TARGET_LABELS.has(label)) continue;
        if (!series.some((l) => label in l)) { problems.push(`${where}: ${s.name} has no label ${label}`); continue; }
        if (op === '=' && !value.includes('$') && !series.some((l) => l[label] === value)) {
          const seen = [...new Set(series.map((l) => l[label]))].join(', ');
          problems.push(`${where}: ${s.name}{${label}="${value}"} matches nothing (values seen: ${seen})`);
        }
      }
    }
    // Labels grouped by and named in the legend must be on the selected series (or be a target label).
    const grouped = [...t.expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((x) => x.trim()).filter(Boolean));
    const legend = [...(t.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
    for (const label of new Set([...grouped, ...legend])) {
      if (TARGET_LABELS.has(label) || !used.length) continue;
      if (!used.some((series) => series.some((l) => label in l))) problems.push(`${where}: label ${label} is on none of ${selectors.map((s) => s.name).join(', ')}`);
    }
  }
}

for (const p of problems) console.log(`PROBLEM ${p}`);
const ours = [...exported.keys()].filter((n) => n.startsWith('sessiongate_'));
const unused = ours.filter((n) => !names.has(n) && !names.has(n.replace(/_(bucket|count|sum)$/, '_bucket')) && !names.has(n.replace(/_(bucket|count|sum)$/, '_count')));
console.log(`${queries} queries in ${panels.length} panels, ${names.size} metric names, checked against ${exported.size} exported names from ${scrapes.length} scrape(s): ${problems.length} problem(s)`);
if (unused.length) console.log(`exported sessiongate_* series no panel reads: ${unused.join(', ')}`);
process.exit(problems.length ? 1 : 0);
