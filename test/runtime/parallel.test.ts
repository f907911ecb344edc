import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { attnc } from "../in-process.js";
import { selectBackend } from "../../src/runtime/backend.js";
import { registerKernels } from "../../src/runtime/kernels.js";
import { AttentionPool, BiLstm, Dense, Embedding, Lstm, Reduce, registerLayers } from "../../src/runtime/layers.js";
import { loadModelDir } from "../../src/runtime/modeldir.js";
import { DataParallel, splitPoint } from "../../src/runtime/parallel.js";
import { batchGradients } from "../../src/runtime/train.js";

type Gate = "sigmoid" | "hard_sigmoid";

function textModel(gate: Gate = "sigmoid"): tf.LayersModel {
  const x = tf.input({ shape: [12], dtype: "int32" });
  let y = new Embedding({ vocab: 50, dim: 8, maskZero: true, seed: 1 }).apply(x) as tf.SymbolicTensor;
  y = new BiLstm({ units: 6, recurrentActivation: gate, seed: 2 }).apply(y) as tf.SymbolicTensor;
  y = (new AttentionPool({ units: 5, seed: 3 }).apply(y) as tf.SymbolicTensor[])[0]!;
  y = new Dense({ units: 3, activation: "softmax", seed: 4 }).apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y });
}

function seriesModel(gate: Gate = "sigmoid"): tf.LayersModel {
  const x = tf.input({ shape: [7, 3] });
  let y = (new Lstm({ units: 6, inputAttention: { kind: "temporal", units: 4 }, recurrentActivation: gate, seed: 1 }).apply(x) as tf.SymbolicTensor[])[0]!;
  y = new Reduce({ mode: "last" }).apply(y) as tf.SymbolicTensor;
  y = new Dense({ units: 1, seed: 2 }).apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y });
}

describe("data parallelism (a batch split with a worker thread)", () => {
  beforeAll(async () => {
    registerLayers();
    registerKernels();
    await selectBackend("wasm");
  });

  const cases = [
    {
      name: "text classifier (masked BiLSTM, attention pooling)",
      model: textModel,
      kind: "text" as const,
      loss: "cross_entropy" as const,
      data: () => {
        const lens = [12, 3, 7, 12, 1, 9, 5, 11, 2];
        const ids = lens.flatMap((n, b) => Array.from({ length: 12 }, (_, t) => (t < n ? 1 + ((b * 7 + t * 13) % 49) : 0)));
        return { x: tf.tensor2d(ids, [9, 12], "int32"), y: tf.tensor1d([0, 1, 2, 1, 0, 2, 2, 1, 0]) };
      },
    },
    {
      name: "temporal-attention forecaster",
      model: seriesModel,
      kind: "series" as const,
      loss: "mse" as const,
      data: () => ({ x: tf.randomNormal([9, 7, 3], 0, 1, "float32", 5), y: tf.randomNormal([9], 0, 1, "float32", 6) }),
    },
    // Long rows first: the split by real tokens gives this thread 2 rows of 9 (weights 2/9 and 7/9).
    {
      name: "text classifier, split off the middle by real tokens",
      model: textModel,
      kind: "text" as const,
      loss: "cross_entropy" as const,
      data: () => {
        const lens = [12, 12, 12, 1, 1, 1, 2, 1, 0];
        const ids = lens.flatMap((n, b) => Array.from({ length: 12 }, (_, t) => (t < n ? 1 + ((b * 5 + t * 11) % 49) : 0)));
        return { x: tf.tensor2d(ids, [9, 12], "int32"), y: tf.tensor1d([0, 1, 2, 1, 0, 2, 2, 1, 0]) };
      },
    },
    // The worker rebuilds the model from its saved config: options such as hard_sigmoid must survive that.
    {
      name: "text classifier with hard_sigmoid gates",
      model: () => textModel("hard_sigmoid"),
      kind: "text" as const,
      loss: "cross_entropy" as const,
      data: () => ({
        x: tf.tensor2d(
          Array.from({ length: 9 * 12 }, (_, i) => (i % 12 < 2 + (i % 9) ? 1 + ((i * 17) % 49) : 0)),
          [9, 12],
          "int32",
        ),
        y: tf.tensor1d([2, 1, 0, 1, 0, 2, 2, 1, 0]),
      }),
    },
    {
      name: "temporal-attention forecaster with hard_sigmoid gates and the huber loss",
      model: () => seriesModel("hard_sigmoid"),
      kind: "series" as const,
      loss: "huber" as const,
      data: () => ({ x: tf.randomNormal([9, 7, 3], 0, 1, "float32", 7), y: tf.randomNormal([9], 0, 2, "float32", 8) }),
    },
  ];

  for (const c of cases) {
    it(`gives the whole batch's loss and gradients: ${c.name}`, async () => {
      const model = c.model();
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { x, y } = c.data();
      const whole = batchGradients(model, vars, c.loss, c.kind, x, y);
      const par = DataParallel.start(model, vars, { backend: "wasm", loss: c.loss, kind: c.kind });
      try {
        // Twice, with a weight change between: the worker must see the new weights.
        for (let round = 0; round < 2; round++) {
          const split = await par.compute(x, y);
          const ref = round === 0 ? whole : batchGradients(model, vars, c.loss, c.kind, x, y);
          expect(split.loss).toBeCloseTo(ref.loss, 5);
          expect(split.metricSum).toBeCloseTo(ref.metricSum, 4);
          for (const v of vars) {
            const a = split.grads[v.name]!.dataSync();
            const b = ref.grads[v.name]!.dataSync();
            const scale = Math.max(1e-3, ...Array.from(b, Math.abs));
            let worst = 0;
            for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
            expect(worst, v.name).toBeLessThan(1e-4);
          }
          tf.dispose([...Object.values(split.grads), ...(round === 0 ? [] : Object.values(ref.grads))]);
          tf.tidy(() => vars.forEach((v) => v.assign(tf.mul(v, 0.9))));
        }
      } finally {
        await par.close();
        tf.dispose([x, y, ...Object.values(whole.grads)]);
      }
    });
  }
});

describe("splitPoint (where a batch is split between the two threads)", () => {
  it("gives the two parts about as many real tokens, one row at least each", () => {
    expect(splitPoint([10, 10, 10, 10])).toBe(2);
    expect(splitPoint([12, 12, 12, 1, 1, 1, 2, 1, 0])).toBe(2); // 24 | 18 beats 12 | 30 and 36 | 6
    expect(splitPoint([1, 1, 1, 1, 1, 1, 30])).toBe(6);
    expect(splitPoint([30, 1])).toBe(1);
    expect(splitPoint([5, 5, 5])).toBe(1); // a tie (5 | 10, 10 | 5): the earlier
  });
  it("counts a row of padding alone as one, and leaves a batch of one row whole", () => {
    expect(splitPoint([0, 0, 0, 0])).toBe(2);
    expect(splitPoint([0, 0, 0, 3])).toBe(3);
    expect(splitPoint([7])).toBe(0);
    expect(splitPoint([])).toBe(0);
  });
});

describe("attnc train --threads", () => {
  const TEXT = "test/fixtures/specs/tiny_text.attn";
  it("on two threads, learns and gives the same weights run after run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-threads-"));
    const a = await attnc("train", TEXT, "--out", join(dir, "a"), "--allow-outside", "--backend", "wasm", "--threads", "2", "--epochs", "3");
    expect(a.code, a.err).toBe(0);
    expect(a.err).toContain("training on 2 threads");
    const b = await attnc("train", TEXT, "--out", join(dir, "b"), "--allow-outside", "--backend", "wasm", "--threads", "2", "--epochs", "3");
    expect(b.code, b.err).toBe(0);
    registerLayers();
    const wa = (await loadModelDir(join(dir, "a"))).model.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = (await loadModelDir(join(dir, "b"))).model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(wb).toEqual(wa);
    expect(Number(/test accuracy ([0-9.]+)/.exec(a.out)![1])).toBeGreaterThan(0.6);
  });

  it("refuses a thread count other than 1, 2 or auto with exit 2", async () => {
    const r = await attnc("train", TEXT, "--out", join(tmpdir(), "never"), "--allow-outside", "--threads", "8");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--threads must be 1, 2 or auto");
  });
});
