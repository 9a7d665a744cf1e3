import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { imageSha256 } from "../src/image/hash.ts";

const bytes = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
};
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("image sha256: the same digest at once or in slices, for every length around the slice boundaries", async () => {
  for (let n = 1; n <= 50; n++) {
    const b = bytes(n);
    const hex = imageSha256(b, 16);
    assert.equal(typeof hex === "string", n <= 16, `length ${n}: at once only when it fits one slice`);
    assert.equal(await hex, sha(b), `length ${n}`);
  }
});

test("image sha256: the event loop turns while a full-resolution frame is hashed", async () => {
  const frame = bytes(6 * 1024 * 1024);
  let turns = 0;
  const tick = setInterval(() => turns++, 0);
  try {
    assert.equal(await imageSha256(frame), sha(frame));
  } finally {
    clearInterval(tick);
  }
  assert.ok(turns >= 1, `timers ran ${turns} times during the hash`);
});
