// Training report: JSON for machines, and one self-contained HTML page (inline SVG charts, no scripts, no network)
// with the training curves, ROC, confusion matrix, reliability diagram and per-category table.
import type { EpochRecord } from "./head.ts";
import type { BinaryMetrics, ReliabilityBin, RocPoint } from "./metrics.ts";

export interface TrainingReport {
  model: { name: string; version: string; head: string; backbone: string };
  dataset: {
    id: string;
    name: string;
    source: string;
    train: number;
    val: number;
    test: number;
    viewsPerImage: number;
  };
  threshold: { value: number; valMcc: number; mappedTo: 0.5 };
  history: EpochRecord[];
  bestEpoch: number;
  stoppedEarly: boolean;
  val: BinaryMetrics;
  test: BinaryMetrics;
  testByCategory: Record<string, BinaryMetrics>;
  /** Validator formats trained and evaluated on (spec §4.7); absent in reports written before formats existed. */
  formats?: { mix: string; nativeTestFrames: boolean };
  /** Held-out metrics per validator format (jan / apr / may), every test image in each. */
  testByFormat?: Record<string, BinaryMetrics>;
  testRoc: RocPoint[];
  testReliability: ReliabilityBin[];
  durationsMs: Record<string, number>;
}

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const n3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : "n/a");

interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

function lineChart(
  title: string,
  series: Series[],
  opts: { xLabel: string; yLabel: string; yMin?: number; yMax?: number; square?: boolean; diagonal?: boolean },
): string {
  const W = opts.square ? 320 : 460;
  const H = 300;
  const m = { l: 48, r: 12, t: 26, b: 40 };
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = opts.square ? 0 : Math.min(...xs, 0);
  const x1 = opts.square ? 1 : Math.max(...xs, 1);
  const y0 = opts.yMin ?? Math.min(...ys, 0);
  const y1 = opts.yMax ?? Math.max(...ys, 1e-9);
  const sx = (x: number): number => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (y: number): number => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`;
  svg += `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`;
  svg += `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`;
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4;
    const xv = x0 + ((x1 - x0) * i) / 4;
    svg += `<text x="${m.l - 4}" y="${sy(yv) + 4}" text-anchor="end" font-size="10">${yv.toFixed(2)}</text>`;
    svg += `<text x="${sx(xv)}" y="${H - m.b + 14}" text-anchor="middle" font-size="10">${Number.isInteger(xv) ? xv : xv.toFixed(2)}</text>`;
    svg += `<line x1="${m.l}" x2="${W - m.r}" y1="${sy(yv)}" y2="${sy(yv)}" stroke="#eee"/>`;
  }
  if (opts.diagonal)
    svg += `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#bbb" stroke-dasharray="4 3"/>`;
  svg += `<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle" font-size="11">${esc(opts.xLabel)}</text>`;
  svg += `<text x="12" y="${(m.t + H - m.b) / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 12 ${(m.t + H - m.b) / 2})">${esc(opts.yLabel)}</text>`;
  series.forEach((s, i) => {
    const d = s.points.map(([x, y], k) => `${k === 0 ? "M" : "L"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join("");
    svg += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`;
    if (s.points.length <= 12)
      for (const [x, y] of s.points) svg += `<circle cx="${sx(x)}" cy="${sy(y)}" r="3" fill="${s.color}"/>`;
    svg += `<rect x="${m.l + 8}" y="${m.t + 8 + i * 15}" width="10" height="3" fill="${s.color}"/><text x="${m.l + 22}" y="${m.t + 13 + i * 15}" font-size="10">${esc(s.name)}</text>`;
  });
  return `${svg}</svg>`;
}

function confusionMatrix(c: BinaryMetrics["confusion"]): string {
  const cells: Array<[string, number, number, number, boolean]> = [
    ["TN", c.tn, 0, 0, true],
    ["FP", c.fp, 1, 0, false],
    ["FN", c.fn, 0, 1, false],
    ["TP", c.tp, 1, 1, true],
  ];
  const max = Math.max(1, c.tn, c.fp, c.fn, c.tp);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300" viewBox="0 0 300 300" role="img" aria-label="confusion matrix">`;
  svg += `<text x="150" y="16" text-anchor="middle" font-size="13" font-weight="bold">Confusion matrix (test)</text>`;
  svg += `<text x="175" y="40" text-anchor="middle" font-size="11">predicted: no roadwork | roadwork</text>`;
  svg += `<text x="14" y="170" font-size="11" text-anchor="middle" transform="rotate(-90 14 170)">actual: no | yes</text>`;
  for (const [name, v, col, row, ok] of cells) {
    const x = 50 + col * 120;
    const y = 50 + row * 120;
    const alpha = (0.15 + 0.85 * (v / max)).toFixed(2);
    svg += `<rect x="${x}" y="${y}" width="116" height="116" fill="${ok ? "#2a7" : "#d44"}" fill-opacity="${alpha}"/>`;
    svg += `<text x="${x + 58}" y="${y + 55}" text-anchor="middle" font-size="20">${v}</text><text x="${x + 58}" y="${y + 78}" text-anchor="middle" font-size="12">${name}</text>`;
  }
  return `${svg}</svg>`;
}

/** Grouped bars: accuracy and MCC per validator format. */
function formatBars(byFormat: Record<string, BinaryMetrics>): string {
  const entries = Object.entries(byFormat);
  const W = 460;
  const H = 240;
  const m = { l: 40, r: 12, t: 26, b: 36 };
  const slot = (W - m.l - m.r) / Math.max(1, entries.length);
  const bar = Math.min(40, slot / 3);
  const sy = (v: number) => H - m.b - Math.max(0, Math.min(1, v)) * (H - m.t - m.b);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="Held-out accuracy and MCC per validator format">`;
  svg += `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">Held-out accuracy and MCC per validator format</text>`;
  for (let i = 0; i <= 4; i++) {
    const v = i / 4;
    svg += `<line x1="${m.l}" x2="${W - m.r}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/><text x="${m.l - 4}" y="${sy(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(2)}</text>`;
  }
  entries.forEach(([name, metrics], i) => {
    const x = m.l + i * slot + slot / 2;
    const bars: Array<[number, string]> = [
      [metrics.accuracy, "#2a7"],
      [metrics.mcc, "#36c"],
    ];
    for (const [k, [value, color]] of bars.entries()) {
      const left = x - bar + k * bar;
      const v = Number.isFinite(value) ? value : 0;
      svg += `<rect x="${left.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${(H - m.b - sy(v)).toFixed(1)}" fill="${color}"/>`;
      svg += `<text x="${(left + bar / 2 - 1).toFixed(1)}" y="${(sy(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${n3(value)}</text>`;
    }
    svg += `<text x="${x.toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle" font-size="11">${esc(name)} (n=${metrics.count})</text>`;
  });
  svg += `<rect x="${m.l + 8}" y="${m.t + 4}" width="10" height="8" fill="#2a7"/><text x="${m.l + 22}" y="${m.t + 12}" font-size="10">accuracy</text>`;
  svg += `<rect x="${m.l + 80}" y="${m.t + 4}" width="10" height="8" fill="#36c"/><text x="${m.l + 94}" y="${m.t + 12}" font-size="10">MCC</text>`;
  return `${svg}</svg>`;
}

function metricsRow(name: string, m: BinaryMetrics): string {
  return `<tr><td>${esc(name)}</td><td>${m.count}</td><td>${m.positives}</td><td>${n3(m.accuracy)}</td><td>${n3(m.mcc)}</td><td>${n3(m.precision)}</td><td>${n3(m.recall)}</td><td>${n3(m.f1)}</td><td>${n3(m.rocAuc)}</td></tr>`;
}

export function renderReportHtml(r: TrainingReport): string {
  const curves = lineChart(
    "Loss per epoch",
    [
      { name: "train loss", color: "#36c", points: r.history.map((h) => [h.epoch, h.trainLoss]) },
      { name: "validation loss", color: "#d62", points: r.history.map((h) => [h.epoch, h.valLoss]) },
    ],
    { xLabel: "epoch", yLabel: "weighted BCE", yMin: 0 },
  );
  const acc = lineChart(
    "Validation accuracy and learning rate (scaled)",
    [
      { name: "val accuracy", color: "#2a7", points: r.history.map((h) => [h.epoch, h.valAccuracy]) },
      {
        name: "learning rate / max",
        color: "#999",
        points: r.history.map((h) => [
          h.epoch,
          h.learningRate / Math.max(...r.history.map((k) => k.learningRate), 1e-12),
        ]),
      },
    ],
    { xLabel: "epoch", yLabel: "", yMin: 0, yMax: 1 },
  );
  const roc = lineChart(
    "ROC (test)",
    [{ name: `AUC ${n3(r.test.rocAuc)}`, color: "#36c", points: r.testRoc.map((p) => [p.fpr, p.tpr]) }],
    {
      xLabel: "false positive rate",
      yLabel: "true positive rate",
      yMin: 0,
      yMax: 1,
      square: true,
      diagonal: true,
    },
  );
  const rel = lineChart(
    "Reliability (test, head probability)",
    [
      {
        name: "observed positive rate",
        color: "#d62",
        points: r.testReliability.filter((b) => b.count > 0).map((b) => [b.meanScore, b.positiveRate]),
      },
    ],
    {
      xLabel: "mean predicted probability",
      yLabel: "fraction roadwork",
      yMin: 0,
      yMax: 1,
      square: true,
      diagonal: true,
    },
  );
  const rows = Object.entries(r.testByCategory)
    .map(([k, m]) => metricsRow(k, m))
    .join("");
  const byFormat = r.testByFormat ?? {};
  const formatSection =
    Object.keys(byFormat).length === 0
      ? ""
      : `<h2>Test metrics by validator format</h2>
<p>Formats ${esc(r.formats?.mix ?? "")}: jan = augmented 224×224 crops, apr = letterbox to 224×224, may = native-resolution frames${r.formats?.nativeTestFrames ? " (test frames at real native sizes, 1920×1080 / 1024×1024)" : " (test frames at their stored size)"}. Every test image is evaluated in each format.</p>
<div class="charts">${formatBars(byFormat)}</div>
<table><tr><th>format</th><th>n</th><th>positives</th><th>accuracy</th><th>MCC</th><th>precision</th><th>recall</th><th>F1</th><th>ROC-AUC</th></tr>${Object.entries(
          byFormat,
        )
          .map(([k, m]) => metricsRow(k, m))
          .join("")}</table>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Training report ${esc(r.model.name)}@${esc(r.model.version)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:16px}</style></head><body>
<h1>${esc(r.model.name)}@${esc(r.model.version)}</h1>
<p>Head: ${esc(r.model.head)}. Backbone: ${esc(r.model.backbone)}.</p>
<p>Dataset ${esc(r.dataset.name)} (source: ${esc(r.dataset.source)}, id ${esc(r.dataset.id.slice(0, 12))}): ${r.dataset.train} train / ${r.dataset.val} val / ${r.dataset.test} test images, ${r.dataset.viewsPerImage} validator-augmented view(s) per training image.</p>
<p>Decision threshold ${r.threshold.value.toFixed(4)} (best validation MCC ${n3(r.threshold.valMcc)}), mapped to 0.5 by the bundle calibration. Best epoch ${r.bestEpoch}${r.stoppedEarly ? " (stopped early)" : ""}.</p>
<table><tr><th>set</th><th>n</th><th>positives</th><th>accuracy</th><th>MCC</th><th>precision</th><th>recall</th><th>F1</th><th>ROC-AUC</th></tr>${metricsRow("validation", r.val)}${metricsRow("test (held out)", r.test)}</table>
<div class="charts">${curves}${acc}${roc}${confusionMatrix(r.test.confusion)}${rel}</div>
${formatSection}
<h2>Test metrics by category</h2>
<table><tr><th>category</th><th>n</th><th>positives</th><th>accuracy</th><th>MCC</th><th>precision</th><th>recall</th><th>F1</th><th>ROC-AUC</th></tr>${rows}</table>
<p>Durations (ms): ${esc(JSON.stringify(r.durationsMs))}</p>
</body></html>
`;
}
