/**
 * The GRU's numerics: reset_after false against tfjs-layers' GRU (which has only that form), reset_after true
 * against torch.nn.GRU (PyTorch's form), forward and gradients within 1e-5; masking; bigru's backward direction;
 * a save and load round trip of both layers.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/runtime/backend.js";
import { BiGru, Gru, gruSequence } from "../../src/runtime/gru.js";
import { registerLayers } from "../../src/runtime/layers.js";
import { runPythonOk } from "../pytorch/python.js";

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
}

const B = 3;
const T = 7;
const F = 5;
const H = 4;
const LENGTHS = [7, 4, 1];
/** Post-padded sequences of lengths 7, 4 and 1 (Keras masks with zeros at the end). */
const mask = () => tf.tensor2d(LENGTHS.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0))));

function weights(seed: number, resetAfter: boolean) {
  return {
    x: tf.randomNormal([B, T, F], 0, 1, "float32", seed) as tf.Tensor3D,
    W: tf.randomNormal([F, 3 * H], 0, 0.5, "float32", seed + 1) as tf.Tensor2D,
    U: tf.randomNormal([H, 3 * H], 0, 0.5, "float32", seed + 2) as tf.Tensor2D,
    b: tf.randomNormal(resetAfter ? [2, 3 * H] : [3 * H], 0, 0.5, "float32", seed + 3),
  };
}

type Inputs = ReturnType<typeof weights>;
const R = () => tf.randomNormal([B, T, H], 0, 1, "float32", 99);

/** Gradients of sum(gru(x) * R) with respect to x, W, U and b. */
function ourGrads(w: Inputs, m: tf.Tensor2D | null, options: Parameters<typeof gruSequence>[5]): tf.Tensor[] {
  const r = R();
  return tf.grads((x, W, U, b) => tf.sum(tf.mul(gruSequence(x as tf.Tensor3D, W as tf.Tensor2D, U as tf.Tensor2D, b!, m, options), r)))([w.x, w.W, w.U, w.b]);
}

describe.each(["cpu", "wasm"] as const)("gru on %s", (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it.each([
    ["sigmoid", false],
    ["sigmoid", true],
    ["hard_sigmoid", true],
  ] as const)("reset_after false equals tfjs-layers' GRU, forward and gradients (%s, masked: %s) within 1e-5", (act, masked) => {
    const w = weights(1, false);
    // tfjs-layers' GRU is always reset_after false (it refuses true, and its args do not declare the option).
    const layer = tf.layers.gru({ units: H, returnSequences: true, recurrentActivation: act === "sigmoid" ? "sigmoid" : "hardSigmoid" });
    layer.apply(w.x); // builds the layer
    layer.setWeights([w.W, w.U, w.b]);
    const m = masked ? mask() : null;
    const kw = m ? { mask: m.cast("bool") } : {};
    const options = { resetAfter: false, recurrentActivation: act };
    expect(maxDiff(gruSequence(w.x, w.W, w.U, w.b, m, options), layer.apply(w.x, kw) as tf.Tensor)).toBeLessThan(1e-5);

    const r = R();
    const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(w.x, kw) as tf.Tensor, r)) as tf.Scalar, vars);
    const [dx] = tf.grads((x) => tf.sum(tf.mul(layer.apply(x!, kw) as tf.Tensor, r)))([w.x]);
    const expected = [dx!, ...vars.map((v) => grads[v.name]!)];
    const ours = ourGrads(w, m, options);
    ours.forEach((g, k) => expect(maxDiff(g, expected[k]!), `gradient ${["x", "kernel", "recurrent_kernel", "bias"][k]}`).toBeLessThan(1e-5));
  });

  it.each([false, true])("a right-padded sequence ends in the state of the unpadded one (reset_after %s)", (resetAfter) => {
    const w = weights(5, resetAfter);
    // Padding steps hold values that would change the state if they were read.
    const y = gruSequence(w.x, w.W, w.U, w.b, mask(), { resetAfter });
    for (let row = 0; row < B; row++) {
      const n = LENGTHS[row]!;
      const alone = gruSequence(w.x.slice([row, 0, 0], [1, n, F]), w.W, w.U, w.b, null, { resetAfter });
      const last = alone.slice([0, n - 1, 0], [1, 1, H]).reshape([H]);
      expect(maxDiff(y.slice([row, T - 1, 0], [1, 1, H]).reshape([H]), last), `row ${row}`).toBeLessThan(1e-6);
      expect(maxDiff(y.slice([row, 0, 0], [1, n, H]), alone), `row ${row}`).toBeLessThan(1e-6);
    }
    // and an unmasked run of the padded row does read the padding
    const unmasked = gruSequence(w.x, w.W, w.U, w.b, null, { resetAfter });
    expect(maxDiff(unmasked.slice([1, T - 1, 0], [1, 1, H]), y.slice([1, T - 1, 0], [1, 1, H]))).toBeGreaterThan(1e-3);
  });

  it("the bias gradient equals central finite differences (reset_after true, masked, reversed)", () => {
    const w = weights(7, true);
    const m = mask();
    const r = R();
    const loss = (b: tf.Tensor) => tf.sum(tf.mul(gruSequence(w.x, w.W, w.U, b, m, { reverse: true }), r)).dataSync()[0]!;
    const [, , , db] = ourGrads(w, m, { reverse: true });
    const bv = w.b.dataSync();
    const g = db!.dataSync();
    const eps = 1e-2;
    for (const k of [0, 5, 13, 20]) {
      const plus = Float32Array.from(bv);
      const minus = Float32Array.from(bv);
      plus[k]! += eps;
      minus[k]! -= eps;
      const fd = (loss(tf.tensor(plus, w.b.shape)) - loss(tf.tensor(minus, w.b.shape))) / (2 * eps);
      expect(Math.abs(fd - g[k]!), `bias ${k}`).toBeLessThan(2e-3);
    }
  });

  it.each([false, true])("bigru's backward direction equals a gru over the reversed unmasked part (reset_after %s)", (resetAfter) => {
    const w = weights(11, resetAfter);
    const layer = new BiGru({ units: H, merge: "concat", resetAfter, seed: 3 });
    const m = mask();
    const y = layer.apply(w.x, { mask: m.cast("bool") }) as tf.Tensor;
    const [, , , bW, bU, bb] = layer.getWeights();
    for (let row = 0; row < B; row++) {
      const n = LENGTHS[row]!;
      const reversed = tf.reverse(w.x.slice([row, 0, 0], [1, n, F]), 1) as tf.Tensor3D;
      const back = tf.reverse(gruSequence(reversed, bW as tf.Tensor2D, bU as tf.Tensor2D, bb!, null, { resetAfter }), 1);
      expect(maxDiff(y.slice([row, 0, H], [1, n, H]), back), `row ${row}`).toBeLessThan(1e-6);
    }
  });
});

describe("gru against torch.nn.GRU (reset_after true)", () => {
  let dir: string;
  beforeAll(async () => {
    await selectBackend("cpu");
    dir = mkdtempSync(join(tmpdir(), "attnc-gru-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(["sigmoid", "hard_sigmoid"] as const)("forward and gradients within 1e-5 (%s gates)", (act) => {
    const w = weights(21, true);
    const r = R();
    const file = join(dir, `case-${act}.json`);
    const list = (t: tf.Tensor) => Array.from(t.dataSync());
    writeFileSync(file, JSON.stringify({ B, T, F, H, act, x: list(w.x), W: list(w.W), U: list(w.U), b: list(w.b), r: list(r) }));
    // PyTorch: gates r, z, n in rows of weight_ih [3H, F]; attnc: z, r, h in columns of kernel [F, 3H].
    // torch.nn.GRU has only the sigmoid, so hard_sigmoid runs torch's GRU cell written out with torch ops.
    runPythonOk([
      "-c",
      `
import json, sys, torch
c = json.load(open(sys.argv[1]))
B, T, F, H = c["B"], c["T"], c["F"], c["H"]
t = lambda v, *s: torch.tensor(v, dtype=torch.float64).reshape(*s)
x = t(c["x"], B, T, F).requires_grad_()
W = t(c["W"], F, 3 * H).requires_grad_()
U = t(c["U"], H, 3 * H).requires_grad_()
b = t(c["b"], 2, 3 * H).requires_grad_()
def zrh(m):  # [.., 3H] in z, r, h -> torch's r, z, n
    return torch.cat([m[..., H:2 * H], m[..., :H], m[..., 2 * H:]], -1)
if c["act"] == "sigmoid":
    gru = torch.nn.GRU(F, H, batch_first=True).double()
    del gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
    gru.weight_ih_l0 = zrh(W).t()
    gru.weight_hh_l0 = zrh(U).t()
    gru.bias_ih_l0 = zrh(b[0])
    gru.bias_hh_l0 = zrh(b[1])
    y, _ = gru(x)
else:
    s = lambda v: torch.clamp(0.2 * v + 0.5, 0, 1)
    h = torch.zeros(B, H, dtype=torch.float64)
    ys = []
    for k in range(T):
        gi = x[:, k] @ W + b[0]
        gh = h @ U + b[1]
        z = s(gi[:, :H] + gh[:, :H])
        r = s(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        ys.append(h)
    y = torch.stack(ys, 1)
(y * t(c["r"], B, T, H)).sum().backward()
flat = lambda v: v.detach().reshape(-1).tolist()
json.dump({"y": flat(y), "dx": flat(x.grad), "dW": flat(W.grad), "dU": flat(U.grad), "db": flat(b.grad)}, open(sys.argv[1] + ".out", "w"))
`,
      file,
    ]);
    const out = JSON.parse(readFileSync(`${file}.out`, "utf8")) as Record<string, number[]>;
    const options = { recurrentActivation: act };
    expect(maxDiff(gruSequence(w.x, w.W, w.U, w.b, null, options), tf.tensor(out["y"]!, [B, T, H]))).toBeLessThan(1e-5);
    const ours = ourGrads(w, null, options);
    const names = ["dx", "dW", "dU", "db"];
    ours.forEach((g, k) => expect(maxDiff(g, tf.tensor(out[names[k]!]!, g.shape)), names[k]).toBeLessThan(1e-5));
  });
});

describe("gru layers save and load", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
    registerLayers();
  });

  it.each([
    ["gru", () => new Gru({ units: H, resetAfter: false, recurrentActivation: "hard_sigmoid", seed: 4 })],
    ["bigru", () => new BiGru({ units: H, merge: "ave", seed: 4 })],
  ] as const)("%s: the loaded model has the same config, weight names and outputs", async (_name, make) => {
    const input = tf.input({ shape: [T, F] });
    const model = tf.model({ inputs: input, outputs: make().apply(input) as tf.SymbolicTensor });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } })));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    expect(loaded.layers[1]!.getConfig()).toEqual(model.layers[1]!.getConfig());
    // tfjs suffixes a variable name already used in the process (kernel_1); the names as saved are the same.
    const names = (m: tf.LayersModel) => m.weights.map((v) => v.name.replace(/_\d+$/, ""));
    expect(names(loaded)).toEqual(names(model));
    expect(names(model).at(-1)).toMatch(/\/(backward_)?bias$/);
    const x = weights(31, true).x;
    expect(maxDiff(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor)).toBe(0);
  });

  it("a config with an unknown gate activation is refused with the layer's name", () => {
    expect(() => new Gru({ units: 2, name: "enc", recurrentActivation: "relu" as "sigmoid" })).toThrow(
      /layer enc: recurrentActivation must be one of sigmoid, hard_sigmoid/,
    );
  });
});
