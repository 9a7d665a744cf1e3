// A JSON reader that loses nothing: numbers keep their source text (dendrite.nonce exceeds 2^53) and objects keep
// key order (Map), so a body can be echoed with every number exactly as the validator sent it.
// Errors carry Python `json.JSONDecodeError`'s msg and char position, which FastAPI puts in its 422 body.

/** A JSON number kept as its source text. */
export class JsonNumber {
  constructor(readonly text: string) {}
  /** True for integer syntax (no fraction, no exponent). */
  get isIntegerText(): boolean {
    return /^-?\d+$/.test(this.text);
  }
  toNumber(): number {
    return Number(this.text);
  }
  toJSON(): string {
    return this.text;
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

export class JsonSyntaxError extends Error {
  override readonly name = "JsonSyntaxError";
  constructor(
    readonly msg: string,
    readonly pos: number,
  ) {
    super(`${msg}: char ${pos}`);
  }
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
const MAX_DEPTH = 64;
const SPECIAL_RE = /["\\\x00-\x1f]/g;

/** Parses JSON text (RFC 8259; NaN/Infinity refused). Throws JsonSyntaxError. */
export function parseJson(text: string): JsonValue {
  let i = 0;
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const str = (): string => {
    const start = i; // at the opening quote
    i++;
    let hasEscape = false;
    while (true) {
      if (i >= text.length) throw new JsonSyntaxError("Unterminated string starting at", start);
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) throw new JsonSyntaxError("Invalid control character at", i);
      if (c !== 0x5c) {
        // Skip a run of plain characters at once (base64 images are tens of KB of them).
        SPECIAL_RE.lastIndex = i;
        i = SPECIAL_RE.exec(text) ? SPECIAL_RE.lastIndex - 1 : text.length;
        continue;
      }
      if (c === 0x5c) {
        hasEscape = true;
        const e = text[i + 1];
        if (e === undefined) throw new JsonSyntaxError("Unterminated string starting at", start);
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)))
            throw new JsonSyntaxError("Invalid \\uXXXX escape", i + 1);
          i += 6;
          continue;
        }
        if (!'"\\/bfnrt'.includes(e)) throw new JsonSyntaxError("Invalid \\escape", i);
        i += 2;
        continue;
      }
      i++;
    }
    i++;
    const raw = text.slice(start + 1, i - 1);
    return hasEscape ? (JSON.parse(`"${raw}"`) as string) : raw;
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError("Nesting too deep", i);
    const c = text[i];
    if (c === "{") {
      i++;
      const obj: JsonObject = new Map();
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      while (true) {
        if (text[i] !== '"') throw new JsonSyntaxError("Expecting property name enclosed in double quotes", i);
        const key = str();
        ws();
        if (text[i] !== ":") throw new JsonSyntaxError("Expecting ':' delimiter", i);
        i++;
        ws();
        obj.set(key, value(depth + 1));
        ws();
        if (text[i] === "}") {
          i++;
          return obj;
        }
        if (text[i] !== ",") throw new JsonSyntaxError("Expecting ',' delimiter", i);
        i++;
        ws();
      }
    }
    if (c === "[") {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      while (true) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === "]") {
          i++;
          return arr;
        }
        if (text[i] !== ",") throw new JsonSyntaxError("Expecting ',' delimiter", i);
        i++;
        ws();
      }
    }
    if (c === '"') return str();
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    NUMBER_RE.lastIndex = i;
    const m = NUMBER_RE.exec(text);
    if (m) {
      i += m[0].length;
      return new JsonNumber(m[0]);
    }
    throw new JsonSyntaxError("Expecting value", i);
  };
  ws();
  const result = value(0);
  ws();
  if (i !== text.length) throw new JsonSyntaxError("Extra data", i);
  return result;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return v instanceof Map;
}

/** Plain JS view for schema validation: integers beyond 2^53 become BigInt, other numbers Number. */
export function toPlain(v: JsonValue): unknown {
  if (v instanceof JsonNumber) {
    if (v.isIntegerText) {
      const n = Number(v.text);
      return Number.isSafeInteger(n) ? n : BigInt(v.text);
    }
    return v.toNumber();
  }
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Map) {
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, x] of v) out[k] = toPlain(x);
    return out;
  }
  return v;
}

/** Compact JSON (`,` and `:`), non-ASCII kept, as FastAPI's JSONResponse writes it. */
export function stringifyCompact(v: JsonValue): string {
  return write(v, ",", ":", false);
}

/** Python `json.dumps` defaults: `", "` and `": "` separators, ensure_ascii (what aiohttp sends for `json=`). */
export function stringifyPython(v: JsonValue): string {
  return write(v, ", ", ": ", true);
}

function write(v: JsonValue, comma: string, colon: string, ascii: boolean): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return quote(v, ascii);
  if (v instanceof JsonNumber) return v.text;
  if (Array.isArray(v)) return `[${v.map((x) => write(x, comma, colon, ascii)).join(comma)}]`;
  const parts: string[] = [];
  for (const [k, x] of v) parts.push(`${quote(k, ascii)}${colon}${write(x, comma, colon, ascii)}`);
  return `{${parts.join(comma)}}`;
}

function quote(s: string, ascii: boolean): string {
  const q = JSON.stringify(s);
  if (!ascii) return q;
  // Python's ensure_ascii escapes everything outside space..tilde as lowercase \uXXXX (astral chars as pairs).
  return q.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
