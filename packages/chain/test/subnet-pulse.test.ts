// The subnet pulse against a loopback subtensor built from real metadata: validators' weights, incentives and the
// subnet owner decide between paying (this miner), paying-others, burning (weight to the owner uid) and silent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectSubtensor, type SubtensorConnection } from "../src/connection.ts";
import { classifyPulse, readSubnetPulse } from "../src/subnet-pulse.ts";
import { DEMO_NETUID, demoNeurons, devKey, OUR_UID } from "./support/demo-subnet.ts";
import { LoopbackChain, type LoopbackNeuron } from "./support/loopback-chain.ts";

const bob = devKey("//Bob");
const OWNER_UID = 0; // a validator-owner, as on StreetVision
const VALIDATORS = [0, 1, 2];

function paying(): LoopbackNeuron[] {
  return demoNeurons(bob.address).map((n) =>
    VALIDATORS.includes(n.uid) ? { ...n, weights: [3, 4, 5, 6, 7].map((uid) => [uid, 10_000] as [number, number]) } : n,
  );
}

function burning(): LoopbackNeuron[] {
  return demoNeurons(bob.address).map((n) => ({
    ...n,
    incentive: n.uid === OWNER_UID ? 65535 : 0,
    emissionRao: n.uid === OWNER_UID ? 1_000_000_000n : 0n,
    ...(VALIDATORS.includes(n.uid) ? { weights: [[OWNER_UID, 65535]] as [number, number][] } : {}),
  }));
}

describe("subnet pulse", () => {
  let chain: LoopbackChain;
  let conn: SubtensorConnection;
  before(async () => {
    chain = await LoopbackChain.start({
      netuid: DEMO_NETUID,
      neurons: paying(),
      owner: { coldkey: devKey(`//subnet-coldkey-${OWNER_UID}`).address },
    });
    conn = await connectSubtensor({ endpoint: chain.url });
  });
  after(async () => {
    await conn.disconnect();
    await chain.close();
  });

  const read = () => readSubnetPulse(conn.api, { netuid: DEMO_NETUID, hotkey: bob.address });

  it("paying: this miner has incentive", async () => {
    chain.neurons = paying();
    const p = await read();
    assert.equal(p.state, "paying");
    assert.equal(p.uid, OUR_UID);
    assert.equal(p.ownerUid, OWNER_UID);
    assert.equal(p.ownerWeightShare, 0);
    assert.equal(p.validatorsSettingWeights, 3);
    assert.match(p.line, /^paying: this miner \(uid 5\) earns incentive 0\.0200/);
  });

  it("paying-others: other miners earn, this one does not", async () => {
    chain.neurons = paying().map((n) => (n.uid === OUR_UID ? { ...n, incentive: 0, emissionRao: 0n } : n));
    const p = await read();
    assert.equal(p.state, "paying-others");
    assert.match(p.line, /^paying others: 8 miners earn, this miner \(uid 5\) has no incentive$/);
  });

  it("burning: every validator weights the owner uid (found through SubnetOwner's coldkey)", async () => {
    chain.neurons = burning();
    const p = await read();
    assert.equal(p.state, "burning");
    assert.equal(p.ownerWeightShare, 1);
    assert.equal(p.line, "burning: 100% of validator weight goes to the owner uid 0; miners' emission is burned");
  });

  it("silent: no weights, no incentive", async () => {
    chain.neurons = demoNeurons(bob.address).map((n) => ({ ...n, incentive: 0, emissionRao: 0n }));
    const p = await read();
    assert.equal(p.state, "silent");
    assert.equal(p.ownerWeightShare, null);
    assert.equal(p.line, "silent: no miner earns and no validator sets weights");
  });

  it("weights are stake-weighted: one small validator paying miners does not hide a burn", () => {
    const neurons = [
      { uid: 0, hotkey: "a", stake: 90_000, validatorPermit: true, incentive: 0.9 },
      { uid: 1, hotkey: "b", stake: 1_000, validatorPermit: true, incentive: 0 },
      { uid: 2, hotkey: "c", stake: 1, validatorPermit: false, incentive: 0.1 },
    ];
    const p = classifyPulse({
      netuid: 1,
      block: 1,
      uid: null,
      neurons,
      ownerUid: 0,
      weights: new Map([
        [0, [[0, 65535]]],
        [1, [[2, 65535]]],
      ]),
    });
    assert.equal(p.state, "burning");
    assert.ok(p.ownerWeightShare! > 0.98);
  });
});

describe("pause policy", () => {
  const DAY = 86_400_000;
  it("pauses only after N days of burning or silence, resumes when payments return, honours a resume hold", async () => {
    const { decidePause, resumedRecord } = await import("../src/pause-policy.ts");
    const t0 = Date.UTC(2026, 4, 20);
    let r = decidePause({ previous: undefined, state: "burning", now: t0, pauseAfterDays: 3 });
    assert.equal(r.action, "none");
    assert.equal(r.record.notPayingSince, t0);
    r = decidePause({ previous: r.record, state: "silent", now: t0 + 2 * DAY, pauseAfterDays: 3 });
    assert.equal(r.action, "none");
    r = decidePause({ previous: r.record, state: "burning", now: t0 + 3 * DAY, pauseAfterDays: 3 });
    assert.equal(r.action, "pause");
    assert.match(r.reason, /paid nobody for 3\.0 days \(burning\); pause after 3/);
    const paused = r.record;
    assert.equal(
      decidePause({ previous: paused, state: "burning", now: t0 + 4 * DAY, pauseAfterDays: 3 }).action,
      "none",
    );
    const back = decidePause({ previous: paused, state: "paying-others", now: t0 + 5 * DAY, pauseAfterDays: 3 });
    assert.equal(back.action, "resume");
    assert.equal(back.record.notPayingSince, null);
    // Off: never pauses, still resumes a host paused earlier.
    assert.equal(
      decidePause({ previous: undefined, state: "burning", now: t0 + 99 * DAY, pauseAfterDays: undefined }).action,
      "none",
    );
    // The operator resumed by hand: no automatic pause during the hold.
    const held = resumedRecord(paused, t0 + 4 * DAY, 2);
    assert.equal(
      decidePause({ previous: held, state: "burning", now: t0 + 5 * DAY, pauseAfterDays: 3 }).action,
      "none",
    );
    assert.equal(
      decidePause({ previous: held, state: "burning", now: t0 + 6.5 * DAY, pauseAfterDays: 3 }).action,
      "pause",
    );
  });
});
