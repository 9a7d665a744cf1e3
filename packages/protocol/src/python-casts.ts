// Python's int(), float() and repr(float) for header values: the axon must accept exactly what a Python axon accepts
// and emit only what a Python dendrite can cast back.

/** Latin-1 characters that int()/float() ignore around a number. */
const PY_SPACE = "[\\t\\n\\v\\f\\r \\x85\\xa0]";
const STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "g");
const DIGITS = "\\d(?:_?\\d)*"; // PEP 515: single underscores between digits
const INT_RE = new RegExp(`^[+-]?${DIGITS}$`);
const FLOAT_RE = new RegExp(`^[+-]?(?:${DIGITS}(?:\\.(?:${DIGITS})?)?|\\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`);
const FLOAT_SPECIAL_RE = /^([+-]?)(inf|infinity|nan)$/i;
/** CPython refuses int() of strings longer than 4300 digits; real values have at most 20. */
const MAX_INT_CHARS = 4300;

export type CastResult<T> = { ok: true; value: T } | { ok: false; why: string };

/** Python `int(text)` in base 10 (ASCII digits only: stricter than Python, which also takes other Unicode digits). */
export function pyInt(text: string): CastResult<bigint> {
  const t = text.replace(STRIP, "");
  if (t.length > MAX_INT_CHARS) return { ok: false, why: "integer too long" };
  if (!INT_RE.test(t)) return { ok: false, why: "not a base-10 integer" };
  return { ok: true, value: BigInt(t.replaceAll("_", "")) };
}

/** Python `float(text)`: decimal or exponent form, underscores between digits, inf/infinity/nan in any case. */
export function pyFloat(text: string): CastResult<number> {
  const t = text.replace(STRIP, "");
  const special = FLOAT_SPECIAL_RE.exec(t);
  if (special) {
    const sign = special[1] === "-" ? -1 : 1;
    return { ok: true, value: special[2]!.toLowerCase() === "nan" ? Number.NaN : sign * Number.POSITIVE_INFINITY };
  }
  if (t.length > MAX_INT_CHARS || !FLOAT_RE.test(t)) return { ok: false, why: "not a number" };
  return { ok: true, value: Number(t.replaceAll("_", "")) };
}

/**
 * Python `repr(float)` / `str(float)`: shortest round-trip digits, always a decimal point or exponent
 * ("9.0", "0.0123", "1e-05", "1.5e+16"). Non-finite values have no form a JSON/int cast accepts, so they throw.
 */
export function formatPyFloat(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`cannot format non-finite float ${x}`);
  if (Object.is(x, -0)) return "-0.0";
  const [mantissa, expText] = x.toExponential().split("e") as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const sign = negative ? "-" : "";
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, "0");
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${e}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac.length > 0 ? frac : "0"}`;
}
