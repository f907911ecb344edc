/**
 * A saved model computes what it computed before: for every layer kind and every value of every option the
 * language has (the enum, bool and call parameters of src/ir/signatures.ts, in every combination per layer),
 * a tiny model is built from a spec, saved through the checkpoint writer and loaded by the model-directory
 * reader; its layer configs must be equal and its outputs (predictions and attention weights) bit-for-bit equal.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { attentionOutputs, buildModel, explainModel } from "../../src/engine/build-model.js";
import { INPUT_ATTENTION, LAYERS, type Param } from "../../src/ir/signatures.js";
import type { IrModel, OpName } from "../../src/ir/types.js";
import { selectBackend } from "../../src/runtime/backend.js";
import { registerKernels } from "../../src/runtime/kernels.js";
import { registerLayers } from "../../src/runtime/layers.js";
import { loadModelDir, saveCheckpoint } from "../../src/runtime/modeldir.js";
import { type TrainState } from "../../src/runtime/modeldir-format.js";
import { attnc } from "../in-process.js";

/** Values of a parameter worth iterating: every enum value, both booleans, every call of a family. */
function valuesOf(p: Param): string[] | null {
  if (p.type === "enum") return [...p.values];
  if (p.type === "bool") return ["true", "false"];
  if (p.type === "call")
    return Object.entries(p.family.calls).flatMap(([callee, sig]) => {
      // Every combination of the call's own options (temporal's feed and position).
      let args: string[][] = [["units: 2"]];
      for (const [name, q] of Object.entries(sig.params)) {
        const values = valuesOf(q);
        if (values) args = args.flatMap((a) => values.map((v) => [...a, `${name}: ${v}`]));
      }
      return args.map((a) => `${callee}(${a.join(", ")})`);
    });
  return null;
}

/** The arguments every call of an op needs, whatever its options. */
function baseArgs(op: OpName, combo: Record<string, string>): string[] {
  switch (op) {
    case "embedding":
      return ["vocab: 7", "dim: 3"];
    case "lstm":
    case "bilstm":
    case "gru":
    case "bigru":
    case "dense":
      return ["units: 3"];
    case "attention_pool":
      return combo["score"] === "zhou" ? [] : ["units: 3"];
    case "dropout":
      return ["rate: 0.25"];
    default:
      return [];
  }
}

/** Every combination of the option values of one op (one empty combination for an op without options). */
function combos(op: OpName): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const [name, p] of Object.entries(LAYERS[op].params)) {
    const values = valuesOf(p);
    if (!values) continue;
    out = out.flatMap((c) => values.map((v) => ({ ...c, [name]: v })));
  }
  return out;
}

interface Case {
  title: string;
  spec: string;
  input: "tokens" | "series";
}

const REDUCING: readonly OpName[] = ["attention_pool", "last", "mean_pool", "max_pool"];

function cases(): Case[] {
  const out: Case[] = [];
  for (const op of Object.keys(LAYERS) as OpName[]) {
    for (const combo of combos(op)) {
      const args = [...baseArgs(op, combo), ...Object.entries(combo).map(([k, v]) => `${k}: ${v}`)];
      const call = `${op}(${args.join(", ")})`;
      const tail = REDUCING.includes(op) ? "-> dense(2, activation: softmax)" : "-> last -> dense(2, activation: softmax)";
      // Names with underscores and capitals, which tfjs must keep as they are.
      const hosts: [Case["input"], string, string][] =
        op === "embedding"
          ? [["tokens", "token_Ids: int[T = 5]", `token_Ids -> ${call} -> lstm(3) -> mean_pool -> dense(2, activation: softmax) as out_Probs`]]
          : [
              ["series", "x: float[T = 5, F = 3]", `x -> ${call} as probe_Layer2 ${tail}`],
              ["tokens", "x: int[T = 5]", `x -> embedding(7, 3, mask_zero: true) -> ${call} as probe_Layer2 ${tail}`],
            ];
      for (const [input, decl, chain] of hosts) {
        out.push({ title: `${call} on ${input === "tokens" ? "masked token" : "float"} input`, input, spec: `model M {\n  input ${decl}\n  ${chain}\n}\n` });
      }
    }
  }
  return out;
}

const CASES = cases();

function bytes(t: tf.Tensor): Buffer {
  const d = t.dataSync() as Float32Array;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
}

function outputsOf(model: tf.LayersModel, ir: IrModel, x: tf.Tensor): { bytes: Buffer[]; values: Float32Array[] } {
  const raw = explainModel(model, attentionOutputs(ir)).predict(x) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(raw) ? raw : [raw];
  const out = { bytes: list.map(bytes), values: list.map((t) => Float32Array.from(t.dataSync())) };
  tf.dispose(list);
  return out;
}

const STATE: TrainState = { epoch: 0, batch: 0, history: [], best: null, wait: 0, dropout: {}, done: false };

it("the cases cover every option value of every layer (and both input kinds)", () => {
  for (const op of Object.keys(LAYERS) as OpName[]) {
    for (const [name, p] of Object.entries(LAYERS[op].params)) {
      for (const v of valuesOf(p) ?? [])
        expect(
          CASES.some((c) => c.title.startsWith(`${op}(`) && c.title.includes(`${name}: ${v}`)),
          `${op} ${name}: ${v}`,
        ).toBe(true);
    }
  }
  expect(Object.keys(INPUT_ATTENTION.calls)).toEqual(["temporal", "features"]);
  expect(CASES.some((c) => c.title.includes("recurrent_activation: hard_sigmoid") && c.title.includes("input_attention: temporal"))).toBe(true);
});

describe.each(["wasm", "cpu"] as const)("save and load round trip on %s", (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    registerLayers();
    registerKernels();
  });

  it.each(CASES)("$title", async ({ spec, input }) => {
    const r = await compile({ name: "roundtrip.attn", text: spec });
    expect(r.ok, `${spec}\n${r.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n")}`).toBe(true);
    const ir = r.models[0]!;
    const model = buildModel(ir, 11);
    // Random values in every weight (biases and score vectors start at 0), so that every term counts.
    model.setWeights(model.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.6, "float32", 100 + i)));
    const x =
      input === "tokens"
        ? tf.tensor2d(
            [
              [1, 2, 3, 0, 0],
              [4, 5, 6, 1, 2],
              [2, 0, 0, 0, 0],
              [6, 5, 4, 3, 0],
            ],
            [4, 5],
            "int32",
          )
        : tf.randomNormal([4, 5, 3], 0, 1.5, "float32", 7);
    const before = outputsOf(model, ir, x);
    const dir = join(mkdtempSync(join(tmpdir(), "attnc-roundtrip-")), "m");
    // attnc.json as the loader checks it: the IR, and preprocessing of the input's length.
    const prep = x.dtype === "int32" ? { kind: "text", maxLen: 5, labels: ["a", "b"] } : { kind: "series", window: 5 };
    await saveCheckpoint(dir, model, null, { model: ir.model, ir, prep }, STATE);
    const loaded = await loadModelDir(dir);
    const after = outputsOf(loaded.model, ir, x);
    expect(after.bytes.length).toBe(before.bytes.length);
    before.bytes.forEach((b, i) => {
      const diff = before.values[i]!.reduce((m, v, k) => Math.max(m, Math.abs(v - after.values[i]![k]!)), 0);
      expect(b.equals(after.bytes[i]!), `output ${i}: largest difference ${diff}`).toBe(true);
    });
    for (const layer of model.layers) expect(loaded.model.getLayer(layer.name).getConfig(), layer.name).toEqual(layer.getConfig());
    tf.dispose(x);
    model.dispose();
    loaded.model.dispose();
  });
});

it("attnc evaluate reports the test metrics attnc train reported, for a temporal-attention lstm with hard_sigmoid gates", async () => {
  const dir = mkdtempSync(join(tmpdir(), "attnc-roundtrip-"));
  const spec = readFileSync("test/fixtures/specs/tiny_series.attn", "utf8")
    .replace("lstm(units: 8, input_attention", "lstm(units: 8, recurrent_activation: hard_sigmoid, input_attention")
    .replace(/csv\("([^"]+)"/, (_, p: string) => `csv(${JSON.stringify(resolve("test/fixtures/specs", p))}`);
  expect(spec).toContain("recurrent_activation: hard_sigmoid");
  writeFileSync(join(dir, "hard.attn"), spec);
  const train = await attnc(
    "train",
    join(dir, "hard.attn"),
    "--out",
    join(dir, "m"),
    "--allow-outside",
    "--epochs",
    "1",
    "--threads",
    "1",
    "--backend",
    "wasm",
  );
  expect(train.code, train.err).toBe(0);
  const evaluate = await attnc("evaluate", join(dir, "m"), "--backend", "wasm", "--allow-outside");
  expect(evaluate.code, evaluate.err).toBe(0);
  const lines = (out: string) => out.split("\n").filter((l) => l.startsWith("test "));
  expect(lines(train.out)).toHaveLength(2);
  expect(lines(evaluate.out).slice(0, 2)).toEqual(lines(train.out));

  // An option no layer knows (a damaged model.json) is refused as a damaged directory, not silently replaced.
  cpSync(join(dir, "m"), join(dir, "bad"), { recursive: true });
  const modelJson = join(dir, "bad", "model.json");
  writeFileSync(modelJson, readFileSync(modelJson, "utf8").replace('"hard_sigmoid"', '"bogus"'));
  // The command line's model-directory check finds it first; a loader of its own (a generated program's --resume) says the same in its words.
  const message =
    /(damaged model directory .*bad: model\.json: modelTopology\.config\.layers\[1\]\.config\.recurrent_activation must be one of "sigmoid", "hard_sigmoid", not "bogus"|bad\/model\.json: layer enc: recurrentActivation must be one of sigmoid, hard_sigmoid, not "bogus"; the model directory is damaged)\n$/;
  const bad = await attnc("evaluate", join(dir, "bad"), "--backend", "wasm", "--allow-outside");
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(message);
  const resumed = await attnc("train", join(dir, "hard.attn"), "--out", join(dir, "bad"), "--allow-outside", "--resume", "--backend", "wasm");
  expect(resumed.code).toBe(2);
  expect(resumed.err).toMatch(message);
});
