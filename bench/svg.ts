/**
 * A tiny dependency-free SVG chart writer for the benchmarks: line charts (linear or log2 x axis) with reference
 * lines, and grouped bar charts (linear or log10 y axis). Output is a self-contained SVG string.
 */

export interface Point {
  x: number;
  y: number;
  /** Text drawn next to the point. */
  label?: string;
}

export type Marker = 'circle' | 'square' | 'diamond' | 'triangle' | 'none';

export interface LineSeries {
  name: string;
  points: Point[];
  color: string;
  /** stroke-dasharray, e.g. '6 4'. */
  dash?: string;
  marker?: Marker;
  /** Draw the connecting line (default true); false = points only. */
  line?: boolean;
  width?: number;
}

export interface RefLine {
  y: number;
  label: string;
  color: string;
  dash?: string;
  /** Where the label sits along the line (default: left in line charts, right in bar charts). */
  align?: 'left' | 'right';
}

export interface LineChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  xScale?: 'linear' | 'log2';
  /** Tick positions on x (default: the x values of all series). */
  xTicks?: number[];
  yMin?: number;
  yMax?: number;
  series: LineSeries[];
  refLines?: RefLine[];
  /** Small print under the chart (sources, method). */
  notes?: string[];
  width?: number;
  height?: number;
}

export interface BarSeries {
  name: string;
  color: string;
  /** One value per category; null = no bar. */
  values: Array<number | null>;
}

export interface BarChartSpec {
  title: string;
  subtitle?: string;
  yLabel: string;
  yScale?: 'linear' | 'log10';
  categories: string[];
  series: BarSeries[];
  /** A horizontal line, e.g. a target. */
  refLines?: RefLine[];
  notes?: string[];
  width?: number;
  height?: number;
}

const FONT = 'font-family="Helvetica, Arial, sans-serif"';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const r2 = (v: number): string => (Math.round(v * 100) / 100).toString();

/** Round tick values for [lo, hi]: steps of 1, 2 or 5 × 10^k, about `n` of them. */
export function niceTicks(lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
  if (ticks[ticks.length - 1] < hi) ticks.push(Math.round(ticks[ticks.length - 1] / step + 1) * step); // cover hi
  return ticks;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000 || Number.isInteger(v)) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}

function markerSvg(m: Marker, x: number, y: number, color: string): string {
  switch (m) {
    case 'none': return '';
    case 'square': return `<rect x="${r2(x - 4)}" y="${r2(y - 4)}" width="8" height="8" fill="${color}"/>`;
    case 'diamond': return `<path d="M${r2(x)} ${r2(y - 5.5)} L${r2(x + 5.5)} ${r2(y)} L${r2(x)} ${r2(y + 5.5)} L${r2(x - 5.5)} ${r2(y)} Z" fill="${color}"/>`;
    case 'triangle': return `<path d="M${r2(x)} ${r2(y - 5.5)} L${r2(x + 5.5)} ${r2(y + 4.5)} L${r2(x - 5.5)} ${r2(y + 4.5)} Z" fill="${color}"/>`;
    default: return `<circle cx="${r2(x)}" cy="${r2(y)}" r="4" fill="${color}"/>`;
  }
}

interface Frame { left: number; top: number; right: number; bottom: number; width: number; height: number }

function header(w: number, h: number, title: string, subtitle?: string): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ${FONT}>`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="26" font-size="17" font-weight="bold" text-anchor="middle">${esc(title)}</text>`,
  ];
  if (subtitle) out.push(`<text x="${w / 2}" y="46" font-size="12" fill="#444" text-anchor="middle">${esc(subtitle)}</text>`);
  return out;
}

function legend(out: string[], fr: Frame, items: Array<{ name: string; color: string; dash?: string; marker?: Marker; bar?: boolean }>): void {
  const x = fr.right + 18;
  let y = fr.top + 8;
  for (const it of items) {
    if (it.bar) out.push(`<rect x="${x}" y="${y - 6}" width="22" height="12" fill="${it.color}"/>`);
    else {
      out.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${it.color}" stroke-width="2.5"${it.dash ? ` stroke-dasharray="${it.dash}"` : ''}/>`);
      if (it.marker) out.push(markerSvg(it.marker, x + 11, y, it.color));
    }
    // wrap long names over two lines
    const words = it.name.split(' ');
    const lines: string[] = [];
    let cur = '';
    for (const wd of words) {
      if ((cur + ' ' + wd).trim().length > 30 && cur) { lines.push(cur); cur = wd; } else cur = (cur + ' ' + wd).trim();
    }
    if (cur) lines.push(cur);
    lines.forEach((l, i) => out.push(`<text x="${x + 30}" y="${y + 4 + i * 14}" font-size="12">${esc(l)}</text>`));
    y += 14 * lines.length + 10;
  }
}

function notesSvg(out: string[], notes: string[] | undefined, y0: number, left: number): void {
  (notes ?? []).forEach((n, i) => out.push(`<text x="${left}" y="${y0 + i * 14}" font-size="10.5" fill="#555">${esc(n)}</text>`));
}

/** A line chart; returns the SVG text. */
export function lineChart(spec: LineChartSpec): string {
  const notes = spec.notes ?? [];
  const W = spec.width ?? 900;
  const H = spec.height ?? 520 + notes.length * 14;
  const fr: Frame = { left: 70, top: spec.subtitle ? 64 : 50, right: W - 250, bottom: H - 60 - notes.length * 14, width: 0, height: 0 };
  fr.width = fr.right - fr.left;
  fr.height = fr.bottom - fr.top;
  const log2 = spec.xScale === 'log2';
  const allX = spec.series.flatMap((s) => s.points.map((p) => p.x));
  const xTicks = spec.xTicks ?? [...new Set(allX)].sort((a, b) => a - b);
  const tx = (x: number): number => (log2 ? Math.log2(x) : x);
  const xs = [...xTicks, ...allX].map(tx);
  let xlo = Math.min(...xs);
  let xhi = Math.max(...xs);
  if (xhi === xlo) { xlo -= 1; xhi += 1; }
  const pad = (xhi - xlo) * 0.04;
  xlo -= pad; xhi += pad;
  const allY = [...spec.series.flatMap((s) => s.points.map((p) => p.y)), ...(spec.refLines ?? []).map((r) => r.y)].filter(Number.isFinite);
  const ylo = spec.yMin ?? 0;
  const yTicks = niceTicks(ylo, spec.yMax ?? Math.max(...allY, ylo + 1) * 1.08);
  const yhi = spec.yMax ?? yTicks[yTicks.length - 1];
  const X = (x: number): number => fr.left + ((tx(x) - xlo) / (xhi - xlo)) * fr.width;
  const Y = (y: number): number => fr.bottom - ((Math.min(Math.max(y, ylo), yhi) - ylo) / (yhi - ylo)) * fr.height;

  const out = header(W, H, spec.title, spec.subtitle);
  // grid and axes
  for (const t of yTicks) {
    if (t > yhi + 1e-9) continue;
    out.push(`<line x1="${fr.left}" y1="${r2(Y(t))}" x2="${fr.right}" y2="${r2(Y(t))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${fr.left - 8}" y="${r2(Y(t) + 4)}" font-size="12" text-anchor="end">${fmtTick(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${r2(X(t))}" y1="${fr.top}" x2="${r2(X(t))}" y2="${fr.bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${r2(X(t))}" y="${fr.bottom + 18}" font-size="12" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  out.push(`<rect x="${fr.left}" y="${fr.top}" width="${fr.width}" height="${fr.height}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${fr.left + fr.width / 2}" y="${fr.bottom + 40}" font-size="13" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text x="18" y="${fr.top + fr.height / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 18 ${fr.top + fr.height / 2})">${esc(spec.yLabel)}</text>`);
  // reference lines
  for (const r of spec.refLines ?? []) {
    out.push(`<line x1="${fr.left}" y1="${r2(Y(r.y))}" x2="${fr.right}" y2="${r2(Y(r.y))}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="${r.dash ?? '2 4'}"/>`);
    const right = r.align === 'right';
    out.push(`<text x="${right ? fr.right - 6 : fr.left + 6}" y="${r2(Y(r.y) - 5)}" font-size="11"${right ? ' text-anchor="end"' : ''} fill="${r.color}">${esc(r.label)}</text>`);
  }
  // series
  for (const s of spec.series) {
    const pts = s.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (s.line !== false && pts.length > 1) {
      const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${r2(X(p.x))} ${r2(Y(p.y))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2.5}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    }
    for (const p of pts) {
      out.push(markerSvg(s.marker ?? 'circle', X(p.x), Y(p.y), s.color));
      if (p.label) out.push(`<text x="${r2(X(p.x) + 7)}" y="${r2(Y(p.y) - 7)}" font-size="11" fill="${s.color}">${esc(p.label)}</text>`);
    }
  }
  legend(out, fr, spec.series.map((s) => ({ name: s.name, color: s.color, dash: s.dash, marker: s.marker ?? 'circle' })));
  notesSvg(out, notes, fr.bottom + 62, fr.left - 50);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** A grouped bar chart (one group per category, one bar per series); returns the SVG text. */
export function barChart(spec: BarChartSpec): string {
  const notes = spec.notes ?? [];
  const W = spec.width ?? 900;
  const H = spec.height ?? 480 + notes.length * 14;
  const fr: Frame = { left: 70, top: spec.subtitle ? 64 : 50, right: W - 250, bottom: H - 50 - notes.length * 14, width: 0, height: 0 };
  fr.width = fr.right - fr.left;
  fr.height = fr.bottom - fr.top;
  const log = spec.yScale === 'log10';
  const vals = [...spec.series.flatMap((s) => s.values), ...(spec.refLines ?? []).map((r) => r.y)]
    .filter((v): v is number => v !== null && Number.isFinite(v) && (!log || v > 0));
  let ticks: number[];
  let lo: number;
  let hi: number;
  if (log) {
    const e0 = Math.floor(Math.log10(Math.min(...vals, 1)));
    const e1 = Math.ceil(Math.log10(Math.max(...vals, 10)));
    ticks = [];
    for (let e = e0; e <= e1; e++) ticks.push(10 ** e);
    lo = Math.log10(ticks[0]);
    hi = Math.log10(ticks[ticks.length - 1]);
  } else {
    ticks = niceTicks(0, Math.max(...vals, 1) * 1.08);
    lo = 0;
    hi = ticks[ticks.length - 1];
  }
  const ty = (v: number): number => (log ? Math.log10(Math.max(v, 10 ** lo)) : v);
  const Y = (v: number): number => fr.bottom - ((ty(v) - lo) / (hi - lo)) * fr.height;
  const out = header(W, H, spec.title, spec.subtitle);
  for (const t of ticks) {
    out.push(`<line x1="${fr.left}" y1="${r2(Y(t))}" x2="${fr.right}" y2="${r2(Y(t))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${fr.left - 8}" y="${r2(Y(t) + 4)}" font-size="12" text-anchor="end">${fmtTick(t)}</text>`);
  }
  out.push(`<rect x="${fr.left}" y="${fr.top}" width="${fr.width}" height="${fr.height}" fill="none" stroke="#333"/>`);
  out.push(`<text x="18" y="${fr.top + fr.height / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 18 ${fr.top + fr.height / 2})">${esc(spec.yLabel)}</text>`);
  const groupW = fr.width / spec.categories.length;
  const barW = (groupW * 0.8) / spec.series.length;
  spec.categories.forEach((c, ci) => {
    const gx = fr.left + ci * groupW + groupW * 0.1;
    out.push(`<text x="${r2(fr.left + (ci + 0.5) * groupW)}" y="${fr.bottom + 18}" font-size="12" text-anchor="middle">${esc(c)}</text>`);
    spec.series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const x = gx + si * barW;
      const y = Y(v);
      out.push(`<rect x="${r2(x)}" y="${r2(y)}" width="${r2(barW - 2)}" height="${r2(fr.bottom - y)}" fill="${s.color}"/>`);
      out.push(`<text x="${r2(x + (barW - 2) / 2)}" y="${r2(y - 3)}" font-size="9.5" text-anchor="middle">${fmtTick(v)}</text>`);
    });
  });
  for (const r of spec.refLines ?? []) {
    out.push(`<line x1="${fr.left}" y1="${r2(Y(r.y))}" x2="${fr.right}" y2="${r2(Y(r.y))}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="${r.dash ?? '6 4'}"/>`);
    const left = r.align === 'left';
    out.push(`<text x="${left ? fr.left + 6 : fr.right - 6}" y="${r2(Y(r.y) - 5)}" font-size="11"${left ? '' : ' text-anchor="end"'} fill="${r.color}">${esc(r.label)}</text>`);
  }
  legend(out, fr, spec.series.map((s) => ({ name: s.name, color: s.color, bar: true })));
  notesSvg(out, notes, fr.bottom + 40, fr.left - 50);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
