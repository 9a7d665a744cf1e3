// The gate's decision as a picture (SVG) and a Markdown page: the bootstrap distribution of the reward gain with the
// margin and the lower bound, and challenger vs champion reward per validator format.
import type { GateDecision } from "./gate.ts";

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);

export function renderGateSvg(d: GateDecision): string {
  const W = 720;
  const H = 300;
  const parts: string[] = [];
  const promote = d.decision === "promote";
  parts.push(
    `<text x="12" y="22" font-size="15" font-weight="bold" fill="${promote ? "#1a7f37" : "#9a6700"}">${esc(
      `${promote ? "PROMOTE" : "KEEP CHAMPION"}: ${d.challenger.version}${d.champion ? ` vs ${d.champion.version}` : ""}`,
    )}</text>`,
  );
  // Left: bootstrap histogram of the gain.
  const px = 40;
  const py = 50;
  const pw = 320;
  const ph = 200;
  parts.push(`<text x="${px}" y="${py - 8}" font-size="12">reward gain, ${d.policy.resamples} paired resamples</text>`);
  parts.push(`<rect x="${px}" y="${py}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  if (d.gain) {
    const g = d.gain;
    const lo = Math.min(g.histogram[0]!.lo, 0, d.policy.margin) - 0.005;
    const hi = Math.max(g.histogram[g.histogram.length - 1]!.hi, d.policy.margin) + 0.005;
    const x = (v: number) => px + ((v - lo) / (hi - lo)) * pw;
    const max = Math.max(...g.histogram.map((b) => b.count), 1);
    for (const b of g.histogram) {
      const h = (b.count / max) * (ph - 20);
      parts.push(
        `<rect x="${x(b.lo).toFixed(1)}" y="${(py + ph - h).toFixed(1)}" width="${Math.max(0.5, x(b.hi) - x(b.lo) - 0.5).toFixed(1)}" height="${h.toFixed(1)}" fill="#8fb8de"/>`,
      );
    }
    const line = (v: number, color: string, label: string, dy: number) =>
      parts.push(
        `<line x1="${x(v).toFixed(1)}" y1="${py}" x2="${x(v).toFixed(1)}" y2="${py + ph}" stroke="${color}" stroke-width="1.5"/>`,
        `<text x="${(x(v) + 3).toFixed(1)}" y="${py + 14 + dy}" font-size="10" fill="${color}">${esc(label)}</text>`,
      );
    line(0, "#555", "0", 0);
    line(d.policy.margin, "#9a6700", `margin ${d.policy.margin}`, 12);
    line(g.lower, "#cf222e", `lower ${g.lower.toFixed(3)}`, 24);
    line(g.observed, "#1a7f37", `gain ${g.observed.toFixed(3)}`, 36);
    parts.push(
      `<text x="${px}" y="${py + ph + 14}" font-size="10">${lo.toFixed(3)}</text>`,
      `<text x="${px + pw - 30}" y="${py + ph + 14}" font-size="10">${hi.toFixed(3)}</text>`,
    );
  } else {
    parts.push(`<text x="${px + 20}" y="${py + 100}" font-size="12">no champion: nothing to compare</text>`);
  }
  // Right: reward per format, champion (grey) vs challenger (blue).
  const bx = 400;
  const formats = ["all", ...Object.keys(d.challenger.byFormat)];
  parts.push(`<text x="${bx}" y="${py - 8}" font-size="12">estimated reward by validator format</text>`);
  const rowH = Math.min(44, ph / formats.length);
  formats.forEach((f, i) => {
    const y = py + i * rowH;
    const c = f === "all" ? d.challenger.overall : d.challenger.byFormat[f]!;
    const p = d.champion ? (f === "all" ? d.champion.overall : d.champion.byFormat[f]) : undefined;
    const bar = (v: number, dy: number, color: string) =>
      parts.push(
        `<rect x="${bx + 80}" y="${(y + dy).toFixed(1)}" width="${(v * 200).toFixed(1)}" height="${(rowH / 2 - 3).toFixed(1)}" fill="${color}"/>`,
        `<text x="${(bx + 84 + v * 200).toFixed(1)}" y="${(y + dy + rowH / 2 - 6).toFixed(1)}" font-size="10">${v.toFixed(3)}</text>`,
      );
    parts.push(`<text x="${bx}" y="${(y + rowH / 2).toFixed(1)}" font-size="11">${esc(f)}</text>`);
    if (p) bar(p.reward, 0, "#bbb");
    bar(c.reward, rowH / 2 - 2, "#3b82c4");
  });
  parts.push(
    `<text x="${bx}" y="${py + ph + 14}" font-size="10" fill="#777">grey: champion, blue: challenger; tolerance ${d.policy.tolerance}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="${W}" height="${H}" fill="#fff"/>${parts.join("")}</svg>\n`;
}

/** A Markdown page with the picture (given its relative path) and the figures. */
export function renderGateMarkdown(d: GateDecision, svgPath: string): string {
  const f = (x: number) => x.toFixed(4);
  const rows = ["all", ...Object.keys(d.challenger.byFormat)].map((k) => {
    const c = k === "all" ? d.challenger.overall : d.challenger.byFormat[k]!;
    const p = d.champion ? (k === "all" ? d.champion.overall : d.champion.byFormat[k]) : undefined;
    return `| ${k} | ${c.count} | ${f(c.reward)} (MCC ${f(c.mcc)}, acc ${f(c.accuracy)}) | ${p ? `${f(p.reward)} (MCC ${f(p.mcc)}, acc ${f(p.accuracy)})` : "-"} |`;
  });
  return [
    `# Gate: ${d.decision}`,
    "",
    `![gate decision](${svgPath})`,
    "",
    ...d.reasons.map((r) => `- ${r}`),
    "",
    `Policy: ${d.policy.resamples} paired bootstrap resamples (seed \`${d.policy.seed}\`), margin ${d.policy.margin}, confidence ${d.policy.confidence}, tolerance ${d.policy.tolerance} per format.`,
    "",
    `| format | items | challenger ${d.challenger.version} | champion ${d.champion?.version ?? "-"} |`,
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
