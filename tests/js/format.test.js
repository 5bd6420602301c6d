// Number and tensor formatting (format.js): what the page prints for the API's values.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  asMatrix, derivName, displayRange, fmtNumber, fmtRange, fmtShape, fmtShort, isNonFinite, shapeOf, summaryOf, valueKey,
} from "../../static/js/format.js";

const MINUS = "\u2212";

test("numbers to four significant digits, trailing zeros dropped", () => {
  assert.equal(fmtNumber(0.6835), "0.6835");
  assert.equal(fmtNumber(0.68354), "0.6835");
  assert.equal(fmtNumber(3), "3");
  assert.equal(fmtNumber(0.5), "0.5");
  assert.equal(fmtNumber(1234.5678), "1235");
  assert.equal(fmtNumber(0.0007011), "0.0007011");
  assert.equal(fmtNumber(0), "0");
  assert.equal(fmtNumber(1.23456, 2), "1.2");
});

test("the minus sign is U+2212", () => {
  assert.equal(fmtNumber(-0.0343677), `${MINUS}0.03437`);
  assert.equal(fmtNumber(-2e-7), `${MINUS}2e${MINUS}7`);
  assert.ok(!fmtNumber(-5).includes("-"));
});

test("very small and very large numbers in exponent form", () => {
  assert.equal(fmtNumber(0.00001234), `1.234e${MINUS}5`);
  assert.equal(fmtNumber(12345678), "1.235e7");
  assert.equal(fmtNumber(1e6), "1e6");
});

test("non-finite values as the API sends them", () => {
  assert.equal(fmtNumber("NaN"), "NaN");
  assert.equal(fmtNumber("Infinity"), "\u221e");
  assert.equal(fmtNumber("-Infinity"), `${MINUS}\u221e`);
  assert.equal(fmtNumber(Number.NaN), "NaN");
  assert.equal(fmtNumber(-Infinity), `${MINUS}\u221e`);
  assert.equal(isNonFinite("NaN"), true);
  assert.equal(isNonFinite(Infinity), true);
  assert.equal(isNonFinite(2), false);
});

test("nothing computed prints nothing", () => {
  assert.equal(fmtNumber(null), "");
  assert.equal(fmtNumber(undefined), "");
  assert.equal(fmtShort(null), "");
  assert.equal(valueKey(null), "");
});

test("shapes of nested lists and of the server's summaries", () => {
  assert.deepEqual(shapeOf(2), []);
  assert.deepEqual(shapeOf([1, 2, 3]), [3]);
  assert.deepEqual(shapeOf([[1, 2], [3, 4], [5, 6]]), [3, 2]);
  const summary = { summary: { shape: [100, 10], size: 1000, min: -1, max: 2, mean: 0.1, sample: [] } };
  assert.deepEqual(summaryOf(summary), summary.summary);
  assert.deepEqual(shapeOf(summary), [100, 10]);
  assert.equal(summaryOf([1, 2]), null);
  assert.equal(fmtShape([3, 2]), "3\u00d72");
  assert.equal(fmtShape([]), "scalar");
});

test("short text: a few numbers inline, else the shape", () => {
  assert.equal(fmtShort(-0.5), `${MINUS}0.5`);
  assert.equal(fmtShort([1, 0.25, -2]), `[1, 0.25, ${MINUS}2]`);
  assert.equal(fmtShort([1, 2, 3, 4, 5]), "[5]");
  assert.equal(fmtShort([[1, 2], [3, 4]]), "[2\u00d72]");
});

test("tensors as matrices for tables and heatmaps", () => {
  assert.deepEqual(asMatrix(7), { rows: 1, cols: 1, cells: [7] });
  assert.deepEqual(asMatrix([1, 2, 3]), { rows: 3, cols: 1, cells: [1, 2, 3] });
  assert.deepEqual(asMatrix([[1, 2], [3, 4]]), { rows: 2, cols: 2, cells: [1, 2, 3, 4] });
  assert.deepEqual(asMatrix([[[1, 2]], [[3, 4]]]), { rows: 2, cols: 2, cells: [1, 2, 3, 4] });
});

test("a heatmap's range skips the non-finite cells", () => {
  assert.deepEqual(displayRange([[1, "NaN"], [-3, 2]]), { min: -3, max: 2 });
  assert.deepEqual(displayRange(["NaN"]), { min: null, max: null });
});

test("a tensor's range is one label whose two ends never run together", () => {
  // the case: two numbers side by side read as "−0.00290.0036"
  assert.equal(fmtRange(-0.0029, 0.0036), `[${MINUS}0.0029, 0.0036]`);
  assert.equal(fmtRange(-0.00712, 0.00413, 1), `[${MINUS}0.007, 0.004]`);
  assert.equal(fmtRange(-3, 2), `[${MINUS}3, 2]`);
  assert.equal(fmtRange(0, 1e-9), "[0, 1e\u22129]");
  // whatever the numbers, the two ends are apart: a comma and a space between them
  for (const [a, b] of [[-0.0029, 0.0036], [-1e-7, -2e-8], [12345, 67890], [-0.5, -0.25]]) {
    const label = fmtRange(a, b);
    const [lo, hi] = label.slice(1, -1).split(", ");
    assert.equal(lo, fmtNumber(a, 2));
    assert.equal(hi, fmtNumber(b, 2));
  }
  // from the range of a heatmap: nothing when it has no finite cell
  const r = displayRange(["NaN"]);
  assert.equal(fmtRange(r.min, r.max), "");
  const s = displayRange([[-0.0029, 0.001], [0.0036, "NaN"]]);
  assert.equal(fmtRange(s.min, s.max), `[${MINUS}0.0029, 0.0036]`);
});

test("a label that is not a name is bracketed inside a derivative", () => {
  assert.equal(derivName("loss"), "loss");
  assert.equal(derivName("损失"), "损失");
  assert.equal(derivName("k*x + b"), "(k*x + b)");
});
