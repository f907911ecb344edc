/**
 * The PyTorch runtime's Gru and BiGru (src/codegen/pytorch/attnc_runtime.py) compute what attnc's runtime layers
 * compute, given the same weights: every option (reset_after both ways, hard_sigmoid, each merge) on masked
 * sequences with padding of different lengths and on unmasked ones, within 1e-5 in float32.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/runtime/backend.js";
import { BiGru, Gru } from "../../src/runtime/gru.js";
import { runPythonOk } from "./python.js";

const B = 3;
const T = 6;
const F = 4;
const H = 5;

const CASES = [
  { bi: false, resetAfter: true, act: "sigmoid", merge: "concat", masked: true },
  { bi: false, resetAfter: false, act: "hard_sigmoid", merge: "concat", masked: true },
  { bi: false, resetAfter: false, act: "sigmoid", merge: "concat", masked: false },
  { bi: true, resetAfter: true, act: "sigmoid", merge: "concat", masked: true },
  { bi: true, resetAfter: false, act: "sigmoid", merge: "sum", masked: true },
  { bi: true, resetAfter: true, act: "hard_sigmoid", merge: "mul", masked: false },
  { bi: true, resetAfter: true, act: "sigmoid", merge: "ave", masked: true },
] as const;

describe("the PyTorch runtime's GRU layers equal attnc's", () => {
  let dir: string;
  beforeAll(async () => {
    await selectBackend("cpu");
    dir = mkdtempSync(join(tmpdir(), "attnc-gru-py-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("for every option, within 1e-5", () => {
    const cases = CASES.map((c, k) => {
      const args = { units: H, resetAfter: c.resetAfter, recurrentActivation: c.act, seed: 10 + k };
      const layer = c.bi ? new BiGru({ ...args, merge: c.merge }) : new Gru(args);
      const x = tf.randomNormal([B, T, F], 0, 1, "float32", k);
      layer.build([B, T, F]);
      // Moved off the initial values (the biases start at 0), so every weight matters.
      layer.setWeights(layer.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, 0, 0.3, "float32", 100 * k + i))));
      const mask = c.masked ? tf.tensor2d([6, 3, 1].map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0)))) : null;
      const y = layer.apply(x, mask ? { mask: mask.cast("bool") } : {}) as tf.Tensor;
      return {
        ...c,
        x: Array.from(x.dataSync()),
        mask: mask ? Array.from(mask.dataSync()) : null,
        weights: layer.weights.map((w, i) => ({
          name: w.originalName.split("/").pop(),
          shape: w.shape,
          values: Array.from(layer.getWeights()[i]!.dataSync()),
        })),
        expected: Array.from(y.dataSync()),
        shape: y.shape,
      };
    });
    const file = join(dir, "cases.json");
    writeFileSync(file, JSON.stringify({ B, T, F, H, cases }));
    const out = runPythonOk([
      "-c",
      `
import json, sys
sys.path.insert(0, sys.argv[2])
import torch
import attnc_runtime as rt
c = json.load(open(sys.argv[1]))
B, T, F, H = c["B"], c["T"], c["F"], c["H"]
diffs = []
for k in c["cases"]:
    if k["bi"]:
        layer = rt.BiGru(features=F, units=H, merge=k["merge"], recurrent_activation=k["act"], reset_after=k["resetAfter"], seed=1)
    else:
        layer = rt.Gru(features=F, units=H, recurrent_activation=k["act"], reset_after=k["resetAfter"], seed=1)
    params = dict(layer.named_ir_weights())
    assert [w["name"] for w in k["weights"]] == list(params), ([w["name"] for w in k["weights"]], list(params))
    with torch.no_grad():
        for w in k["weights"]:
            assert list(params[w["name"]].shape) == w["shape"], (w["name"], w["shape"])
            params[w["name"]].copy_(torch.tensor(w["values"], dtype=torch.float32).reshape(w["shape"]))
        x = torch.tensor(k["x"], dtype=torch.float32).reshape(B, T, F)
        mask = None if k["mask"] is None else torch.tensor(k["mask"], dtype=torch.float32).reshape(B, T)
        y, m, att = layer(x, mask)
    assert att is None and (m is mask)
    assert list(y.shape) == k["shape"], (list(y.shape), k["shape"])
    diffs.append(float((y - torch.tensor(k["expected"]).reshape(k["shape"])).abs().max()))
print(json.dumps(diffs))
`,
      file,
      resolve("src/codegen/pytorch"),
    ]);
    const diffs = JSON.parse(out) as number[];
    expect(diffs).toHaveLength(CASES.length);
    diffs.forEach((d, k) => expect(d, JSON.stringify(CASES[k])).toBeLessThan(1e-5));
  });
});
