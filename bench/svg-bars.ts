/**
 * Horizontal bar charts for the benchmarks: one row per subject, one or more side-by-side panels (e.g. Mpps and
 * ns/packet), a missing value drawn as a note instead of a bar. Self-contained SVG text; uses `esc` and
 * `niceTicks` of bench/svg.ts.
 */
import { esc, niceTicks } from './svg.js';

export interface HBarRow {
  label: string;
  /** One value per panel; null = no bar (then `missing` is written in its place). */
  values: Array<number | null>;
  /** Text after the bar of the first panel (e.g. a ratio). */
  annotation?: string;
  /** Shown instead of a bar when a value is null: one text for the first panel, or one per panel. */
  missing?: string | Array<string | undefined>;
  color?: string;
}

export interface HBarPanel {
  title: string;
  /** Number format of the value labels. */
  digits?: number;
  color: string;
  /** The axis reaches this multiple of the largest value (room for the labels; default 1.12). */
  headroom?: number;
  /** Vertical dashed lines, e.g. the generator's rate. */
  refLines?: Array<{ x: number; label: string; color: string }>;
}

export interface HBarChartSpec {
  title: string;
  subtitle?: string;
  panels: HBarPanel[];
  rows: HBarRow[];
  notes?: string[];
  width?: number;
  /** Room for the row labels on the left (default 250). */
  labelWidth?: number;
}

const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const r2 = (v: number): string => (Math.round(v * 100) / 100).toString();

function fmt(v: number, digits: number): string {
  return v.toFixed(digits);
}

/** Splits `text` into lines of at most `max` characters at spaces. */
function wrap(text: string, max: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const w of text.split(' ')) {
    if (cur && (cur + ' ' + w).length > max) { out.push(cur); cur = w; } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) out.push(cur);
  return out;
}

export function hbarChart(spec: HBarChartSpec): string {
  const W = spec.width ?? 1150;
  const labelW = spec.labelWidth ?? 250;
  const rowH = 34;
  const top = spec.subtitle ? 92 : 74;
  const notes = (spec.notes ?? []).flatMap((n) => wrap(n, Math.floor(W / 6.2)));
  const plotH = spec.rows.length * rowH;
  const H = top + plotH + 40 + notes.length * 14 + 16;
  const gap = 40;
  const panelW = (W - labelW - 30 - gap * (spec.panels.length - 1)) / spec.panels.length;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="26" font-size="17" font-weight="bold" text-anchor="middle">${esc(spec.title)}</text>`,
  ];
  if (spec.subtitle) out.push(`<text x="${W / 2}" y="46" font-size="12" fill="#444" text-anchor="middle">${esc(spec.subtitle)}</text>`);
  spec.rows.forEach((row, ri) => {
    const y = top + ri * rowH + rowH / 2 + 4;
    out.push(`<text x="${labelW - 10}" y="${y}" font-size="13" text-anchor="end">${esc(row.label)}</text>`);
  });
  spec.panels.forEach((panel, pi) => {
    const x0 = labelW + pi * (panelW + gap);
    const vals = spec.rows.map((r) => r.values[pi]).filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v));
    const refs = (panel.refLines ?? []).map((r) => r.x);
    const ticks = niceTicks(0, Math.max(...vals, ...refs, 1e-9) * (panel.headroom ?? 1.12), 5);
    const hi = ticks[ticks.length - 1] || 1;
    const X = (v: number): number => x0 + (Math.max(0, v) / hi) * panelW;
    out.push(`<text x="${r2(x0 + panelW / 2)}" y="${top - 22}" font-size="13" font-weight="bold" text-anchor="middle">${esc(panel.title)}</text>`);
    for (const t of ticks) {
      out.push(`<line x1="${r2(X(t))}" y1="${top - 6}" x2="${r2(X(t))}" y2="${top + plotH}" stroke="#e4e4e4"/>`);
      out.push(`<text x="${r2(X(t))}" y="${top + plotH + 16}" font-size="11" text-anchor="middle">${esc(String(Number(t.toPrecision(4))))}</text>`);
    }
    out.push(`<line x1="${x0}" y1="${top - 6}" x2="${x0}" y2="${top + plotH}" stroke="#333"/>`);
    spec.rows.forEach((row, ri) => {
      const y = top + ri * rowH + 6;
      const v = row.values[pi];
      if (v === null || v === undefined || !Number.isFinite(v)) {
        const m = Array.isArray(row.missing) ? row.missing[pi] : pi === 0 ? row.missing : undefined;
        const text = m ?? 'n/a';
        out.push(`<text x="${x0 + 6}" y="${y + rowH / 2}" font-size="11" fill="#a00">${esc(text.length > 70 ? text.slice(0, 67) + '…' : text)}</text>`);
        return;
      }
      const w = X(v) - x0;
      out.push(`<rect x="${x0}" y="${y}" width="${r2(Math.max(w, 1))}" height="${rowH - 12}" fill="${row.color && pi === 0 ? row.color : panel.color}"/>`);
      const label = fmt(v, panel.digits ?? 2) + (pi === 0 && row.annotation ? `  ${row.annotation}` : '');
      out.push(`<text x="${r2(X(v) + 5)}" y="${y + rowH / 2}" font-size="11">${esc(label)}</text>`);
    });
    for (const r of panel.refLines ?? []) {
      out.push(`<line x1="${r2(X(r.x))}" y1="${top - 6}" x2="${r2(X(r.x))}" y2="${top + plotH}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
      out.push(`<text x="${r2(X(r.x) - 4)}" y="${top - 9}" font-size="10.5" fill="${r.color}" text-anchor="end">${esc(r.label)}</text>`);
    }
  });
  notes.forEach((n, i) => out.push(`<text x="16" y="${top + plotH + 40 + i * 14}" font-size="10.5" fill="#555">${esc(n)}</text>`));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
