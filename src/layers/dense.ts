/** dense(units, activation): y = activation(x W + b), per step on a sequence. */
import type { IrNodeOf } from "./node.js";
import { LIMITS, oneOf, units } from "./params.js";
import { layerKind, pyArgs } from "./kind.js";

export type Activation = "linear" | "relu" | "tanh" | "sigmoid" | "softmax";
export const ACTIVATIONS: readonly Activation[] = ["linear", "relu", "tanh", "sigmoid", "softmax"];

export type DenseAttrs = { readonly units: number; readonly activation: Activation };
export type DenseNode = IrNodeOf<"dense", DenseAttrs>;

export const dense = layerKind<DenseNode>({
  ops: {
    dense: {
      signature: {
        params: { units: units("output size", LIMITS.denseUnits), activation: oneOf(ACTIVATIONS, "activation", "linear") },
        required: ["units"],
        positional: ["units", "activation"],
      },
      summary: "y = activation(x W + b)",
      example: { input: "series", chain: "dense(4, activation: tanh) -> last -> dense(2, activation: softmax)" },
    },
  },
  infer({ op, attrs: a }, x, ctx) {
    if (!ctx.needVectors(op, x)) return undefined;
    const D = ctx.featureSize(op, x);
    if (D === undefined) return undefined;
    const U = a.units;
    return {
      shape: [...x.shape.slice(0, -1), U],
      mask: x.shape.length === 3 && x.mask,
      weights: [
        { name: "kernel", shape: [D, U], layout: "y = x @ kernel + bias" },
        { name: "bias", shape: [U], layout: "bias" },
      ],
    };
  },
  equations: ({ attrs: a }) => [`y = ${a.activation === "linear" ? "" : `${String(a.activation)}(`}x W + b${a.activation === "linear" ? "" : ")"}`],
  runtimeClass: "Dense",
  runtime: ({ attrs: a }) => ({ config: { units: a.units, activation: a.activation }, seeded: true }),
  pytorch: ({ attrs: a }, ctx) => ({ fn: "rt.Dense", args: [`features=${ctx.features()}`, ...pyArgs(ctx, a, ["units", "activation"]), ctx.seed] }),
  topology: ({ attrs: a }, seed) => ({ className: "AttnDense", config: { units: a.units, activation: a.activation, seed } }),
});
