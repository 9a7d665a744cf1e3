// Encodes a small valid ONNX model (protobuf, by hand): pixel_values [1,3,224,224] -> ReduceMean over H,W ->
// Gemm with a 3x1 head -> Sigmoid -> probability [1,1]. The publishing tests ship it as the bundle's weights.

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, v: number) => [...key(field, 0), ...varint(v)];
const bytes = (field: number, b: number[] | Uint8Array) => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, [...new TextEncoder().encode(s)]);
const msg = (field: number, parts: number[][]) => bytes(field, parts.flat());

function tensorInfo(field: number, name: string, dims: number[]): number[] {
  const shape = dims.map((d) => msg(1, [int(1, d)]));
  return msg(field, [str(1, name), msg(2, [msg(1, [int(1, 1), msg(2, shape)])])]);
}

function floatTensor(name: string, dims: number[], values: number[]): number[] {
  const raw = new Uint8Array(new Float32Array(values).buffer);
  return msg(5, [...dims.map((d) => int(1, d)), int(2, 1), str(8, name), bytes(9, raw)]);
}

function int64Tensor(name: string, values: number[]): number[] {
  const raw = new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
  return msg(5, [int(1, values.length), int(2, 7), str(8, name), bytes(9, raw)]);
}

function node(inputs: string[], outputs: string[], op: string, attrs: number[][] = []): number[] {
  return msg(1, [...inputs.map((i) => str(1, i)), ...outputs.map((o) => str(2, o)), str(4, op), ...attrs]);
}

export function tinyRoadworkOnnx(): Uint8Array {
  const keepdims0 = msg(5, [str(1, "keepdims"), int(3, 0), int(20, 2)]); // AttributeProto INT
  const graph = msg(7, [
    node(["pixel_values", "axes"], ["pooled"], "ReduceMean", [keepdims0]),
    node(["pooled", "w", "b"], ["logit"], "Gemm"),
    node(["logit"], ["probability"], "Sigmoid"),
    str(2, "tiny-roadwork"),
    floatTensor("w", [3, 1], [0.8, -0.1, -0.6]),
    floatTensor("b", [1], [0.05]),
    int64Tensor("axes", [2, 3]),
    tensorInfo(11, "pixel_values", [1, 3, 224, 224]),
    tensorInfo(12, "probability", [1, 1]),
  ]);
  return new Uint8Array([...int(1, 8), ...str(2, "roadwork-tests"), ...graph, ...msg(8, [str(1, ""), int(2, 18)])]);
}
