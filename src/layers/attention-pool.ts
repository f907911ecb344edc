/** attention_pool(units): attention over time, [B, T, D] -> [B, D], with the weights [B, T] as port `.weights`. */
import type { IrNodeOf } from "./node.js";
import { oneOf, units } from "./params.js";
import { layerKind, pyArgs } from "./kind.js";

export type AttentionPoolAttrs = { readonly units?: number; readonly score: "additive" | "zhou" };
export type AttentionPoolNode = IrNodeOf<"attention_pool", AttentionPoolAttrs>;

export const attentionPool = layerKind<AttentionPoolNode>({
  ops: {
    attention_pool: {
      signature: {
        params: {
          units: units("attention size A (additive score only)"),
          score: oneOf(["additive", "zhou"], "additive: v . tanh(W h + b); zhou: w . tanh(h)", "additive"),
        },
        positional: ["units"],
      },
      summary: "a = softmax_t(score(h_t)), out = sum_t a_t h_t; the weights a are the port .weights",
      example: { input: "tokens", chain: "embedding(7, 3, mask_zero: true) -> lstm(4) -> attention_pool(2)" },
    },
  },
  infer({ op, attrs: a }, x, ctx) {
    if (!ctx.needVectors(op, x) || !ctx.needSequence(op, x, "; attention_pool reduces over time, so it needs the whole sequence")) return undefined;
    const D = ctx.featureSize(op, x);
    if (D === undefined) return undefined;
    const B = x.shape[0]!;
    const T = x.shape[1]!;
    if (a.score === "zhou") {
      return { shape: [B, x.shape[2]!], mask: false, weights: [{ name: "w", shape: [D], layout: "e_t = w . tanh(h_t)" }], ports: { weights: [B, T] } };
    }
    const A = a.units;
    if (A === undefined) {
      ctx.report("MissingArgument", ctx.span(ctx.path), "attention_pool with the additive score needs 'units' (the attention size A)");
      return undefined;
    }
    return {
      shape: [B, x.shape[2]!],
      mask: false,
      weights: [
        { name: "W", shape: [D, A], layout: "u_t = tanh(h_t @ W + b)" },
        { name: "b", shape: [A], layout: "bias of u_t" },
        { name: "v", shape: [A], layout: "e_t = v . u_t" },
      ],
      ports: { weights: [B, T] },
    };
  },
  extraFloats: ({ attrs: a }, T) => T * ((a.units ?? 0) + 1),
  attention: () => "pool",
  equations: ({ attrs: a }) =>
    a.score === "zhou"
      ? ["e_t = w . tanh(h_t); alpha = softmax over unmasked t; out = tanh(sum_t alpha_t h_t)"]
      : ["u_t = tanh(W h_t + b); e_t = v . u_t; alpha = softmax over unmasked t; out = sum_t alpha_t h_t"],
  runtimeClass: "AttentionPool",
  runtime: ({ attrs: a }) => ({ config: { units: a.units, score: a.score }, seeded: true }),
  pytorch: ({ attrs: a }, ctx) => ({ fn: "rt.AttentionPool", args: [`features=${ctx.features()}`, ...pyArgs(ctx, a, ["units", "score"]), ctx.seed] }),
  topology: ({ attrs: a }, seed) => ({ className: "AttnAttentionPool", config: { units: a.units ?? null, score: a.score, seed } }),
});
