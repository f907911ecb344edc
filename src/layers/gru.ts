/**
 * gru(units) and bigru(units): Keras' GRU over [B, T, F] -> [B, T, H], and a forward and a backward one merged
 * per step. The runtime layers are src/runtime/gru.ts's Gru and BiGru. No input attention (not offered).
 */
import type { IrNodeOf, IrWeight } from "./node.js";
import { bool, oneOf, units, type Param } from "./params.js";
import { MERGES, type Merge } from "./bilstm.js";
import { layerKind, pyArgs } from "./kind.js";
import { recurrentActivation, type RecurrentActivation } from "./lstm.js";

const resetAfter: Param = bool("apply the reset gate after the recurrent product (Keras' and PyTorch's form; bias [2, 3H]), or before it (bias [3H])", true);

export type GruAttrs = {
  readonly units: number;
  readonly recurrent_activation: RecurrentActivation;
  readonly reset_after: boolean;
};
export type GruNode = IrNodeOf<"gru", GruAttrs>;
export type BiGruAttrs = GruAttrs & { readonly merge: Merge };
export type BiGruNode = IrNodeOf<"bigru", BiGruAttrs>;

const GATES = "gates z, r, h in blocks of H along the last axis";

/** One GRU cell's weights (a bigru has two, prefixed forward_ and backward_). */
function gruWeights(F: number, H: number, resetAfter: boolean, prefix: string, direction: string): IrWeight[] {
  return [
    { name: `${prefix}kernel`, shape: [F, 3 * H], layout: `${direction}input weights W, x @ W; ${GATES}` },
    { name: `${prefix}recurrent_kernel`, shape: [H, 3 * H], layout: `${direction}recurrent weights U, h @ U; ${GATES}` },
    resetAfter
      ? { name: `${prefix}bias`, shape: [2, 3 * H], layout: `${direction}row 0 the input bias b, row 1 the recurrent bias b'; ${GATES}` }
      : { name: `${prefix}bias`, shape: [3 * H], layout: `${direction}bias b; ${GATES}` },
  ];
}

function gruEquations(resetAfter: boolean): string {
  return resetAfter
    ? "z = s(x W_z + h U_z + b_z + b'_z), r = s(x W_r + h U_r + b_r + b'_r), hh = tanh(x W_h + b_h + r * (h U_h + b'_h)), h_t = z * h_{t-1} + (1 - z) * hh"
    : "z = s(x W_z + h U_z + b_z), r = s(x W_r + h U_r + b_r), hh = tanh(x W_h + (r * h) U_h + b_h), h_t = z * h_{t-1} + (1 - z) * hh";
}

export const gru = layerKind<GruNode>({
  ops: {
    gru: {
      signature: {
        params: { units: units("hidden size H"), recurrent_activation: recurrentActivation, reset_after: resetAfter },
        required: ["units"],
        positional: ["units"],
      },
      summary: "z, r = s(W x_t + U h_{t-1} + b), hh = tanh(W_h x_t + r * (U_h h_{t-1} + b'_h) + b_h), h_t = z * h_{t-1} + (1 - z) * hh",
      example: { input: "series", chain: "gru(4, reset_after: false) -> last" },
    },
  },
  infer({ op, attrs: a }, x, ctx) {
    if (!ctx.needVectors(op, x) || !ctx.needSequence(op, x, "")) return undefined;
    const F = ctx.featureSize(op, x);
    if (F === undefined) return undefined;
    return { shape: [x.shape[0]!, x.shape[1]!, a.units], mask: x.mask, weights: gruWeights(F, a.units, a.reset_after !== false, "", "") };
  },
  extraFloats: ({ attrs: a }, T) => T * 5 * a.units, // per step: z, r, hh, h_{t-1} and h U_h + b'_h (H each)
  equations: ({ attrs: a }) => [gruEquations(a.reset_after !== false)],
  runtimeClass: "Gru",
  runtime: ({ attrs: a }) => ({ config: { units: a.units, recurrentActivation: a.recurrent_activation, resetAfter: a.reset_after }, seeded: true }),
  pytorch: ({ attrs: a }, ctx) => ({
    fn: "rt.Gru",
    args: [`features=${ctx.features()}`, ...pyArgs(ctx, a, ["units", "recurrent_activation", "reset_after"]), ctx.seed],
  }),
  topology: ({ attrs: a }, seed) => ({
    className: "AttnGRU",
    config: { units: a.units, recurrent_activation: a.recurrent_activation, reset_after: a.reset_after, seed },
  }),
});

export const bigru = layerKind<BiGruNode>({
  ops: {
    bigru: {
      signature: {
        params: {
          units: units("hidden size H of each direction"),
          merge: oneOf(MERGES, "how the two directions are combined", "concat"),
          recurrent_activation: recurrentActivation,
          reset_after: resetAfter,
        },
        required: ["units"],
        positional: ["units"],
      },
      summary: "h_t = merge(forward GRU h_t, backward GRU h_t)",
      example: { input: "tokens", chain: "embedding(7, 3, mask_zero: true) -> bigru(3, merge: sum) -> max_pool" },
    },
  },
  infer({ op, attrs: a }, x, ctx) {
    if (!ctx.needVectors(op, x) || !ctx.needSequence(op, x, "")) return undefined;
    const F = ctx.featureSize(op, x);
    if (F === undefined) return undefined;
    const H = a.units;
    const ra = a.reset_after !== false;
    return {
      shape: [x.shape[0]!, x.shape[1]!, a.merge === "concat" ? 2 * H : H],
      mask: x.mask,
      weights: [
        ...gruWeights(F, H, ra, "forward_", "forward direction: "),
        ...gruWeights(F, H, ra, "backward_", "backward direction (reads the sequence reversed): "),
      ],
    };
  },
  extraFloats: ({ attrs: a }, T) => 2 * T * 5 * a.units,
  equations: ({ attrs: a }) => [`forward and backward (reversed) GRUs: ${gruEquations(a.reset_after !== false)}; merged by ${String(a.merge)}`],
  runtimeClass: "BiGru",
  runtime: ({ attrs: a }) => ({
    config: { units: a.units, merge: a.merge, recurrentActivation: a.recurrent_activation, resetAfter: a.reset_after },
    seeded: true,
  }),
  pytorch: ({ attrs: a }, ctx) => ({
    fn: "rt.BiGru",
    args: [`features=${ctx.features()}`, ...pyArgs(ctx, a, ["units", "merge", "recurrent_activation", "reset_after"]), ctx.seed],
  }),
  topology: ({ attrs: a }, seed) => ({
    className: "AttnBiGRU",
    config: { units: a.units, merge: a.merge, recurrent_activation: a.recurrent_activation, reset_after: a.reset_after, seed },
  }),
});
