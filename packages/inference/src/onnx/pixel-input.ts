// Preprocessing inside the model: prepends Cast → Transpose → Mul → Add (→ Cast to float16) to an ONNX graph, so the
// session takes the geometry-stage image as uint8 NHWC (a quarter of the bytes to copy to the GPU) and does
// rescale + normalize + layout on the device. Done on the serialized protobuf: the new nodes are encoded first
// (graph nodes must be in topological order), the original graph follows minus its old pixel input, and protobuf's
// merge rules (repeated fields append, the last singular field wins) make the concatenation one valid graph.
import { GraphBuilder } from "./model.ts";
import { ProtoWriter } from "./protobuf.ts";

export interface PixelInputOptions {
  /** The graph input the new nodes feed (it stops being a graph input). */
  input: string;
  /** The new uint8 [N, H, W, 3] input's name. */
  newInput: string;
  height: number;
  width: number;
  /** Per-channel affine map applied to the 0-255 values: x · scale + bias. */
  scale: readonly number[];
  bias: readonly number[];
  /** Element type the original input expects. */
  inputType: "float32" | "float16";
}

interface Field {
  field: number;
  wire: number;
  /** Start of the tag and end of the whole field, in the message's bytes. */
  start: number;
  end: number;
  /** The payload of a length-delimited field. */
  body?: Uint8Array;
}

function varint(b: Uint8Array, at: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (let i = at; i < b.length && i < at + 10; i++) {
    const byte = b[i] as number;
    value += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return [value, i + 1];
    mul *= 128;
  }
  throw new Error("malformed protobuf varint");
}

/** The top-level fields of one protobuf message, in order. */
export function fields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < b.length) {
    const start = at;
    const [tag, next] = varint(b, at);
    at = next;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) at = varint(b, at)[1];
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const [length, bodyStart] = varint(b, at);
      at = bodyStart + length;
      if (at > b.length) throw new Error("truncated protobuf field");
      out.push({ field, wire, start, end: at, body: b.subarray(bodyStart, at) });
      continue;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (at > b.length) throw new Error("truncated protobuf field");
    out.push({ field, wire, start, end: at });
  }
  return out;
}

const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : "");

/** ValueInfoProto.name (field 1). */
function valueInfoName(b: Uint8Array): string {
  return text(fields(b).find((f) => f.field === 1)?.body);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Returns the model with its float NCHW pixel input replaced by a uint8 NHWC one and the preprocessing nodes. */
export function withPixelInput(model: Uint8Array, o: PixelInputOptions): Uint8Array {
  const top = fields(model);
  const graphField = top.find((f) => f.field === 7 && f.body);
  if (!graphField?.body) throw new Error("not an ONNX model: no graph");
  const graph = graphField.body;
  const graphFields = fields(graph);
  const inputs = graphFields.filter((f) => f.field === 11 && f.body);
  if (!inputs.some((f) => valueInfoName(f.body as Uint8Array) === o.input)) {
    throw new Error(`the model has no input '${o.input}'`);
  }
  if (inputs.some((f) => valueInfoName(f.body as Uint8Array) === o.newInput)) {
    throw new Error(`the model already has an input '${o.newInput}'`);
  }

  const pre = new GraphBuilder("roadwork_preprocess");
  pre.input(o.newInput, "uint8", ["N", o.height, o.width, 3]);
  const scale = pre.initializer("roadwork_pre_scale", Float32Array.from(o.scale), [1, 3, 1, 1]);
  const bias = pre.initializer("roadwork_pre_bias", Float32Array.from(o.bias), [1, 3, 1, 1]);
  const [asFloat] = pre.node("Cast", [o.newInput], ["roadwork_pre_float"], { to: 1 }, { name: "roadwork_pre_cast" });
  const [nchw] = pre.node(
    "Transpose",
    [asFloat as string],
    ["roadwork_pre_nchw"],
    { perm: [0, 3, 1, 2] },
    {
      name: "roadwork_pre_transpose",
    },
  );
  const [scaled] = pre.node("Mul", [nchw as string, scale], ["roadwork_pre_scaled"], {}, { name: "roadwork_pre_mul" });
  if (o.inputType === "float16") {
    const [shifted] = pre.node(
      "Add",
      [scaled as string, bias],
      ["roadwork_pre_shifted"],
      {},
      { name: "roadwork_pre_add" },
    );
    pre.node("Cast", [shifted as string], [o.input], { to: 10 }, { name: "roadwork_pre_half" });
  } else {
    pre.node("Add", [scaled as string, bias], [o.input], {}, { name: "roadwork_pre_add" });
  }
  // GraphBuilder's GraphProto: nodes, name, initializers, the new input. The original graph's fields follow, so its
  // name wins and its nodes come after ours.
  const prefix = pre.toGraph().finish();
  const kept = graphFields
    .filter((f) => !(f.field === 11 && f.body && valueInfoName(f.body) === o.input))
    .map((f) => graph.subarray(f.start, f.end));
  const newGraph = concat([prefix, ...kept]);

  const rest = top.filter((f) => f !== graphField).map((f) => model.subarray(f.start, f.end));
  const graphBytes = new ProtoWriter().bytes(7, newGraph).finish();
  return concat([...rest, graphBytes]);
}

const ELEM_NAMES: Record<number, string> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  6: "int32",
  7: "int64",
  10: "float16",
};

/** A graph input's element type and shape, read from the protobuf (before any session exists). */
export function graphInput(model: Uint8Array, name: string): { type: string; shape: (number | string)[] } | undefined {
  const graph = fields(model).find((f) => f.field === 7)?.body;
  if (!graph) return undefined;
  for (const f of fields(graph)) {
    if (f.field !== 11 || !f.body || valueInfoName(f.body) !== name) continue;
    const type = fields(f.body).find((x) => x.field === 2)?.body;
    const tensor = type ? fields(type).find((x) => x.field === 1)?.body : undefined;
    if (!tensor) return undefined;
    const tf = fields(tensor);
    const elemField = tf.find((x) => x.field === 1);
    const elem = elemField ? varint(tensor, varint(tensor, elemField.start)[1])[0] : 0;
    const shapeBody = tf.find((x) => x.field === 2)?.body;
    const shape: (number | string)[] = [];
    for (const d of shapeBody ? fields(shapeBody).filter((x) => x.field === 1) : []) {
      const df = fields(d.body as Uint8Array);
      const value = df.find((x) => x.field === 1);
      const param = df.find((x) => x.field === 2);
      const body = d.body as Uint8Array;
      shape.push(value ? varint(body, varint(body, value.start)[1])[0] : param ? text(param.body) : "?");
    }
    return { type: ELEM_NAMES[elem] ?? `type ${elem}`, shape };
  }
  return undefined;
}
