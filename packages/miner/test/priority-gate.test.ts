import assert from "node:assert/strict";
import { test } from "node:test";
import { PriorityGate, QueueFullError } from "../src/priority-gate.ts";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test("waiters start by stake, highest first, FIFO among equals", async () => {
  const gate = new PriorityGate({ maxConcurrent: 1, maxQueued: 10 });
  const order: string[] = [];
  const hold = deferred();
  const signal = new AbortController().signal;
  const first = gate.run(0, signal, () => hold.promise);
  const runs = [
    ["low", 1],
    ["high-a", 9],
    ["mid", 5],
    ["high-b", 9],
  ].map(([name, stake]) =>
    gate.run(stake as number, signal, async () => {
      order.push(name as string);
    }),
  );
  assert.equal(gate.depth, 4);
  hold.resolve();
  await Promise.all([first, ...runs]);
  assert.deepEqual(order, ["high-a", "high-b", "mid", "low"]);
  assert.equal(gate.active, 0);
});

test("a full queue rejects equal stake and displaces lower stake", async () => {
  const gate = new PriorityGate({ maxConcurrent: 1, maxQueued: 1 });
  const hold = deferred();
  const signal = new AbortController().signal;
  const running = gate.run(0, signal, () => hold.promise);
  const low = gate.run(1, signal, async () => "low");
  await assert.rejects(
    gate.run(1, signal, async () => "same"),
    QueueFullError,
  );
  const high = gate.run(2, signal, async () => "high");
  await assert.rejects(low, QueueFullError);
  hold.resolve();
  await running;
  assert.equal(await high, "high");
});

test("an aborted waiter leaves the queue; a task ignoring its signal keeps its slot until it settles", async () => {
  const gate = new PriorityGate({ maxConcurrent: 1, maxQueued: 5 });
  const hold = deferred();
  const running = gate.run(0, new AbortController().signal, () => hold.promise);
  const ac = new AbortController();
  const waiting = gate.run(3, ac.signal, async () => "never");
  ac.abort(new Error("deadline"));
  await assert.rejects(waiting, /deadline/);
  assert.equal(gate.depth, 0);
  assert.equal(gate.active, 1);
  hold.resolve();
  await running;
  assert.equal(gate.active, 0);
});

test("a task that throws synchronously releases its slot", async () => {
  const gate = new PriorityGate({ maxConcurrent: 1, maxQueued: 0 });
  await assert.rejects(
    gate.run(0, new AbortController().signal, () => {
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.equal(gate.active, 0);
  assert.equal(await gate.run(0, new AbortController().signal, async () => 7), 7);
});
