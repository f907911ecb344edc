/** last, mean_pool, max_pool: reductions over time, [B, T, D] -> [B, D], mask-aware. */
import type { IrNodeOf } from "./node.js";
import { layerKind } from "./kind.js";

export type ReduceAttrs = Readonly<Record<never, never>>;
export type ReduceNode = IrNodeOf<"last" | "mean_pool" | "max_pool", ReduceAttrs>;

const MODES = { last: "last", mean_pool: "mean", max_pool: "max" } as const;

export const reduce = layerKind<ReduceNode>({
  ops: {
    last: {
      signature: { params: {} },
      summary: "out = h_T, the last step (the last unpadded one under a mask)",
      example: { input: "tokens", chain: "embedding(7, 3, mask_zero: true) -> lstm(3) -> last" },
    },
    mean_pool: {
      signature: { params: {} },
      summary: "out = mean_t h_t over the steps (unpadded steps under a mask)",
      example: { input: "series", chain: "lstm(3) -> mean_pool" },
    },
    max_pool: { signature: { params: {} }, summary: "out = max_t h_t per feature over the steps", example: { input: "series", chain: "max_pool" } },
  },
  infer({ op }, x, ctx) {
    if (!ctx.needVectors(op, x) || !ctx.needSequence(op, x, "; it is already reduced over time")) return undefined;
    return { shape: [x.shape[0]!, x.shape[2]!], mask: false, weights: [] };
  },
  equations: ({ op }) => [
    { last: "out = h at the last unmasked step", mean_pool: "out = mean of h over unmasked steps", max_pool: "out = max of h over unmasked steps" }[op],
  ],
  runtimeClass: "Reduce",
  runtime: ({ op }) => ({ config: { mode: MODES[op] }, seeded: false }),
  pytorch: ({ op }, ctx) => ({ fn: "rt.Reduce", args: [`mode=${ctx.literal(MODES[op])}`] }),
  topology: ({ op }) => ({ className: "AttnReduce", config: { mode: MODES[op] } }),
});
