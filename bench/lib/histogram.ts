// Latency histograms as a standalone SVG: one panel per concurrency, one outlined histogram per server on a log
// time axis (the two servers can differ by 10x), with p50 and p99 in the legend and p99 marked on the axis.
import { percentile } from "./stats.ts";

export interface HistogramSeries {
  server: string;
  latenciesMs: number[];
}

export interface HistogramPanel {
  title: string;
  series: HistogramSeries[];
}

const COLORS = ["#d1495b", "#00798c", "#edae49", "#30638e", "#66a182"];
const W = 760;
const PANEL_H = 230;
const LEGEND_LINE = 15;
const HEADER = 62;
const M = { left: 56, right: 20, top: 30, bottom: 40 };

/** Splits at " · " separators into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const part of text.split(" · ")) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + part.length + 3 <= width) lines[lines.length - 1] = `${last} · ${part}`;
    else lines.push(part);
  }
  return lines;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function renderHistogramSvg(title: string, subtitle: string, panels: HistogramPanel[]): string {
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.latenciesMs)).filter((x) => x > 0);
  const lo = Math.log10(Math.max(0.1, Math.min(...all) * 0.9));
  const hi = Math.log10(Math.max(...all) * 1.1);
  const bins = 48;
  const plotW = W - M.left - M.right;
  const series = Math.max(1, ...panels.map((p) => p.series.length));
  // The legend sits in its own band under each panel's title, never over the bars.
  const top0 = M.top + series * LEGEND_LINE;
  const panelH = PANEL_H + series * LEGEND_LINE;
  const plotH = PANEL_H - M.top - M.bottom;
  const x = (ms: number) => M.left + ((Math.log10(ms) - lo) / (hi - lo)) * plotW;
  const out: string[] = [];
  const height = HEADER + panels.length * panelH;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    ...wrap(subtitle, 100).map(
      (line, i) => `<text x="${W / 2}" y="${34 + i * 14}" text-anchor="middle" fill="#555">${esc(line)}</text>`,
    ),
  );
  const ticks: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (Math.log10(v) >= lo && Math.log10(v) <= hi) ticks.push(v);
    }
  }
  panels.forEach((panel, pi) => {
    const top = HEADER + pi * panelH;
    const y0 = top + top0 + plotH;
    const counts = panel.series.map((s) => {
      const c = new Array<number>(bins).fill(0);
      for (const v of s.latenciesMs) {
        const b = Math.floor(((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * bins);
        c[Math.min(bins - 1, Math.max(0, b))]! += 1 / Math.max(1, s.latenciesMs.length);
      }
      return c;
    });
    const peak = Math.max(0.01, ...counts.flat());
    out.push(`<text x="${M.left}" y="${top + 20}" font-size="12" font-weight="bold">${esc(panel.title)}</text>`);
    out.push(
      `<line x1="${M.left}" y1="${y0}" x2="${W - M.right}" y2="${y0}" stroke="#333"/>`,
      `<line x1="${M.left}" y1="${top + top0}" x2="${M.left}" y2="${y0}" stroke="#333"/>`,
    );
    for (const t of ticks) {
      out.push(
        `<line x1="${x(t).toFixed(1)}" y1="${y0}" x2="${x(t).toFixed(1)}" y2="${y0 + 4}" stroke="#333"/>`,
        `<text x="${x(t).toFixed(1)}" y="${y0 + 16}" text-anchor="middle">${t >= 1 ? t : t.toFixed(1)}</text>`,
      );
    }
    out.push(
      `<text x="${M.left + plotW / 2}" y="${y0 + 32}" text-anchor="middle" fill="#555">latency (ms, log scale)</text>`,
    );
    out.push(
      `<text x="14" y="${top + top0 + plotH / 2}" transform="rotate(-90 14 ${top + top0 + plotH / 2})" text-anchor="middle" fill="#555">share of requests</text>`,
    );
    panel.series.forEach((s, si) => {
      const color = COLORS[si % COLORS.length];
      const c = counts[si] ?? [];
      let d = `M${M.left},${y0}`;
      c.forEach((v, b) => {
        const xa = M.left + (b / bins) * plotW;
        const xb = M.left + ((b + 1) / bins) * plotW;
        const y = y0 - (v / peak) * plotH;
        d += ` L${xa.toFixed(1)},${y.toFixed(1)} L${xb.toFixed(1)},${y.toFixed(1)}`;
      });
      d += ` L${W - M.right},${y0}`;
      out.push(`<path d="${d}" fill="${color}" fill-opacity="0.18" stroke="${color}" stroke-width="1.5"/>`);
      const sorted = [...s.latenciesMs].sort((a, b) => a - b);
      const p50 = percentile(sorted, 50);
      const p99 = percentile(sorted, 99);
      out.push(
        `<line x1="${x(p99).toFixed(1)}" y1="${top + top0}" x2="${x(p99).toFixed(1)}" y2="${y0}" stroke="${color}" stroke-dasharray="4 3"/>`,
      );
      const ly = top + M.top + si * LEGEND_LINE;
      out.push(
        `<rect x="${M.left + 12}" y="${ly}" width="10" height="10" fill="${color}"/>`,
        `<text x="${M.left + 28}" y="${ly + 9}">${esc(s.server)}: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (dashed)</text>`,
      );
    });
  });
  out.push("</svg>");
  return out.join("\n");
}
