// The review page behind `roadwork label`: a hono app serving one small vanilla HTML/JS page (image large, model score,
// teacher's answer, progress) and a JSON API for decisions. Keys: r/1 roadwork, n/0 no roadwork, s skip, u/Backspace
// undo. Decisions stay in memory until the person saves; saving derives the next dataset version with their labels
// (labelSource "human", confidence 1). Every API call carries the session token embedded in the page, so another site
// open in the same browser cannot post labels to this loopback server.
import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { z } from "zod";
import type { LabelChange } from "../dataset/record.ts";
import type { DatasetStore } from "../store/dataset-store.ts";
import type { BatchItem, LabellingBatch } from "./batch.ts";

export interface ReviewResult {
  versionId: string;
  /** Human labels written into the version. */
  written: number;
  skipped: number;
  /** Labels the dataset refused (the image left the dataset, or holds a stronger label). */
  rejected: number;
}

export interface ReviewOptions {
  store: DatasetStore;
  batch: LabellingBatch;
  /** The cases to show, in order (by default those the teacher did not label). */
  queue: readonly BatchItem[];
  onSaved?: (result: ReviewResult) => void;
}

export interface ReviewApp {
  app: Hono;
  token: string;
  /** Decisions so far, in order (null = skipped). */
  decisions(): readonly { sha256: string; label: 0 | 1 | null }[];
}

const DecisionSchema = z
  .object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), label: z.union([z.literal(0), z.literal(1), z.null()]) })
  .strict();

/** The cases a person should see: everything the teacher did not label, most uncertain (lowest rank) first. */
export function reviewQueue(batch: LabellingBatch): BatchItem[] {
  return batch.items.filter((i) => i.teacher?.outcome !== "labelled").sort((a, b) => a.rank - b.rank);
}

export function createReviewApp(options: ReviewOptions): ReviewApp {
  const token = randomBytes(16).toString("hex");
  const queue = [...options.queue];
  const inQueue = new Set(queue.map((i) => i.sha256));
  const decisions: { sha256: string; label: 0 | 1 | null }[] = [];
  let saved: ReviewResult | undefined;
  let saving: Promise<ReviewResult> | undefined;
  const app = new Hono();

  app.use("/api/*", async (c, next) => {
    if (c.req.header("x-review-token") !== token)
      return c.json({ error: "missing or wrong session token; reload the page" }, 403);
    await next();
  });

  const state = () => ({ position: decisions.length, total: queue.length, saved: saved ?? null });

  app.get("/", (c) => c.html(PAGE.replace("__TOKEN__", token).replace("__BATCH__", options.batch.id)));
  app.get("/api/session", (c) =>
    c.json({
      batch: options.batch.id,
      datasetVersion: options.batch.datasetVersion,
      modelVersion: options.batch.modelVersion,
      items: queue.map((i) => ({
        sha256: i.sha256,
        score: i.score,
        uncertainty: i.uncertainty,
        validatorFormat: i.validatorFormat,
        teacher: i.teacher,
      })),
      decisions,
      ...state(),
    }),
  );
  app.get("/image/:sha", async (c) => {
    const sha = c.req.param("sha");
    if (!inQueue.has(sha)) return c.json({ error: "not in this review" }, 404);
    const item = queue.find((i) => i.sha256 === sha)!;
    const bytes = await options.store.getImage(sha);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": item.mediaType,
      "cache-control": "no-store",
    });
  });
  app.post("/api/decision", async (c) => {
    if (saved) return c.json({ error: "this review is saved; start 'roadwork label' again for more", ...state() }, 409);
    const parsed = DecisionSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: "send {sha256, label: 0 | 1 | null}" }, 400);
    const expected = queue[decisions.length];
    // Only the case on screen can be decided: a double key press or a stale tab cannot label the wrong image.
    if (!expected || expected.sha256 !== parsed.data.sha256) {
      return c.json({ error: "that case is not the current one", ...state() }, 409);
    }
    decisions.push(parsed.data);
    return c.json(state());
  });
  app.post("/api/undo", (c) => {
    if (saved) return c.json({ error: "this review is saved", ...state() }, 409);
    decisions.pop();
    return c.json(state());
  });
  app.post("/api/save", async (c) => {
    saving ??= (async () => {
      const last = new Map<string, 0 | 1 | null>();
      for (const d of decisions) last.set(d.sha256, d.label);
      const labels: LabelChange[] = [...last]
        .filter((e): e is [string, 0 | 1] => e[1] !== null)
        .map(([sha256, label]) => ({ sha256, label, labelSource: "human", labelConfidence: 1 }));
      const derived = await options.store.update({
        note: `review of labelling batch ${options.batch.id}: ${labels.length} human labels`,
        labels,
      });
      saved = {
        versionId: derived.version.id,
        written: derived.relabelled.length,
        skipped: [...last.values()].filter((l) => l === null).length,
        rejected: derived.labelsRejected.length,
      };
      options.onSaved?.(saved);
      return saved;
    })();
    try {
      await saving;
    } catch (error) {
      saving = undefined;
      return c.json({ error: `could not save: ${(error as Error).message}` }, 500);
    }
    return c.json(state());
  });

  return { app, token, decisions: () => decisions };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>roadwork review – batch __BATCH__</title>
<style>
  body { font: 16px system-ui, sans-serif; margin: 0; background: #111; color: #eee; display: flex; flex-direction: column; height: 100vh; }
  header, footer { padding: 8px 16px; display: flex; gap: 16px; align-items: center; }
  main { flex: 1; display: flex; justify-content: center; align-items: center; min-height: 0; }
  main img { max-width: 100%; max-height: 100%; object-fit: contain; image-rendering: auto; }
  button { font: inherit; padding: 8px 14px; border-radius: 6px; border: 1px solid #555; background: #222; color: #eee; cursor: pointer; }
  button.yes { background: #8a4b00; } button.no { background: #1d4d2b; }
  #progress { font-weight: bold; } #teacher { color: #bbb; } .muted { color: #888; }
  progress { width: 200px; }
</style>
</head>
<body>
<header>
  <span id="progress">loading…</span><progress id="bar" value="0" max="1"></progress>
  <span>model score <b id="score">–</b></span>
  <span id="format" class="muted"></span>
  <span id="teacher"></span>
</header>
<main><img id="image" alt="case under review"><p id="done" hidden></p></main>
<footer>
  <button id="roadwork" class="yes" title="r or 1">Roadwork (r)</button>
  <button id="no-roadwork" class="no" title="n or 0">No roadwork (n)</button>
  <button id="skip" title="s">Skip (s)</button>
  <button id="undo" title="u or Backspace">Undo (u)</button>
  <button id="save">Save &amp; finish</button>
  <span id="status" class="muted" role="status"></span>
</footer>
<script>
"use strict";
const TOKEN = "__TOKEN__";
let items = [], position = 0, saved = null, busy = false;
const $ = (id) => document.getElementById(id);
async function api(path, body) {
  const res = await fetch(path, { method: body === undefined ? "GET" : "POST", headers: { "content-type": "application/json", "x-review-token": TOKEN }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok && json.error) $("status").textContent = json.error;
  return json;
}
function render() {
  const total = items.length;
  $("progress").textContent = saved ? "saved" : Math.min(position, total) + " / " + total + " reviewed";
  $("bar").max = Math.max(1, total); $("bar").value = position;
  const item = items[position];
  if (saved) {
    $("image").hidden = true; $("done").hidden = false;
    $("done").textContent = "Saved dataset version " + saved.versionId + " with " + saved.written + " human labels (" + saved.skipped + " skipped). You can close this page.";
    return;
  }
  if (!item) {
    $("image").hidden = true; $("done").hidden = false;
    $("done").textContent = "All " + total + " cases reviewed. Press Save & finish (or u to undo).";
    $("score").textContent = "–"; $("teacher").textContent = ""; $("format").textContent = "";
    return;
  }
  $("done").hidden = true; $("image").hidden = false;
  $("image").src = "/image/" + item.sha256;
  $("image").dataset.sha256 = item.sha256;
  $("score").textContent = item.score.toFixed(3) + (item.score > 0.5 ? " (roadwork)" : " (no roadwork)");
  $("format").textContent = item.validatorFormat || "";
  const t = item.teacher;
  $("teacher").textContent = !t ? "no teacher" : t.label === null ? "teacher abstained: " + t.reason
    : "teacher: " + (t.label === 1 ? "roadwork" : "no roadwork") + " (" + Math.round(t.confidence * 100) + "%, " + t.outcome + ") " + t.reason;
}
async function decide(label) {
  const item = items[position];
  if (busy || saved || !item) return;
  busy = true;
  try { const s = await api("/api/decision", { sha256: item.sha256, label }); position = s.position; render(); } finally { busy = false; }
}
async function undo() {
  if (busy || saved) return;
  busy = true;
  try { const s = await api("/api/undo", {}); position = s.position; render(); } finally { busy = false; }
}
async function save() {
  if (busy || saved) return;
  busy = true; $("status").textContent = "saving…";
  try { const s = await api("/api/save", {}); if (s.saved) { saved = s.saved; $("status").textContent = ""; } render(); } finally { busy = false; }
}
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key.toLowerCase();
  if (k === "r" || k === "1") decide(1);
  else if (k === "n" || k === "0") decide(0);
  else if (k === "s") decide(null);
  else if (k === "u" || k === "backspace") { e.preventDefault(); undo(); }
  else return;
  e.preventDefault();
});
$("roadwork").onclick = () => decide(1);
$("no-roadwork").onclick = () => decide(0);
$("skip").onclick = () => decide(null);
$("undo").onclick = () => undo();
$("save").onclick = () => save();
api("/api/session").then((s) => { items = s.items; position = s.position; saved = s.saved; render(); });
</script>
</body>
</html>
`;
