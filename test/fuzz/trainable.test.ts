import fc from "fast-check";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { buildModel } from "../../src/engine/build-model.js";
import { selectBackend } from "../../src/runtime/backend.js";
import { batchGradients, makeOptimizer } from "../../src/runtime/train.js";
import type { IrModel } from "../../src/ir/types.js";
import { trainable } from "./properties.js";

/** One training step of a checked model on random data of its input's shape; throws what tfjs throws. */
function trainOneStep(ir: IrModel): void {
  const model = buildModel(ir, 1);
  try {
    const text = ir.inputs[0]!.dtype === "int32";
    const shape = [2, ...ir.inputs[0]!.shape.slice(1).map((d) => (typeof d === "number" ? d : ir.dims[d]!))];
    const head = ir.nodes.find((n) => n.name === ir.outputs[0])!;
    const classes = Number(head.shape![head.shape!.length - 1]);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { loss, grads } = tf.tidy(() => {
      const x = text ? tf.randomUniform(shape, 0, 12, "int32") : tf.randomNormal(shape);
      const y = text ? tf.randomUniform([2], 0, Math.max(2, classes), "int32").clipByValue(0, classes === 1 ? 1 : classes - 1) : tf.randomNormal([2]);
      const r = batchGradients(model, vars, text ? "cross_entropy" : "mse", text ? "text" : "series", x, y);
      return { loss: r.loss, grads: r.grads };
    });
    makeOptimizer({ kind: "adam", lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }).applyGradients(grads);
    tf.dispose(Object.values(grads));
    if (!Number.isFinite(loss)) throw new Error(`loss is ${loss}`);
  } finally {
    model.dispose();
  }
}

describe("specs from the grammar that check accepts build and train", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it("build a tfjs model and train one step on random data without throwing (30 accepted specs)", async () => {
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc
        .asyncProperty(trainable, async (text) => {
          const r = await compile({ name: "t.attn", text });
          if (!r.ok) {
            rejected++;
            return;
          }
          accepted++;
          try {
            trainOneStep(r.models[0]!);
          } catch (e) {
            throw new Error(`check accepted a spec that does not train: ${(e as Error).message}\n${text}`);
          }
        })
        .beforeEach(() => undefined),
      { numRuns: 120, seed: 20261130, endOnFailure: true },
    );
    expect(accepted).toBeGreaterThanOrEqual(30);
    expect(rejected).toBeGreaterThan(0);
  }, 120_000);
});
