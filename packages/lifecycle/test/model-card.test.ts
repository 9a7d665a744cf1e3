import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildModelCard, ModelCard, serializeModelCard } from "../src/model-card.ts";
import { renderModelReadme } from "../src/model-readme.ts";
import { compareVersions, nextVersion, parseVersion, versionLabel } from "../src/model-version.ts";

const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

describe("model card", () => {
  it("has exactly the NATIX shape: version a string, submission_time integer seconds", () => {
    const card = buildModelCard({
      modelName: "roadwork-vit",
      description: "ViT-S head",
      version: "1.2.0",
      hotkey: BOB,
      submissionTime: new Date("2026-01-01T00:00:00.900Z"),
    });
    const json = serializeModelCard(card);
    assert.equal(
      json,
      '{\n  "model_name": "roadwork-vit",\n  "description": "ViT-S head",\n  "version": "1.2.0",\n' +
        `  "submitted_by": "${BOB}",\n  "submission_time": 1767225600\n}\n`,
    );
    assert.deepEqual(Object.keys(JSON.parse(json)), [
      "model_name",
      "description",
      "version",
      "submitted_by",
      "submission_time",
    ]);
  });

  it("rejects a non-semver version, fractional seconds, extra fields and non-prefix-42 addresses", () => {
    const base = { modelName: "m", description: "d", version: "1.0.0", hotkey: BOB, submissionTime: 1767225600 };
    assert.throws(() => buildModelCard({ ...base, version: "v1.0" }), /X\.Y\.Z/);
    assert.throws(() => buildModelCard({ ...base, submissionTime: 1767225600.5 }));
    assert.throws(() => buildModelCard({ ...base, submissionTime: 1767225600000 }), /submission_time|Too big|<=/i);
    // Polkadot (prefix 0) encoding of //Alice.
    assert.throws(
      () => buildModelCard({ ...base, hotkey: "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5" }),
      /prefix 42/,
    );
    assert.throws(() => buildModelCard({ ...base, hotkey: "not-an-address" }), /prefix 42/);
    assert.equal(
      ModelCard.safeParse({ ...JSON.parse(serializeModelCard(buildModelCard(base))), extra: 1 }).success,
      false,
    );
  });
});

describe("model versions", () => {
  it("parses, compares, bumps and labels", () => {
    assert.deepEqual(parseVersion("1.20.3"), { major: 1, minor: 20, patch: 3 });
    assert.throws(() => parseVersion("01.0.0"), /X\.Y\.Z/);
    assert.ok(compareVersions("1.10.0", "1.9.9") > 0);
    assert.equal(nextVersion(undefined), "1.0.0");
    assert.equal(nextVersion("1.4.2"), "1.5.0");
    assert.equal(nextVersion("1.4.2", "patch"), "1.4.3");
    assert.equal(versionLabel("1.5.0", new Date("2026-11-22T03:00:00Z")), "1.5.0+20261122");
  });
});

describe("README model card", () => {
  it("lists metrics and files and keeps YAML metadata first", () => {
    const card = buildModelCard({
      modelName: "m",
      description: "line1\nline2",
      version: "1.0.0",
      hotkey: BOB,
      submissionTime: 1767225600,
    });
    const md = renderModelReadme({
      card,
      metrics: { mcc: 0.81234, accuracy: 0.9 },
      files: [{ path: "model.onnx", size: 10 }],
    });
    assert.ok(md.startsWith("---\nlibrary_name: onnx\n"));
    assert.match(md, /\| accuracy \| 0\.9000 \|\n\| mcc \| 0\.8123 \|/);
    assert.match(md, /\| `model\.onnx` \| 10 \|/);
    assert.match(md, /line1 line2/);
    assert.throws(() => renderModelReadme({ card, metrics: { mcc: Number.NaN }, files: [] }));
  });
});
