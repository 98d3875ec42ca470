// Renders a Grafana dashboard JSON (stat, timeseries and row panels, laid out by gridPos) to one self-contained HTML
// page of inline SVG, with the data of every panel's own PromQL taken from a real Prometheus's /api/v1/query_range.
// It is not Grafana: it reads the same file and the same queries, and draws them in Grafana's dark-theme manner.
//
//   node render.mjs --dashboard docs/grafana/sessiongate-dashboard.json --prometheus http://127.0.0.1:P \
//     --start <unix s> --end <unix s> --scrape-interval 2 --out page.html [--note "text"] [--width 1600]
//
// Template variables resolve as Grafana's "All" does (allValue, here ".*"); $__rate_interval as Grafana computes it,
// max($__interval + scrape interval, 4 x scrape interval). Prints the page height in CSS pixels on stdout.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    dashboard: { type: 'string' },
    prometheus: { type: 'string' },
    start: { type: 'string' },
    end: { type: 'string' },
    'scrape-interval': { type: 'string', default: '15' },
    out: { type: 'string' },
    note: { type: 'string', default: '' },
    width: { type: 'string', default: '1600' },
  },
});
const dash = JSON.parse(readFileSync(a.dashboard, 'utf8'));
const start = Number(a.start);
const end = Number(a.end);
const scrape = Number(a['scrape-interval']);
const W = Number(a.width);

// ---- theme (Grafana 10 dark) ----------------------------------------------------------------------------------------
const T = { bg: '#111217', panel: '#181b1f', border: '#2a2d33', text: '#ccccdc', muted: '#8e8e9a', grid: '#2a2d33', font: 'Inter, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif' };
const NAMED = {
  green: '#73BF69', 'dark-green': '#37872D', yellow: '#FADE2A', 'dark-yellow': '#E0B400', orange: '#FF9830', 'dark-orange': '#FA6400',
  red: '#F2495C', 'dark-red': '#C4162A', blue: '#5794F2', 'dark-blue': '#1F60C4', purple: '#B877D9', 'dark-purple': '#8F3BB8', text: T.text,
};
const CLASSIC = ['#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0', '#508642', '#CCA300', '#447EBC', '#C15C17'];
const colorOf = (c) => NAMED[c] ?? c;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

// ---- units -------------------------------------------------------------------------------------------------------
function fixed(v, decimals) {
  if (decimals !== undefined && decimals !== null) return v.toFixed(decimals);
  const abs = Math.abs(v);
  if (abs === 0) return '0';
  const d = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(abs)));
  return String(Number(v.toFixed(d)));
}
function fmt(v, unit, decimals) {
  if (v === null || !Number.isFinite(v)) return '-';
  switch (unit) {
    case 'percentunit': return `${fixed(v * 100, decimals)}%`;
    case 'reqps': return `${fixed(v, decimals)} req/s`;
    case 'ops': return `${fixed(v, decimals)} ops/s`;
    case 's': {
      const abs = Math.abs(v);
      if (abs === 0) return '0 s';
      if (abs < 1e-3) return `${fixed(v * 1e6, decimals)} µs`;
      if (abs < 1) return `${fixed(v * 1e3, decimals)} ms`;
      if (abs < 60) return `${fixed(v, decimals)} s`;
      if (abs < 3600) return `${fixed(v / 60, decimals)} min`;
      if (abs < 86400) return `${fixed(v / 3600, decimals)} hour`;
      return `${fixed(v / 86400, decimals)} day`;
    }
    case 'short': default: {
      const abs = Math.abs(v);
      if (abs >= 1e9) return `${fixed(v / 1e9, decimals)} Bil`;
      if (abs >= 1e6) return `${fixed(v / 1e6, decimals)} Mil`;
      if (abs >= 1e3) return `${fixed(v / 1e3, decimals)} K`;
      return fixed(v, decimals);
    }
  }
}
// Axis ticks: nice steps, formatted with as many decimals as the step needs (in the unit's scale).
const CLOCK = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
function niceStep(range, count, unit) {
  const raw = range / count;
  // Durations of a minute and more step in whole clock units (30 s, 1 min, 5 min), as Grafana's axes do.
  if (unit === 's' && range >= 60) return CLOCK.find((c) => c >= raw) ?? 86400 * Math.ceil(raw / 86400);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}
function tickLabel(v, unit) {
  return fmt(v, unit);
}

// ---- data --------------------------------------------------------------------------------------------------------
const vars = Object.fromEntries((dash.templating?.list ?? []).filter((v) => v.type !== 'datasource').map((v) => [v.name, v.allValue ?? '.*']));
function interpolate(expr, step) {
  const rateInterval = Math.max(step + scrape, 4 * scrape);
  return expr
    .replaceAll('$__rate_interval', `${rateInterval}s`)
    .replaceAll('$__interval', `${step}s`)
    .replace(/\$\{?(\w+)\}?/g, (m, name) => (name in vars ? vars[name] : m));
}
async function queryRange(expr, step) {
  const u = new URL('/api/v1/query_range', a.prometheus);
  u.search = new URLSearchParams({ query: interpolate(expr, step), start: String(start), end: String(end), step: String(step) }).toString();
  const res = await fetch(u, { signal: AbortSignal.timeout(30000) });
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${body.error} in ${interpolate(expr, step)}`);
  return body.data.result;
}
const legendOf = (fmtStr, metric) => {
  if (fmtStr) return fmtStr.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, l) => metric[l] ?? '');
  const labels = Object.entries(metric).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}="${v}"`).join(', ');
  return `${metric.__name__ ?? ''}{${labels}}`;
};

async function seriesOf(panel, step) {
  const out = [];
  for (const t of panel.targets ?? []) {
    for (const r of await queryRange(t.expr, step)) {
      const points = r.values.map(([ts, v]) => [Number(ts), Number(v)]);
      out.push({ name: legendOf(t.legendFormat, r.metric), points });
    }
  }
  return out;
}

function fieldFor(panel, name, index) {
  const d = panel.fieldConfig?.defaults ?? {};
  const f = { unit: d.unit, decimals: d.decimals, color: CLASSIC[index % CLASSIC.length], axis: d.custom?.axisPlacement ?? 'auto', fill: d.custom?.fillOpacity ?? 0, width: d.custom?.lineWidth ?? 1 };
  for (const o of panel.fieldConfig?.overrides ?? []) {
    if (o.matcher?.id !== 'byName' || o.matcher.options !== name) continue;
    for (const p of o.properties) {
      if (p.id === 'color' && p.value?.fixedColor) f.color = colorOf(p.value.fixedColor);
      if (p.id === 'unit') f.unit = p.value;
      if (p.id === 'decimals') f.decimals = p.value;
      if (p.id === 'custom.axisPlacement') f.axis = p.value;
    }
  }
  return f;
}

// ---- drawing -----------------------------------------------------------------------------------------------------
const PAD = 16;
const GAP = 8;
const CELL = 30;
const HEADER = 92;
const colW = (W - 2 * PAD + GAP) / 24;
const rect = (g) => ({ x: PAD + g.x * colW, y: HEADER + g.y * (CELL + GAP), w: g.w * colW - GAP, h: g.h * CELL + (g.h - 1) * GAP });
const timeLabel = (t) => new Date(t * 1000).toISOString().slice(11, 19);
const text = (x, y, s, { size = 12, fill = T.muted, anchor = 'start', weight = 400 } = {}) =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${size}" fill="${fill}" text-anchor="${anchor}" font-weight="${weight}">${esc(s)}</text>`;
let gradients = 0;

function frame(r, title, body) {
  return `<g transform="translate(${r.x.toFixed(1)},${r.y.toFixed(1)})">
<rect width="${r.w.toFixed(1)}" height="${r.h.toFixed(1)}" rx="2" fill="${T.panel}" stroke="${T.border}"/>
${text(8, 20, title, { size: 14, fill: T.text, weight: 500 })}
${body}
</g>`;
}

function drawTimeseries(panel, r, series) {
  const fields = series.map((s, i) => fieldFor(panel, s.name, i));
  const d = panel.fieldConfig?.defaults ?? {};
  // Legend, wrapped into lines.
  const items = series.map((s, i) => ({ name: s.name, color: fields[i].color, w: 22 + s.name.length * 6.6 }));
  const lines = [[]];
  let lw = 0;
  for (const it of items) {
    if (lw + it.w > r.w - 16 && lines.at(-1).length) { lines.push([]); lw = 0; }
    lines.at(-1).push(it);
    lw += it.w + 12;
  }
  const legendH = items.length ? lines.length * 18 + 6 : 0;
  const left = 62;
  const hasRight = fields.some((f) => f.axis === 'right');
  const right = hasRight ? 62 : 14;
  const top = 32;
  const bottom = 22 + legendH;
  const pw = r.w - left - right;
  const ph = r.h - top - bottom;
  const all = (axis) => series.flatMap((s, i) => ((fields[i].axis === 'right') === axis ? s.points.map((p) => p[1]).filter(Number.isFinite) : []));
  let body = '';
  const axes = [{ side: 'left', values: all(false), unit: d.unit, decimals: d.decimals }];
  if (hasRight) { const f = fields.find((x) => x.axis === 'right'); axes.push({ side: 'right', values: all(true), unit: f.unit, decimals: f.decimals }); }
  const scales = {};
  for (const ax of axes) {
    const min = d.min ?? Math.min(0, ...ax.values);
    let max = ax.side === 'left' && d.max !== undefined ? d.max : Math.max(...ax.values, min);
    if (!(max > min)) max = min + (ax.unit === 'percentunit' ? 1 : ax.unit === 's' ? 0.001 : 1);
    const step = niceStep(max - min, Math.max(2, Math.floor(ph / 40)), ax.unit);
    const top2 = d.max !== undefined && ax.side === 'left' ? max : Math.ceil(max / step - 1e-9) * step;
    scales[ax.side] = { min, max: top2, y: (v) => top + ph - ((v - min) / (top2 - min)) * ph };
    for (let v = min; v <= top2 + step * 1e-6; v += step) {
      const y = scales[ax.side].y(v);
      if (ax.side === 'left') body += `<line x1="${left}" x2="${left + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="${T.grid}" stroke-width="1"/>`;
      const label = tickLabel(Math.abs(v) < step * 1e-6 ? 0 : v, ax.unit);
      body += text(ax.side === 'left' ? left - 6 : left + pw + 6, y + 4, label, { size: 11, anchor: ax.side === 'left' ? 'end' : 'start' });
    }
  }
  const x = (t) => left + ((t - start) / (end - start)) * pw;
  const tStep = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find((s) => (end - start) / s <= Math.max(2, Math.floor(pw / 90))) ?? 3600;
  for (let t = Math.ceil(start / tStep) * tStep; t <= end; t += tStep) {
    body += `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top}" y2="${top + ph}" stroke="${T.grid}" stroke-width="1"/>`;
    body += text(x(t), top + ph + 15, timeLabel(t), { size: 11, anchor: 'middle' });
  }
  if (!series.length || series.every((s) => !s.points.some((p) => Number.isFinite(p[1])))) {
    body += text(r.w / 2, top + ph / 2, 'No data', { size: 16, fill: T.muted, anchor: 'middle' });
  }
  const stepSec = Math.max(scrape, Math.ceil((end - start) / 400));
  series.forEach((s, i) => {
    const f = fields[i];
    const sc = scales[f.axis === 'right' ? 'right' : 'left'];
    const runs = [];
    let run = [];
    let prev = null;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v) || (prev !== null && t - prev > stepSec * 1.5)) { if (run.length) runs.push(run); run = []; }
      if (Number.isFinite(v)) run.push([x(t), sc.y(Math.min(Math.max(v, sc.min), sc.max))]);
      prev = t;
    }
    if (run.length) runs.push(run);
    const gid = `g${++gradients}`;
    if (f.fill > 0) body += `<defs><linearGradient id="${gid}" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${f.color}" stop-opacity="${(f.fill / 100) * 1.6}"/><stop offset="1" stop-color="${f.color}" stop-opacity="0"/></linearGradient></defs>`;
    for (const pts of runs) {
      const path = pts.map(([px, py], j) => `${j ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
      if (f.fill > 0 && pts.length > 1) body += `<path d="${path}L${pts.at(-1)[0].toFixed(1)},${sc.y(sc.min).toFixed(1)}L${pts[0][0].toFixed(1)},${sc.y(sc.min).toFixed(1)}Z" fill="url(#${gid})"/>`;
      if (pts.length === 1) body += `<circle cx="${pts[0][0].toFixed(1)}" cy="${pts[0][1].toFixed(1)}" r="2" fill="${f.color}"/>`;
      else body += `<path d="${path}" fill="none" stroke="${f.color}" stroke-width="${f.width}" stroke-linejoin="round"/>`;
    }
  });
  let ly = r.h - legendH + 10;
  for (const line of lines) {
    let lx = 10;
    for (const it of line) {
      body += `<rect x="${lx}" y="${ly - 2}" width="14" height="4" rx="1" fill="${it.color}"/>` + text(lx + 20, ly + 4, it.name, { size: 12, fill: T.text });
      lx += it.w + 12;
    }
    ly += 18;
  }
  return frame(r, panel.title, body);
}

function thresholdColor(panel, v) {
  const steps = panel.fieldConfig?.defaults?.thresholds?.steps ?? [];
  let c = 'green';
  for (const s of steps) if (s.value === null || v >= s.value) c = s.color;
  return colorOf(c);
}

function drawStat(panel, r, series) {
  const d = panel.fieldConfig?.defaults ?? {};
  const s = series[0];
  const finite = s ? s.points.filter((p) => Number.isFinite(p[1])) : [];
  const last = finite.length ? finite.at(-1)[1] : null;
  let body = '';
  const color = last === null ? T.muted : thresholdColor(panel, last);
  if (finite.length > 1 && (panel.options?.graphMode ?? 'area') === 'area') {
    const vals = finite.map((p) => p[1]);
    const lo = Math.min(...vals, 0);
    const hi = Math.max(...vals, lo + 1e-12);
    const px = (t) => ((t - start) / (end - start)) * r.w;
    const py = (v) => r.h - 3 - ((v - lo) / (hi - lo)) * (r.h * 0.38);
    const path = finite.map(([t, v], j) => `${j ? 'L' : 'M'}${px(t).toFixed(1)},${py(v).toFixed(1)}`).join('');
    body += `<path d="${path}L${px(finite.at(-1)[0]).toFixed(1)},${r.h - 1}L${px(finite[0][0]).toFixed(1)},${r.h - 1}Z" fill="${color}" fill-opacity="0.16"/>`;
    body += `<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5" stroke-opacity="0.7"/>`;
  }
  const value = last === null ? 'No data' : fmt(last, d.unit, d.decimals);
  const size = Math.min(38, (r.w - 16) / (value.length * 0.62));
  body += text(r.w / 2, 28 + (r.h - 28) * 0.4 + size / 3, value, { size: size.toFixed(0), fill: last === null ? T.muted : color, anchor: 'middle', weight: 500 });
  return frame(r, panel.title, body);
}

function drawRow(panel) {
  const r = rect(panel.gridPos);
  return `<g transform="translate(${r.x.toFixed(1)},${r.y.toFixed(1)})">${text(0, 21, `⌄  ${panel.title}`, { size: 16, fill: T.text, weight: 500 })}</g>`;
}

// ---- page --------------------------------------------------------------------------------------------------------
const parts = [];
let bottomY = 0;
for (const panel of dash.panels) {
  const r = rect(panel.gridPos);
  bottomY = Math.max(bottomY, r.y + r.h);
  if (panel.type === 'row') { parts.push(drawRow(panel)); continue; }
  const step = Math.max(scrape, Math.ceil((end - start) / Math.max(100, Math.floor(r.w))));
  const series = await seriesOf(panel, step);
  if (panel.type === 'stat') parts.push(drawStat(panel, r, series));
  else if (panel.type === 'timeseries') parts.push(drawTimeseries(panel, r, series));
  else parts.push(frame(r, panel.title, text(r.w / 2, r.h / 2, `(${panel.type} panels are not drawn)`, { anchor: 'middle' })));
}
const H = Math.ceil(bottomY + PAD);
const minutes = ((end - start) / 60).toFixed(1).replace(/\.0$/, '');
const varsText = (dash.templating?.list ?? []).map((v) => `${v.label ?? v.name}: ${v.type === 'datasource' ? 'Prometheus' : 'All'}`).join('   |   ');
const header = `
${text(PAD, 34, dash.title, { size: 22, fill: T.text, weight: 500 })}
${text(PAD + 150, 34, `${new Date(start * 1000).toISOString().replace('T', ' ').slice(0, 19)} to ${timeLabel(end)} UTC (${minutes} min)`, { size: 13 })}
${text(W - PAD, 34, a.note, { size: 12, anchor: 'end' })}
${text(PAD, 64, varsText, { size: 13, fill: T.text })}`;
const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(dash.title)}</title>
<style>html,body{margin:0;background:${T.bg};} svg{display:block;font-family:${T.font};} text{white-space:pre;}</style></head>
<body><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
<rect width="${W}" height="${H}" fill="${T.bg}"/>
${header}
${parts.join('\n')}
</svg></body></html>
`;
writeFileSync(a.out, html);
console.log(H);
