/** bilstm(units): a forward and a backward LSTM over [B, T, F], merged per step. */
import type { IrNodeOf } from "./node.js";
import { oneOf, units } from "./params.js";
import { layerKind, pyArgs } from "./kind.js";
import { cellWeights, recurrentActivation, unitForgetBias, type RecurrentActivation } from "./lstm.js";

export type Merge = "concat" | "sum" | "ave" | "mul";
export const MERGES: readonly Merge[] = ["concat", "sum", "ave", "mul"];

export type BiLstmAttrs = {
  readonly units: number;
  readonly merge: Merge;
  readonly recurrent_activation: RecurrentActivation;
  readonly unit_forget_bias: boolean;
};
export type BiLstmNode = IrNodeOf<"bilstm", BiLstmAttrs>;

export const bilstm = layerKind<BiLstmNode>({
  ops: {
    bilstm: {
      signature: {
        params: {
          units: units("hidden size H of each direction"),
          merge: oneOf(MERGES, "how the two directions are combined", "concat"),
          recurrent_activation: recurrentActivation,
          unit_forget_bias: unitForgetBias,
        },
        required: ["units"],
        positional: ["units"],
      },
      summary: "h_t = merge(forward LSTM h_t, backward LSTM h_t)",
      example: { input: "tokens", chain: "embedding(7, 3, mask_zero: true) -> bilstm(3, merge: sum) -> max_pool" },
    },
  },
  infer({ op, attrs: a }, x, ctx) {
    if (!ctx.needVectors(op, x) || !ctx.needSequence(op, x, "")) return undefined;
    const F = ctx.featureSize(op, x);
    if (F === undefined) return undefined;
    const H = a.units;
    const ufb = a.unit_forget_bias === true;
    return {
      shape: [x.shape[0]!, x.shape[1]!, a.merge === "concat" ? 2 * H : H],
      mask: x.mask,
      weights: [
        ...cellWeights(F, H, ufb, "forward_", "forward direction: "),
        ...cellWeights(F, H, ufb, "backward_", "backward direction (reads the sequence reversed): "),
      ],
    };
  },
  extraFloats: ({ attrs: a }, T) => 2 * T * 6 * a.units, // per direction: gates (4H), cell and hidden state (2H) per step
  equations: ({ attrs: a }) => [`forward and backward (reversed) LSTMs: h_t = o tanh(c_t), c_t = f c_{t-1} + i g; merged by ${String(a.merge)}`],
  runtimeClass: "BiLstm",
  runtime: ({ attrs: a }) => ({
    config: { units: a.units, merge: a.merge, recurrentActivation: a.recurrent_activation, unitForgetBias: a.unit_forget_bias },
    seeded: true,
  }),
  pytorch: ({ attrs: a }, ctx) => ({
    fn: "rt.BiLstm",
    args: [`features=${ctx.features()}`, ...pyArgs(ctx, a, ["units", "merge", "recurrent_activation", "unit_forget_bias"]), ctx.seed],
  }),
  topology: ({ attrs: a }, seed) => ({
    className: "AttnBiLSTM",
    config: { units: a.units, merge: a.merge, recurrent_activation: a.recurrent_activation, unit_forget_bias: a.unit_forget_bias, seed },
  }),
});
