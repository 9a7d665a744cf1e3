// The batch report: one self-contained HTML page beside the batch's images (accepted/ and rejected/ are linked
// relatively): counts, rejections by reason as a bar chart, failures, cost against the estimate and the budget, the
// batch's distance to the real images, and contact sheets of accepted and rejected images with their reasons.
import type { BatchResult, SynthImageRecord } from "./batch.ts";
import type { SpendSummary } from "./ledger.ts";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function rejectionCounts(result: BatchResult): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of result.rejected) for (const reason of r.reasons) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}

/** The figures a person or a pipeline step reads first (also printed by the CLI and logged by the Lambda). */
export function batchSummary(result: BatchResult) {
  return {
    batchId: result.batchId,
    generator: result.generator,
    requested: result.requested,
    generated: result.accepted.length + result.rejected.length,
    accepted: result.accepted.length,
    rejected: result.rejected.length,
    rejectedByReason: rejectionCounts(result),
    failures: result.failures,
    retries: result.retries,
    alreadyDone: result.alreadyDone.length,
    costUsd: result.costUsd,
    estimateUsd: result.estimateUsd,
    stopped: result.stopped ?? null,
    distance: result.distance ?? null,
  };
}

function bars(counts: Record<string, number>, color: string): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return "<p>none</p>";
  const max = Math.max(...entries.map(([, v]) => v));
  const h = 22;
  const rows = entries
    .map(([k, v], i) => {
      const w = Math.max(2, (v / max) * 300);
      return `<text x="0" y="${i * h + 15}" font-size="13">${esc(k)}</text><rect x="190" y="${i * h + 3}" width="${w}" height="15" fill="${color}"/><text x="${196 + w}" y="${i * h + 15}" font-size="13">${v}</text>`;
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="560" height="${entries.length * h + 6}">${rows}</svg>`;
}

function sheet(records: SynthImageRecord[], kind: "accepted" | "rejected"): string {
  if (records.length === 0) return "<p>none</p>";
  return `<div class="sheet">${records
    .map((r) => {
      const caption = kind === "rejected" ? r.reasons.join(", ") : `label ${r.label} (${r.labelSource})`;
      return `<figure class="${kind}"><img src="${esc(r.path)}" alt="${esc(r.requestId)}" loading="lazy"><figcaption><b>${esc(caption)}</b><br>${esc(r.requestId)}${r.detail.length ? `<br><small>${esc(r.detail.join("; "))}</small>` : ""}<br><small title="${esc(r.provenance.prompt)}">${esc(r.provenance.prompt.slice(0, 110))}…</small></figcaption></figure>`;
    })
    .join("")}</div>`;
}

export function renderBatchReport(result: BatchResult, budget?: SpendSummary): string {
  const s = batchSummary(result);
  const d = result.distance;
  const row = (k: string, v: string) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Synthetic batch ${esc(result.batchId)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse}th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #ddd}
.sheet{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;width:220px}figure img{width:220px;height:124px;object-fit:cover;border:3px solid #2a2}figure.rejected img{border-color:#c22}figcaption{font-size:12px}.stop{background:#fee;border:1px solid #c22;padding:8px}</style></head><body>
<h1>Synthetic batch <code>${esc(result.batchId)}</code></h1>
${result.stopped ? `<p class="stop" id="stopped">Stopped early (${esc(result.stopped.reason)}): ${esc(result.stopped.message)}</p>` : ""}
<table id="summary">
${row("generator", esc(result.generator))}
${row("price", `$${result.price.usdPerImage.toFixed(4)} per image — ${esc(result.price.basis)} (retrieved ${esc(result.price.retrieved)})`)}
${row("requested", String(s.requested))}
${row("generated", String(s.generated))}
${row("accepted", String(s.accepted))}
${row("rejected", String(s.rejected))}
${row("already done (redelivery)", String(s.alreadyDone))}
${row("retries", String(s.retries))}
${row("cost", `$${result.costUsd.toFixed(2)} of an estimated $${result.estimateUsd.toFixed(2)}`)}
${budget ? row("budget", `today $${budget.spentDayUsd.toFixed(2)} of $${budget.caps.dayUsd.toFixed(2)}; ${esc(budget.month)} $${budget.spentMonthUsd.toFixed(2)} of $${budget.caps.monthUsd.toFixed(2)}`) : ""}
${row("distance to real images", d ? `KID ${d.kid.toFixed(5)}, Fréchet ${d.frechet.toFixed(3)} (${d.frechetDims}-d projection) — ${d.synthetic} accepted vs ${d.real} reference images, ${esc(d.embedder)} embeddings` : "n/a (no reference images or fewer than 2 accepted)")}
${row("time", `${esc(result.startedAt)} → ${esc(result.finishedAt)}`)}
</table>
<h2>Rejected by reason</h2>${bars(s.rejectedByReason, "#c22")}
<h2>Generation failures</h2>${bars(Object.fromEntries(Object.entries(result.failures).map(([k, v]) => [k, v ?? 0])), "#d80")}
<h2>Accepted (${s.accepted})</h2>${sheet(result.accepted, "accepted")}
<h2>Rejected (${s.rejected})</h2>${sheet(result.rejected, "rejected")}
</body></html>
`;
}
