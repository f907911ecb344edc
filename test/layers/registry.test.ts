/**
 * Every registered layer kind, from its op's example model: the inferred shapes and weight lists equal those of the
 * TensorFlow.js model buildModel builds; the model saved as a model directory and loaded back computes the same
 * outputs bit for bit; the generated program constructs the same runtime layer (class and config) as buildModel;
 * the kind has its signature, equations, docs and PyTorch code; and the fuzzers draw its op and argument names.
 * A kind registered without one of these fails here.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { emitProgram, equation, layerExpr } from "../../src/codegen/emit.js";
import { emitPytorchProgram, modelTopology } from "../../src/codegen/pytorch.js";
import { compile } from "../../src/compile.js";
import { attentionOutputs, buildModel, explainModel } from "../../src/engine/build-model.js";
import type { IrModel, IrNode } from "../../src/ir/types.js";
import { kindOf, LAYER_KINDS, LAYERS, OP_NAMES, opInfo, type OpName } from "../../src/layers/registry.js";
import { layerMarkdown } from "../../src/lsp/docs.js";
import { tmLanguageText } from "../../src/lsp/tmlanguage.js";
import { referenceMarkdown } from "../../src/reference.js";
import { selectBackend } from "../../src/runtime/backend.js";
import { LAYER_CLASSES, layerSeed, registerLayers } from "../../src/runtime/layers.js";
import { loadModelDir, saveCheckpoint } from "../../src/runtime/modeldir.js";
import type { TrainState } from "../../src/runtime/modeldir-format.js";
import { FUZZ_DICTIONARY } from "../fuzz/properties.js";

/** The runtime's layer classes by export name: src/runtime/layers.ts's and src/runtime/gru.ts's. */
const RUNTIME_EXPORTS: Record<string, unknown> = { ...LAYER_CLASSES };

const SEED = 11;
const STATE: TrainState = { epoch: 0, batch: 0, history: [], best: null, wait: 0, dropout: {}, done: false };

function exampleSpec(op: OpName): string {
  const { input, chain } = opInfo(op).example;
  const decl = input === "tokens" ? "x: int[T = 5]" : "x: float[T = 5, F = 3]";
  return `model M {\n  input ${decl}\n  x -> ${chain}\n}\n`;
}

async function exampleIr(op: OpName): Promise<IrModel> {
  const spec = exampleSpec(op);
  const r = await compile({ name: `${op}.attn`, text: spec });
  expect(r.ok, `${spec}\n${r.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n")}`).toBe(true);
  return r.models[0]!;
}

/** The nodes of the example that are of `op` (at least one, or the example does not show the op). */
function nodesOf(ir: IrModel, op: OpName): IrNode[] {
  const nodes = ir.nodes.filter((n) => n.op === op);
  expect(nodes.length, `the example of ${op} has no ${op} node`).toBeGreaterThan(0);
  return nodes;
}

function exampleInput(ir: IrModel): tf.Tensor {
  return ir.inputs[0]!.dtype === "int32"
    ? tf.tensor2d(
        [
          [1, 2, 3, 0, 0],
          [4, 5, 6, 1, 2],
          [2, 0, 0, 0, 0],
        ],
        [3, 5],
        "int32",
      )
    : tf.randomNormal([3, 5, 3], 0, 1.5, "float32", 7);
}

/** Every output (the head and the attention weights), as bytes. */
function outputBytes(model: tf.LayersModel, ir: IrModel, x: tf.Tensor): Buffer[] {
  const raw = explainModel(model, attentionOutputs(ir)).predict(x) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(raw) ? raw : [raw];
  const out = list.map((t) => {
    const d = t.dataSync() as Float32Array;
    return Buffer.from(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
  });
  tf.dispose(list);
  return out;
}

/** An IR shape as TensorFlow.js gives it: the batch (and any dimension without a size) null. */
function tfShape(ir: IrModel, shape: readonly (number | string)[]): (number | null)[] {
  return shape.map((d) => (typeof d === "number" ? d : (ir.dims[d] ?? null)));
}

/** The runtime layer a generated program constructs for a node: its class and its constructor's arguments. */
function programLayer(expr: string): { cls: string; args: object } {
  const m = /^new (\w+)\((\{.*\})\)$/.exec(expr);
  if (!m) throw new Error(`not a layer construction: ${expr}`);
  const args = new Function("layerSeed", "seed", `return (${m[2]!});`)(layerSeed, SEED) as object;
  return { cls: m[1]!, args };
}

it("registers every op once, in the order of the language", () => {
  expect(new Set(OP_NAMES).size).toBe(OP_NAMES.length);
  expect(OP_NAMES).toEqual(LAYER_KINDS.flatMap((k) => Object.keys(k.ops)));
  expect(Object.keys(LAYERS)).toEqual(OP_NAMES);
});

describe.each(OP_NAMES)("%s", (op) => {
  beforeAll(async () => {
    await selectBackend("cpu");
    registerLayers();
  });

  it("has a signature, a summary, equations and docs in the reference, the hover and the grammar", async () => {
    const info = opInfo(op);
    expect(LAYERS[op]).toBe(info.signature);
    for (const [name, p] of Object.entries(info.signature.params)) expect(p.doc.trim(), `${op} ${name}`).not.toBe("");
    expect(info.summary.trim()).not.toBe("");
    expect(layerMarkdown(op)).toContain(info.summary);
    expect(referenceMarkdown()).toContain(`### \`${op}\``);
    expect(tmLanguageText()).toContain(op);
    const ir = await exampleIr(op);
    for (const n of nodesOf(ir, op)) {
      const lines = equation(n);
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l.trim()).not.toBe("");
      for (const l of lines) expect(emitProgram(ir, { specPath: "m.attn", specHash: "0", dataPath: "d.csv" })).toContain(`//   ${l}`);
    }
  });

  it("infers the output shape and the weights of the layer buildModel builds", async () => {
    const ir = await exampleIr(op);
    const model = buildModel(ir, SEED);
    for (const n of nodesOf(ir, op)) {
      const layer = model.getLayer(n.name);
      const shapes = (Array.isArray(layer.outputShape[0]) ? layer.outputShape : [layer.outputShape]) as (number | null)[][];
      expect(shapes[0], `${n.name}'s output`).toEqual(tfShape(ir, n.shape!));
      expect(shapes.slice(1), `${n.name}'s ports`).toEqual(Object.values(n.ports ?? {}).map((s) => tfShape(ir, s)));
      expect(layer.weights.map((w) => [w.name, w.shape])).toEqual((n.weights ?? []).map((w) => [`${n.name}/${w.name}`, w.shape]));
      expect(layer.countParams()).toBe(n.params);
    }
    model.dispose();
  });

  it("saved as a model directory and loaded back, computes the same outputs bit for bit", async () => {
    const ir = await exampleIr(op);
    const model = buildModel(ir, SEED);
    model.setWeights(model.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.6, "float32", 100 + i)));
    const x = exampleInput(ir);
    const before = outputBytes(model, ir, x);
    const dir = join(mkdtempSync(join(tmpdir(), "attnc-registry-")), "m");
    const prep = x.dtype === "int32" ? { kind: "text", maxLen: 5, labels: ["a", "b"] } : { kind: "series", window: 5 };
    await saveCheckpoint(dir, model, null, { model: ir.model, ir, prep }, STATE);
    const loaded = await loadModelDir(dir);
    const after = outputBytes(loaded.model, ir, x);
    expect(after.length).toBe(before.length);
    before.forEach((b, i) => expect(b.equals(after[i]!), `output ${i}`).toBe(true));
    for (const n of nodesOf(ir, op)) expect(loaded.model.getLayer(n.name).getConfig()).toEqual(model.getLayer(n.name).getConfig());
    tf.dispose(x);
    model.dispose();
    loaded.model.dispose();
  });

  it("the generated program constructs the runtime layer buildModel constructs", async () => {
    const ir = await exampleIr(op);
    const model = buildModel(ir, SEED);
    const program = emitProgram(ir, { specPath: "m.attn", specHash: "0", dataPath: "d.csv" });
    const classes = RUNTIME_EXPORTS as Record<string, new (args: object) => tf.layers.Layer>;
    for (const n of nodesOf(ir, op)) {
      const index = ir.nodes.indexOf(n);
      const expr = layerExpr(n, index);
      expect(program).toContain(`= ${expr}.apply(`);
      const { cls, args } = programLayer(expr);
      expect(cls).toBe(kindOf(n).runtimeClass);
      const Class = classes[cls]!;
      expect(Object.hasOwn(LAYER_CLASSES, cls) && Object.values(LAYER_CLASSES).includes(Class as never), `${cls} is a registered runtime layer`).toBe(true);
      const built = model.getLayer(n.name);
      expect(built).toBeInstanceOf(Class);
      expect(new Class(args).getConfig()).toEqual(built.getConfig());
      expect(program).toMatch(new RegExp(`import \\{[^}]*\\b${cls}\\b[^}]*\\} from`));
    }
    model.dispose();
  });

  it("has PyTorch code and the model.json topology TensorFlow.js writes", async () => {
    const ir = await exampleIr(op);
    const py = emitPytorchProgram(ir, { specPath: "m.attn", specHash: "0", dataPath: "d.csv" });
    const model = buildModel(ir, SEED);
    type Topology = { config: { layers: { name: string; class_name: string; config: object }[] } };
    const written = (model.toJSON(null, false) as Topology).config.layers;
    const computed = (modelTopology(ir, SEED) as Topology).config.layers;
    for (const n of nodesOf(ir, op)) {
      const kind = kindOf(n);
      const index = ir.nodes.indexOf(n);
      const call = kind.pytorch(n, { features: () => 3, steps: () => 5, literal: (v) => JSON.stringify(v), seed: "seed=0" });
      expect(call.fn).toMatch(/^rt\.\w+$/);
      expect(py).toContain(`${call.fn}(`);
      const fromTf = written.find((l) => l.name === n.name)!;
      const ours = computed.find((l) => l.name === n.name)!;
      expect(ours.class_name).toBe(fromTf.class_name);
      expect(ours.config).toEqual(fromTf.config);
      expect(kind.topology(n, layerSeed(SEED, index)).className).toBe((RUNTIME_EXPORTS as Record<string, { className: string }>)[kind.runtimeClass]!.className);
    }
    model.dispose();
  });

  it("is in the fuzzers' dictionary with every argument name", () => {
    expect(FUZZ_DICTIONARY.ops).toContain(op);
    for (const name of Object.keys(LAYERS[op].params)) expect(FUZZ_DICTIONARY.args).toContain(name);
  });
});
