/** embedding(vocab, dim): token ids [B, T] to vectors [B, T, E]. */
import { formatShape, type IrNodeOf } from "./node.js";
import { bool, LIMITS, units } from "./params.js";
import { layerKind, pyArgs } from "./kind.js";

export type EmbeddingAttrs = { readonly vocab: number; readonly dim: number; readonly mask_zero: boolean };
export type EmbeddingNode = IrNodeOf<"embedding", EmbeddingAttrs>;

export const embedding = layerKind<EmbeddingNode>({
  ops: {
    embedding: {
      signature: {
        params: {
          vocab: units("vocabulary size V, padding id 0 included", LIMITS.vocab),
          dim: units("embedding size E"),
          mask_zero: bool("treat id 0 as padding and pass a mask downstream", false),
        },
        required: ["vocab", "dim"],
        positional: ["vocab", "dim"],
      },
      summary: "e_t = E[x_t]: token ids [B, T] to vectors [B, T, E]",
      example: { input: "tokens", chain: "embedding(7, 3, mask_zero: true) -> mean_pool" },
    },
  },
  infer({ attrs: a }, x, ctx) {
    if (x.dtype !== "int32" || x.shape.length !== 2) {
      ctx.report(
        "NeedsTokens",
        ctx.span(ctx.path),
        `embedding needs int token ids [B, T], but ${x.name} gives ${x.dtype === "int32" ? "int" : "float"} ${formatShape(x.shape)}`,
        {
          related: [{ message: `${x.name} is produced here`, span: x.span }],
        },
      );
      return undefined;
    }
    return {
      shape: [x.shape[0]!, x.shape[1]!, a.dim],
      mask: a.mask_zero === true,
      weights: [{ name: "embeddings", shape: [a.vocab, a.dim], layout: "row v is the vector of token id v; id 0 is padding" }],
    };
  },
  equations: ({ attrs: a }) => [`e_t = E[x_t], E: [${String(a.vocab)}, ${String(a.dim)}]${a.mask_zero ? "; id 0 is padding and masks its step" : ""}`],
  runtimeClass: "Embedding",
  runtime: ({ attrs: a }) => ({ config: { vocab: a.vocab, dim: a.dim, maskZero: a.mask_zero }, seeded: true }),
  pytorch: ({ attrs: a }, ctx) => ({
    fn: "rt.Embedding",
    args: [...pyArgs(ctx, a, ["vocab", "dim", "mask_zero"]), ctx.seed],
  }),
  topology: ({ attrs: a }, seed) => ({ className: "AttnEmbedding", config: { vocab: a.vocab, dim: a.dim, mask_zero: a.mask_zero, seed } }),
});
