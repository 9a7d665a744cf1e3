import assert from "node:assert/strict";
import { test } from "node:test";
import * as ort from "onnxruntime-node";
import { attr, GraphBuilder } from "../src/onnx/model.ts";
import { seededRandom } from "../src/onnx/tiny-classifier.ts";

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs((a[i] as number) - (b[i] as number)) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
};
const randomArray = (n: number, seed: number) => {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

test("Conv with strides/pads/dilations (INTS) and a symbolic batch matches a JS convolution", async () => {
  const [cin, cout, k, size] = [2, 3, 3, 6];
  const w = randomArray(cout * cin * k * k, 1);
  const b = randomArray(cout, 2);
  const g = new GraphBuilder("conv");
  g.input("x", "float32", ["N", cin, size, size]);
  g.initializer("w", w, [cout, cin, k, k]);
  g.initializer("b", b, [cout]);
  g.node("Conv", ["x", "w", "b"], ["y"], { kernel_shape: [k, k], strides: [2, 2], pads: [1, 1, 1, 1], group: 1 });
  g.output("y", "float32", ["N", cout, 3, 3]);
  const session = await ort.InferenceSession.create(g.toModel({ opset: 17 }));
  assert.deepEqual(session.inputMetadata[0], {
    name: "x",
    isTensor: true,
    type: "float32",
    shape: ["N", cin, size, size],
  });
  for (const n of [1, 3]) {
    const x = randomArray(n * cin * size * size, 10 + n);
    const out = (await session.run({ x: new ort.Tensor("float32", x, [n, cin, size, size]) })).y as ort.Tensor;
    assert.deepEqual(out.dims, [n, cout, 3, 3]);
    const expected: number[] = [];
    for (let bi = 0; bi < n; bi++)
      for (let o = 0; o < cout; o++)
        for (let oy = 0; oy < 3; oy++)
          for (let ox = 0; ox < 3; ox++) {
            let acc = b[o] as number;
            for (let c = 0; c < cin; c++)
              for (let ky = 0; ky < k; ky++)
                for (let kx = 0; kx < k; kx++) {
                  const iy = oy * 2 - 1 + ky;
                  const ix = ox * 2 - 1 + kx;
                  if (iy < 0 || ix < 0 || iy >= size || ix >= size) continue;
                  acc +=
                    (x[((bi * cin + c) * size + iy) * size + ix] as number) *
                    (w[((o * cin + c) * k + ky) * k + kx] as number);
                }
            expected.push(acc);
          }
    close(out.data as Float32Array, expected);
  }
  await session.release();
});

test("FLOAT, INT, FLOATS, STRING and TENSOR attributes reach onnxruntime intact", async () => {
  const g = new GraphBuilder("attrs");
  g.input("a", "float32", ["N", 4]);
  g.initializer("bmat", Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), [2, 4]);
  // Gemm: alpha (FLOAT), transB (INT)
  g.node("Gemm", ["a", "bmat"], ["gemm"], { alpha: attr.float(0.5), transB: 1 });
  // Constant from a TENSOR attribute, and from FLOATS
  g.node("Constant", [], ["shift"], { value: attr.tensor({ dims: [2], data: Float32Array.of(10, -10) }) });
  g.node("Constant", [], ["scale"], { value_floats: attr.floats([2, 3]) });
  g.node("Add", ["gemm", "shift"], ["shifted"]);
  g.node("Mul", ["shifted", "scale"], ["scaled"]);
  g.node("LeakyRelu", ["scaled"], ["y"], { alpha: 0.25 });
  g.output("y", "float32", ["N", 2]);
  // Pad with a STRING attribute (mode) and int64 pads as an initializer.
  g.initializer("pads", BigInt64Array.of(0n, 1n, 0n, 1n), [4]);
  g.node("Pad", ["a", "pads"], ["padded"], { mode: "reflect" });
  g.output("padded", "float32", ["N", 6]);
  const session = await ort.InferenceSession.create(g.toModel());
  const a = Float32Array.of(1, -2, 3, -4, 0.5, 0.5, 0.5, 0.5);
  const r = await session.run({ a: new ort.Tensor("float32", a, [2, 4]) });
  const expected: number[] = [];
  for (let n = 0; n < 2; n++) {
    for (let j = 0; j < 2; j++) {
      let dot = 0;
      for (let k = 0; k < 4; k++) dot += (a[n * 4 + k] as number) * (j * 4 + k + 1);
      const v = (0.5 * dot + (j === 0 ? 10 : -10)) * (j === 0 ? 2 : 3);
      expected.push(v >= 0 ? v : 0.25 * v);
    }
  }
  close((r.y as ort.Tensor).data as Float32Array, expected);
  // reflect padding of [1,-2,3,-4] by one on each side: [-2,1,-2,3,-4,3]
  close(((r.padded as ort.Tensor).data as Float32Array).subarray(0, 6), [-2, 1, -2, 3, -4, 3]);
  await session.release();
});

test("model header fields and duplicate-name checks", () => {
  const g = new GraphBuilder("g");
  g.input("x", "float32", ["N", 1]);
  assert.throws(() => g.initializer("x", Float32Array.of(1), [1]), /defined twice/);
  assert.throws(() => g.initializer("w", Float32Array.of(1, 2), [3]), /hold 3 values, data has 2/);
  assert.throws(() => new GraphBuilder("empty").toModel(), /declares no outputs/);
  g.node("Identity", ["x"], ["y"]);
  g.output("y", "float32", ["N", 1]);
  const bytes = g.toModel({ metadata: { bundle: "demo" } });
  // ModelProto field 1 (ir_version) = 8 comes first; "roadwork" appears as producer_name.
  assert.deepEqual([...bytes.subarray(0, 2)], [0x08, 8]);
  assert.ok(Buffer.from(bytes).includes(Buffer.from("roadwork")));
});
