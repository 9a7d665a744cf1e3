// ONNX ModelProto encoder (field numbers from onnx/onnx.proto) and a small typed graph builder on top of it.
// Used to generate real models for tests, the demo classifier and the trainer's exported heads without protobufjs.
import { ProtoWriter } from "./protobuf.ts";

/** Element types the builder can declare or store, with their TensorProto.DataType codes. */
export const ELEM_TYPES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
} as const;
export type ElemType = keyof typeof ELEM_TYPES;

/** A dimension: a fixed size or a symbolic name such as "N" (batch). */
export type Dim = number | string;

export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Uint16Array;

export interface TensorValue {
  dims: readonly number[];
  data: TensorData;
  /** Needed only where the array type is ambiguous: Uint16Array holds float16 bits, Uint8Array uint8 or bool. */
  type?: ElemType;
}

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/** An explicitly typed attribute. Plain values are inferred: integer number → INT, other number → FLOAT,
 * string → STRING, number[] → INTS when all integers else FLOATS. Use these helpers where the guess is wrong
 * (e.g. Gemm `alpha: attr.float(1)`). */
export type AttributeValue =
  | { kind: "int"; value: number }
  | { kind: "ints"; value: readonly number[] }
  | { kind: "float"; value: number }
  | { kind: "floats"; value: readonly number[] }
  | { kind: "string"; value: string }
  | { kind: "tensor"; value: TensorValue };

export const attr = {
  int: (value: number): AttributeValue => ({ kind: "int", value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: "ints", value }),
  float: (value: number): AttributeValue => ({ kind: "float", value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: "floats", value }),
  string: (value: string): AttributeValue => ({ kind: "string", value }),
  tensor: (value: TensorValue): AttributeValue => ({ kind: "tensor", value }),
};

export type AttributeInput = AttributeValue | number | string | readonly number[];

function normalizeAttribute(name: string, value: AttributeInput): AttributeValue {
  if (typeof value === "string") return { kind: "string", value };
  if (typeof value === "number") return Number.isInteger(value) ? { kind: "int", value } : { kind: "float", value };
  if (Array.isArray(value)) {
    const nums = value as readonly number[];
    return nums.every(Number.isInteger) ? { kind: "ints", value: nums } : { kind: "floats", value: nums };
  }
  if (typeof value === "object" && value !== null && "kind" in value) return value as AttributeValue;
  throw new TypeError(`attribute '${name}': unsupported value`);
}

function inferType(t: TensorValue): ElemType {
  if (t.type) return t.type;
  if (t.data instanceof Float32Array) return "float32";
  if (t.data instanceof Float64Array) return "float64";
  if (t.data instanceof Int32Array) return "int32";
  if (t.data instanceof BigInt64Array) return "int64";
  if (t.data instanceof Int8Array) return "int8";
  if (t.data instanceof Uint8Array) return "uint8";
  throw new TypeError("Uint16Array tensors must declare type: 'float16'");
}

/** TensorProto with little-endian raw_data (ONNX requires little-endian; every platform we run on is). */
export function encodeTensor(name: string, t: TensorValue): ProtoWriter {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) {
    throw new RangeError(
      `tensor '${name}': dims [${t.dims.join(",")}] hold ${count} values, data has ${t.data.length}`,
    );
  }
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, ELEM_TYPES[inferType(t)]);
  w.string(8, name);
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function encodeAttribute(name: string, a: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.kind) {
    case "float":
      w.float(2, a.value).varint(20, ATTR.FLOAT);
      break;
    case "int":
      w.varint(3, a.value).varint(20, ATTR.INT);
      break;
    case "string":
      w.string(4, a.value).varint(20, ATTR.STRING);
      break;
    case "tensor":
      w.message(5, encodeTensor(name, a.value)).varint(20, ATTR.TENSOR);
      break;
    case "floats":
      for (const f of a.value) w.float(7, f);
      w.varint(20, ATTR.FLOATS);
      break;
    case "ints":
      for (const i of a.value) w.varint(8, i);
      w.varint(20, ATTR.INTS);
      break;
  }
  return w;
}

function encodeValueInfo(name: string, type: ElemType, shape: readonly Dim[]): ProtoWriter {
  const dims = new ProtoWriter();
  for (const d of shape) {
    dims.message(1, typeof d === "number" ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d));
  }
  const tensorType = new ProtoWriter().varint(1, ELEM_TYPES[type]).message(2, dims);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs: Record<string, AttributeValue>;
  name: string;
  domain: string;
}

export interface ModelOptions {
  /** Default-domain opset (default 17). */
  opset?: number;
  /** Extra opset imports, e.g. { "com.microsoft": 1 }. */
  extraOpsets?: Record<string, number>;
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** ModelProto.metadata_props (readable through InferenceSession metadata in some runtimes). */
  metadata?: Record<string, string>;
}

/** Collects a graph and encodes it as an ONNX ModelProto. Names are checked for duplicates as they are added. */
export class GraphBuilder {
  private readonly inputs: ProtoWriter[] = [];
  private readonly outputs: ProtoWriter[] = [];
  private readonly initializers: ProtoWriter[] = [];
  private readonly nodes: NodeSpec[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`graph '${this.name}': value '${name}' defined twice`);
    this.names.add(name);
  }

  input(name: string, type: ElemType, shape: readonly Dim[]): string {
    this.claim(name);
    this.inputs.push(encodeValueInfo(name, type, shape));
    return name;
  }

  output(name: string, type: ElemType, shape: readonly Dim[]): string {
    this.outputs.push(encodeValueInfo(name, type, shape));
    return name;
  }

  /** A constant weight. Plain typed arrays are accepted for float32 (`Float32Array`) and int64 (`BigInt64Array`). */
  initializer(name: string, data: TensorData, dims: readonly number[], type?: ElemType): string {
    this.claim(name);
    this.initializers.push(encodeTensor(name, { data, dims, ...(type ? { type } : {}) }));
    return name;
  }

  /** Adds a node; `outputs` may be a count, in which case fresh names are generated. Returns the output names. */
  node(
    op: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attrs: Record<string, AttributeInput> = {},
    options: { name?: string; domain?: string } = {},
  ): string[] {
    const id = this.counter++;
    const outs =
      typeof outputs === "number"
        ? Array.from({ length: outputs }, (_, i) => `${op.toLowerCase()}_${id}_${i}`)
        : [...outputs];
    for (const o of outs) this.claim(o);
    const normalized: Record<string, AttributeValue> = {};
    for (const [k, v] of Object.entries(attrs)) normalized[k] = normalizeAttribute(k, v);
    this.nodes.push({
      op,
      inputs,
      outputs: outs,
      attrs: normalized,
      name: options.name ?? `${op}_${id}`,
      domain: options.domain ?? "",
    });
    return outs;
  }

  toGraph(): ProtoWriter {
    const g = new ProtoWriter();
    for (const n of this.nodes) {
      const w = new ProtoWriter();
      for (const i of n.inputs) w.string(1, i);
      for (const o of n.outputs) w.string(2, o);
      w.string(3, n.name).string(4, n.op);
      for (const [k, v] of Object.entries(n.attrs)) w.message(5, encodeAttribute(k, v));
      if (n.domain) w.string(7, n.domain);
      g.message(1, w);
    }
    g.string(2, this.name);
    for (const t of this.initializers) g.message(5, t);
    for (const i of this.inputs) g.message(11, i);
    for (const o of this.outputs) g.message(12, o);
    return g;
  }

  /** Encodes a complete ModelProto (ir_version 8, opset 17, producer "roadwork" unless overridden). */
  toModel(options: ModelOptions = {}): Uint8Array {
    if (this.outputs.length === 0) throw new Error(`graph '${this.name}' declares no outputs`);
    const m = new ProtoWriter()
      .varint(1, options.irVersion ?? 8)
      .string(2, options.producerName ?? "roadwork")
      .string(3, options.producerVersion ?? "0.1.0");
    if (options.docString) m.string(6, options.docString);
    m.message(7, this.toGraph());
    m.message(8, new ProtoWriter().string(1, "").varint(2, options.opset ?? 17));
    for (const [domain, version] of Object.entries(options.extraOpsets ?? {})) {
      m.message(8, new ProtoWriter().string(1, domain).varint(2, version));
    }
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      m.message(14, new ProtoWriter().string(1, key).string(2, value));
    }
    return m.finish();
  }
}
