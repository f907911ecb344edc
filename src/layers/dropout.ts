/** dropout(rate): inverted dropout in training, the identity otherwise. */
import type { IrNodeOf } from "./node.js";
import { num } from "./params.js";
import { layerKind, pyArgs } from "./kind.js";

export type DropoutAttrs = { readonly rate: number };
export type DropoutNode = IrNodeOf<"dropout", DropoutAttrs>;

export const dropout = layerKind<DropoutNode>({
  ops: {
    dropout: {
      signature: { params: { rate: num("fraction of units dropped in training", { min: 0, exclusiveMax: 1 }) }, required: ["rate"], positional: ["rate"] },
      summary: "out = x * m / (1 - rate), m ~ Bernoulli(1 - rate), in training only",
      example: { input: "tokens", chain: "embedding(7, 3) -> dropout(0.25) -> lstm(3) -> last" },
    },
  },
  infer: (_n, x) => ({ shape: [...x.shape], mask: x.mask, weights: [] }),
  equations: ({ attrs: a }) => [`out = x * keep / (1 - ${String(a.rate)}) in training, x otherwise`],
  runtimeClass: "Dropout",
  runtime: ({ attrs: a }) => ({ config: { rate: a.rate }, seeded: true }),
  pytorch: ({ attrs: a }, ctx) => ({ fn: "rt.Dropout", args: [...pyArgs(ctx, a, ["rate"]), ctx.seed] }),
  topology: ({ attrs: a }, seed) => ({ className: "AttnDropout", config: { rate: a.rate, seed } }),
});
