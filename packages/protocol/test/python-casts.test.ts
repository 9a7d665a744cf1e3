import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatPyFloat, pyFloat, pyInt } from "../src/index.ts";

// Expected values recorded from CPython 3.11: int(s) and float(s) (null = ValueError).
const MATRIX: [string, string | null, number | null][] = [
  ["1", "1", 1],
  ["+1", "1", 1],
  ["-1", "-1", -1],
  [" 1 ", "1", 1],
  ["\t5\n", "5", 5],
  ["\xa05", "5", 5],
  ["\x855", "5", 5],
  ["\v5", "5", 5],
  ["5\x1f", null, null],
  ["1_000", "1000", 1000],
  ["1__0", null, null],
  ["_1", null, null],
  ["1_", null, null],
  ["1e3", null, 1000],
  ["200.0", null, 200],
  ["007", "7", 7],
  ["0x10", null, null],
  ["0b1", null, null],
  ["", null, null],
  ["  ", null, null],
  ["1 2", null, null],
  ["9", "9", 9],
  ["9.0", null, 9],
  [" 9.0 ", null, 9],
  ["1_0.5", null, 10.5],
  [".5", null, 0.5],
  ["5.", null, 5],
  ["1e", null, null],
  ["e5", null, null],
  ["1.5e+3", null, 1500],
  ["1._5", null, null],
  ["1_.5", null, null],
  ["in f", null, null],
  ["1767225600000000000", "1767225600000000000", 1767225600000000000],
];

describe("Python int()/float() casts", () => {
  for (const [text, int, float] of MATRIX) {
    it(JSON.stringify(text), () => {
      const i = pyInt(text);
      assert.equal(i.ok ? i.value.toString() : null, int);
      const f = pyFloat(text);
      assert.equal(f.ok ? f.value : null, float);
    });
  }

  it("keeps nonces exact beyond 2^53", () => {
    const r = pyInt("18446744073709551617");
    assert.ok(r.ok);
    assert.equal(r.value, 18446744073709551617n);
  });

  it("reads inf/infinity/nan in any case and sign", () => {
    for (const [t, v] of [
      ["inf", Number.POSITIVE_INFINITY],
      ["+inf", Number.POSITIVE_INFINITY],
      ["-Infinity", Number.NEGATIVE_INFINITY],
      ["INFINITY", Number.POSITIVE_INFINITY],
    ] as const) {
      const r = pyFloat(t);
      assert.ok(r.ok);
      assert.equal(r.value, v);
    }
    const nan = pyFloat("NaN");
    assert.ok(nan.ok && Number.isNaN(nan.value));
    assert.equal(pyInt("nan").ok, false);
  });
});

describe("formatPyFloat matches repr(float)", () => {
  // [x, CPython 3.11 repr(x)]
  const CASES: [number, string][] = [
    [9, "9.0"],
    [0.0123, "0.0123"],
    [1e-5, "1e-05"],
    [1e-4, "0.0001"],
    [1.5e16, "1.5e+16"],
    [1e16, "1e+16"],
    [1234567890123456, "1234567890123456.0"],
    [-0, "-0.0"],
    [0.1 + 0.2, "0.30000000000000004"],
    [12, "12.0"],
    [123456789.123, "123456789.123"],
    [1e22, "1e+22"],
    [5e-324, "5e-324"],
    [0.00012345, "0.00012345"],
    [2.5e-7, "2.5e-07"],
    [1 / 3, "0.3333333333333333"],
    [100, "100.0"],
    [1e15, "1000000000000000.0"],
    [-1, "-1.0"],
  ];
  for (const [x, repr] of CASES) {
    it(repr, () => assert.equal(formatPyFloat(x), repr));
  }
  it("refuses NaN and infinities", () => {
    assert.throws(() => formatPyFloat(Number.NaN), RangeError);
    assert.throws(() => formatPyFloat(Number.POSITIVE_INFINITY), RangeError);
  });
});
