// Display formatting of the numbers and tensors the API sends. Nothing here computes
// model maths: it turns JSON values into short text and finds shapes for display.

import { t } from "./i18n.js";

const MINUS = "\u2212";

/** A JSON scalar as sent by the API: a number, or "NaN" / "Infinity" / "-Infinity". */
export function isScalar(v) {
  return typeof v === "number" || typeof v === "string";
}

/** The summary of a large tensor as the server sends it:
 * {"summary": {shape, size, min, max, mean, sample}} (or the bare inner object); else null. */
export function summaryOf(v) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  const s = v.summary && typeof v.summary === "object" ? v.summary : v;
  return Array.isArray(s.shape) ? s : null;
}

export function isSummary(v) {
  return summaryOf(v) !== null;
}

export function isNonFinite(v) {
  return typeof v === "string" || (typeof v === "number" && !Number.isFinite(v));
}

/** A number to a few significant digits; the minus sign is U+2212 (legible on a projector). */
export function fmtNumber(x, digits = 4) {
  if (x === null || x === undefined) return "";
  if (typeof x === "string") {
    if (x === "NaN") return "NaN";
    if (x === "Infinity") return "\u221e";
    if (x === "-Infinity") return MINUS + "\u221e";
    return x;
  }
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "\u221e" : MINUS + "\u221e";
  if (x === 0) return "0";
  const ax = Math.abs(x);
  let text;
  if (ax >= 1e-4 && ax < 1e6) {
    text = x.toPrecision(digits);
    if (text.includes("e")) text = String(Number(text));
    if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  } else {
    const [mantissa, exponent] = x.toExponential(digits - 1).split("e");
    const m = mantissa.includes(".") ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa;
    text = `${m}e${exponent.replace("+", "")}`;
  }
  return text.replace(/-/g, MINUS);
}

/** Shape of a JSON tensor: [] for a scalar. */
export function shapeOf(v) {
  if (v === null || v === undefined) return null;
  const summary = summaryOf(v);
  if (summary) return summary.shape;
  const shape = [];
  let cur = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

export function fmtShape(shape) {
  if (!shape) return "";
  if (shape.length === 0) return t("shape.scalar");
  return shape.join("\u00d7");
}

/** Flatten a nested list (no recursion: tensors can be deep). */
export function flatten(v) {
  if (!Array.isArray(v)) return [v];
  const out = [];
  const stack = [v];
  while (stack.length) {
    const item = stack.pop();
    if (Array.isArray(item)) for (let i = item.length - 1; i >= 0; i--) stack.push(item[i]);
    else out.push(item);
  }
  return out;
}

/** Rows x cols view of a tensor of rank <= 2 for tables and heatmaps (a vector is a column). */
export function asMatrix(v) {
  const shape = shapeOf(v);
  if (!shape || isSummary(v)) return null;
  if (shape.length === 0) return { rows: 1, cols: 1, cells: [v] };
  if (shape.length === 1) return { rows: shape[0], cols: 1, cells: v.slice() };
  if (shape.length === 2) return { rows: shape[0], cols: shape[1], cells: flatten(v) };
  // higher ranks: rows = product of leading axes, cols = last axis
  const cols = shape[shape.length - 1];
  const cells = flatten(v);
  return { rows: cols ? cells.length / cols : 0, cols, cells };
}

/** A short one-line text for any value (used in captions, edges and lists). */
export function fmtShort(v, digits = 4) {
  if (v === null || v === undefined) return "";
  if (isScalar(v)) return fmtNumber(v, digits);
  const shape = shapeOf(v);
  if (isSummary(v)) return `[${fmtShape(shape)}]`;
  const cells = flatten(v);
  if (cells.length <= 4 && shape.length === 1) {
    return "[" + cells.map((c) => fmtNumber(c, 3)).join(", ") + "]";
  }
  return `[${fmtShape(shape)}]`;
}

/** A stable string key of a value, to tell whether a displayed value changed. */
export function valueKey(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Min and max of a tensor's finite elements, for the colour scale of a heatmap (display only). */
export function displayRange(v) {
  const summary = summaryOf(v);
  if (summary) return { min: summary.min, max: summary.max };
  let min = Infinity;
  let max = -Infinity;
  for (const c of flatten(v)) {
    if (typeof c === "number" && Number.isFinite(c)) {
      if (c < min) min = c;
      if (c > max) max = c;
    }
  }
  return min === Infinity ? { min: null, max: null } : { min, max };
}

/** The range of a tensor's elements as one label, in interval notation: "[\u22120.007, 0.0041]".
 * Its two ends are apart (a comma and a space) however narrow the box, so that they never
 * read as one number; "" when there is no finite element. */
export function fmtRange(min, max, digits = 2) {
  if (min === null || min === undefined || max === null || max === undefined) return "";
  return `[${fmtNumber(min, digits)}, ${fmtNumber(max, digits)}]`;
}

/** A name as it reads inside a derivative: d loss / d (k*x + b). */
export function derivName(label) {
  return /^[\p{L}_][\p{L}\p{N}_]*$/u.test(label) ? label : `(${label})`;
}
