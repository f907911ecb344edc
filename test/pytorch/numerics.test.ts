/**
 * For every model of specs/ and examples/, and a few models for the options they do not use: the generated PyTorch
 * program, given the weights attnc builds with a seed (moved off their initial values), predicts what attnc predicts
 * (the output head and every attention output) within 1e-5, in float32.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitPytorchProgram, modelTopology } from "../../src/codegen/pytorch.js";
import { compile } from "../../src/compile.js";
import { attentionOutputs, buildModel, explainModel } from "../../src/engine/build-model.js";
import type { IrModel } from "../../src/ir/types.js";
import { selectBackend } from "../../src/runtime/backend.js";
import { runPythonOk } from "./python.js";

const SPECS = [
  ...readdirSync("specs")
    .filter((f) => f.endsWith(".attn"))
    .map((f) => `specs/${f}`),
  ...readdirSync("examples").flatMap((d) =>
    readdirSync(`examples/${d}`)
      .filter((f) => f.endsWith(".attn"))
      .map((f) => `examples/${d}/${f}`),
  ),
].sort();

/**
 * Layer options no shipped spec uses: hard_sigmoid, merge mul, the pools, masked input attentions, per-step dense,
 * padding inside a sequence.
 */
const EXTRA = `
model HardMul {
  input tokens: int[T = 12]
  tokens -> embedding(50, 6, mask_zero: true) -> bilstm(5, merge: mul, recurrent_activation: hard_sigmoid, unit_forget_bias: false)
    -> dense(4, activation: tanh) -> mean_pool -> dense(3, activation: softmax)
}
model MaxPool {
  input tokens: int[T = 12]
  tokens -> embedding(50, 6, mask_zero: true) -> lstm(7, recurrent_activation: hard_sigmoid) -> max_pool -> dense(1, activation: sigmoid)
}
model MaskedTemporal {
  input tokens: int[T = 10]
  tokens -> embedding(40, 5, mask_zero: true) -> lstm(6, input_attention: temporal(4)) as enc -> last -> dense(2, activation: relu)
}
model MaskedReplace {
  input tokens: int[T = 10]
  tokens -> embedding(40, 5, mask_zero: true) -> lstm(6, input_attention: temporal(4, feed: replace, position: none)) as enc
    -> attention_pool(score: zhou) as pool -> dense(2, activation: softmax)
}
model Gapped {
  input tokens: int[T = 9]
  tokens -> embedding(30, 4, mask_zero: true) -> bilstm(5) -> last -> dense(2, activation: softmax)
}
model MaskedFeatures {
  input tokens: int[T = 10]
  tokens -> embedding(40, 5, mask_zero: true) -> lstm(6, input_attention: features(3)) as enc -> bilstm(4, merge: ave) -> last -> dense(1)
}
`;

const B = 3;

/** A small deterministic generator (the inputs need not be random, only varied). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Inputs for a model: token ids with trailing padding of different lengths (one row unpadded), or floats. */
function inputsFor(ir: IrModel): { dtype: string; shape: number[]; values: number[] } {
  const inp = ir.inputs[0]!;
  const shape = [B, ...inp.shape.slice(1).map((d) => (typeof d === "number" ? d : ir.dims[d]!))];
  const rnd = lcg(shape.reduce((a, b) => a * b, 1));
  const values: number[] = [];
  if (inp.dtype === "int32") {
    const vocab = ir.nodes[0]!.attrs["vocab"] as number;
    const T = shape[1]!;
    for (let b = 0; b < B; b++) {
      const len = b === 0 ? T : Math.max(1, Math.floor(T / (b + 2)));
      for (let t = 0; t < T; t++) values.push(t < len ? 1 + Math.floor(rnd() * (vocab - 1)) : 0);
    }
    // Padding inside a sequence (not what the tokenizer makes): the LSTM's step-by-step path, not the fused one.
    if (ir.model === "Gapped") values[T + 1] = 0;
  } else for (let i = 0; i < shape.reduce((a, b) => a * b, 1); i++) values.push((rnd() * 2 - 1) * 1.5);
  return { dtype: inp.dtype, shape, values };
}

interface Case {
  readonly name: string;
  readonly expected: number[][];
  readonly attention: string[];
}

const dir = mkdtempSync(join(tmpdir(), "attnc-pt-num-"));
const cases: Case[] = [];
const topologies: [string, unknown, object][] = [];
const results = new Map<string, { output: number[]; attention: Record<string, number[]> }>();

beforeAll(async () => {
  await selectBackend("wasm");
  for (const spec of [...SPECS, "extra"]) {
    const r = await compile({ name: spec, text: spec === "extra" ? EXTRA : readFileSync(spec, "utf8") });
    if (!r.ok) throw new Error(`${spec} does not compile`);
    for (const ir of r.models) {
      const name = `${spec.replace(/[/.]/g, "_")}-${ir.model}`;
      const caseDir = join(dir, name);
      mkdirSync(caseDir);
      const model = buildModel(ir, 11);
      // Moved off the initial values, some of which are 0 (W~, p, the feature attention's v), so every path counts.
      const rnd = lcg(cases.length + 1);
      model.setWeights(
        model.getWeights().map((w) =>
          tf.add(
            w,
            tf.tensor(
              Array.from({ length: w.size }, () => (rnd() - 0.5) * 0.4),
              w.shape,
            ),
          ),
        ),
      );
      const att = attentionOutputs(ir);
      const input = inputsFor(ir);
      const x = tf.tensor(input.values, input.shape, input.dtype as "int32" | "float32");
      const outs = explainModel(model, att).predict(x) as tf.Tensor | tf.Tensor[];
      const expected = (Array.isArray(outs) ? outs : [outs]).map((t) => Array.from(t.dataSync()));
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          topologies.push([name, a.modelTopology, modelTopology(ir, 11)]);
          writeFileSync(
            join(caseDir, "model.json"),
            JSON.stringify({ modelTopology: a.modelTopology, weightsManifest: [{ paths: ["weights.bin"], weights: a.weightSpecs }] }),
          );
          writeFileSync(join(caseDir, "weights.bin"), Buffer.from(a.weightData as ArrayBuffer));
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
        }),
      );
      writeFileSync(join(caseDir, "manifest.json"), JSON.stringify({ model: "model.json" }));
      writeFileSync(join(caseDir, "inputs.json"), JSON.stringify(input));
      writeFileSync(join(caseDir, `${ir.model}.py`), emitPytorchProgram(ir, { specPath: spec, specHash: "0", dataPath: "data.csv" }));
      writeFileSync(join(caseDir, "attnc_runtime.py"), readFileSync("src/codegen/pytorch/attnc_runtime.py"));
      cases.push({ name, expected, attention: att.map((a) => a.node) });
      model.dispose();
    }
  }
  runPythonOk(["test/pytorch/forward.py", dir], { timeout: 240_000 });
  for (const c of cases) results.set(c.name, JSON.parse(readFileSync(join(dir, c.name, "outputs.json"), "utf8")));
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const maxAbs = (a: readonly number[], b: readonly number[]): number => {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
};

describe("PyTorch programs predict what attnc predicts, given attnc's weights", () => {
  it("covers every model of specs/ and examples/", () => {
    expect(cases.length).toBeGreaterThanOrEqual(22);
  });

  it("the topology build writes for the programs is the one TensorFlow.js writes for attnc's model", () => {
    for (const [name, tfjs, ours] of topologies) expect(ours, name).toEqual(tfjs);
  });

  it("each model's output head and attention weights are within 1e-5 (float32)", () => {
    const report: string[] = [];
    for (const c of cases) {
      const got = results.get(c.name)!;
      let worst = maxAbs(got.output, c.expected[0]!);
      c.attention.forEach((node, i) => {
        worst = Math.max(worst, maxAbs(got.attention[node]!, c.expected[i + 1]!));
      });
      report.push(`${c.name}: max abs difference ${worst.toExponential(2)}`);
      expect(worst, c.name).toBeLessThanOrEqual(1e-5);
    }
    process.stdout.write(`${report.join("\n")}\n`);
  });
});
