/** lstm(units): a recurrent layer over [B, T, F] -> [B, T, H], optionally with attention over its inputs. */
import type { IrNodeOf, IrWeight } from "./node.js";
import { bool, oneOf, units, type CallFamily, type Param } from "./params.js";
import { layerKind, pyArgs } from "./kind.js";

export const recurrentActivation: Param = oneOf(["sigmoid", "hard_sigmoid"], "gate activation s", "sigmoid");
export const unitForgetBias: Param = bool("initialise the forget gate bias to 1", true);

export const INPUT_ATTENTION: CallFamily = {
  name: "input attention",
  calls: {
    temporal: {
      params: {
        units: units("attention size A"),
        feed: oneOf(["concat", "replace"], "what the cell reads: [x_t ; x~_t] (concat), or x~_t alone (replace, the seed's form)", "concat"),
        position: oneOf(["offset", "none"], "a learned score bias per offset i - t (offset; needs a fixed T), or none (the seed's form)", "offset"),
      },
      required: ["units"],
      positional: ["units"],
    },
    features: { params: { units: units("attention size A") }, required: ["units"], positional: ["units"] },
  },
};

export type RecurrentActivation = "sigmoid" | "hard_sigmoid";
export type TemporalAttention = {
  readonly kind: "temporal";
  readonly units: number;
  readonly feed: "concat" | "replace";
  readonly position: "offset" | "none";
};
export type FeatureAttention = { readonly kind: "features"; readonly units: number };
export type InputAttention = TemporalAttention | FeatureAttention;

export type LstmAttrs = {
  readonly units: number;
  readonly recurrent_activation: RecurrentActivation;
  readonly unit_forget_bias: boolean;
  readonly input_attention?: InputAttention;
};
export type LstmNode = IrNodeOf<"lstm", LstmAttrs>;

const GATES = "gates i, f, g, o in blocks of H along the last axis";

/** One LSTM cell's weights (a bilstm has two, prefixed forward_ and backward_). */
export function cellWeights(F: number, H: number, unitForgetBias: boolean, prefix: string, direction: string): IrWeight[] {
  return [
    { name: `${prefix}kernel`, shape: [F, 4 * H], layout: `${direction}input weights W, x @ W; ${GATES}` },
    { name: `${prefix}recurrent_kernel`, shape: [H, 4 * H], layout: `${direction}recurrent weights U, h @ U; ${GATES}` },
    {
      name: `${prefix}bias`,
      shape: [4 * H],
      layout: `${direction}bias b; ${GATES}${unitForgetBias ? "; f block initialised to 1" : ""}`,
    },
  ];
}

export const lstm = layerKind<LstmNode>({
  ops: {
    lstm: {
      signature: {
        params: {
          units: units("hidden size H"),
          recurrent_activation: recurrentActivation,
          unit_forget_bias: unitForgetBias,
          input_attention: { type: "call", family: INPUT_ATTENTION, doc: "attention over the window's inputs at each step" },
        },
        required: ["units"],
        positional: ["units"],
      },
      summary: "i, f, o = s(W x_t + U h_{t-1} + b), g = tanh(...), c_t = f * c_{t-1} + i * g, h_t = o * tanh(c_t)",
      example: { input: "series", chain: "lstm(4, input_attention: temporal(2)) -> last" },
    },
  },
  families: [INPUT_ATTENTION],
  infer({ op, attrs: a }, x, ctx) {
    if (!ctx.needVectors(op, x) || !ctx.needSequence(op, x, "")) return undefined;
    const F = ctx.featureSize(op, x);
    if (F === undefined) return undefined;
    const B = x.shape[0]!;
    const H = a.units;
    const T = x.shape[1]!;
    const cell = cellWeights(F, H, a.unit_forget_bias === true, "", "");
    const att = a.input_attention;
    if (!att) return { shape: [B, T, H], mask: x.mask, weights: cell };
    const A = att.units;
    if (att.kind === "temporal") {
      const concat = att.feed === "concat";
      const offset = att.position === "offset";
      const Tp = ctx.size(T);
      if (offset && Tp === null) {
        ctx.report(
          "NeedsFixedLength",
          ctx.span(`${ctx.path}/attrs/input_attention`),
          `temporal input attention with position: offset learns a score bias per offset i - t, so T must have a size: give it in the input (T = 24), bind it with a data block's window, or write position: none`,
          { related: [{ message: `${x.name} has length ${String(T)}`, span: x.span }] },
        );
        return undefined;
      }
      return {
        shape: [B, T, H],
        mask: x.mask,
        weights: [
          ...cell,
          { name: "attention_W_h", shape: [H, A], layout: `e_{t,i} = v . tanh(h_{t-1} @ W_h + x_i @ W_x + b)${offset ? " + p_{i-t+T-1}" : ""}` },
          { name: "attention_W_x", shape: [F, A], layout: "x_i @ W_x, computed once per sequence" },
          { name: "attention_b", shape: [A], layout: "bias b of the score" },
          { name: "attention_v", shape: [A], layout: "score vector v" },
          ...(concat ? [{ name: "attention_kernel", shape: [F, 4 * H], layout: `x~_t's input weights W~, x~_t @ W~; ${GATES}; initialised to 0` }] : []),
          ...(offset ? [{ name: "attention_p", shape: [2 * Tp! - 1], layout: "score bias p per offset i - t, at index i - t + T - 1; initialised to 0" }] : []),
        ],
        ports: { weights: [B, T, T] },
      };
    }
    const Tn = ctx.size(T);
    if (Tn === null) {
      ctx.report(
        "NeedsFixedLength",
        ctx.span(`${ctx.path}/attrs/input_attention`),
        `feature input attention scores each series over the whole window, so T must have a size: give it in the input (T = 24) or bind it with a data block's window`,
        {
          related: [{ message: `${x.name} has length ${String(T)}`, span: x.span }],
        },
      );
      return undefined;
    }
    return {
      shape: [B, T, H],
      mask: x.mask,
      weights: [
        ...cell,
        { name: "attention_W_e", shape: [2 * H, A], layout: "e_t^k = v . tanh([h_{t-1}; c_{t-1}] @ W_e + x^k @ U_e)" },
        { name: "attention_U_e", shape: [Tn, A], layout: "x^k (series k over the window, length T) @ U_e" },
        { name: "attention_v", shape: [A], layout: "score vector v" },
      ],
      ports: { weights: [B, T, x.shape[2]!] },
    };
  },
  extraFloats({ attrs: a }, T, F) {
    let f = T * 6 * a.units; // gates (4H), cell and hidden state (2H) per step
    const att = a.input_attention;
    const A = att?.units ?? 0;
    if (att?.kind === "temporal") f += T * T * (A + 1);
    else if (att?.kind === "features" && F !== null) f += T * F * (A + 1);
    return f;
  },
  attention: ({ attrs: a }) => a.input_attention?.kind,
  equations({ attrs: a }) {
    const s = a.recurrent_activation === "hard_sigmoid" ? "hard_sigmoid" : "s";
    const cell = [`i, f, o = ${s}(x~_t W + h_{t-1} U + b) per gate, g = tanh(...); c_t = f c_{t-1} + i g; h_t = o tanh(c_t)`];
    const att = a.input_attention;
    if (!att) return [cell[0]!.replace(/x~_t/g, "x_t")];
    if (att.kind === "temporal") {
      const score = `e_{t,i} = v . tanh(W_h h_{t-1} + W_x x_i + b)${att.position === "offset" ? " + p_{i-t}" : ""}`;
      const mix = `${score}; a_t = softmax_i(e_t); x~_t = sum_i a_{t,i} x_i`;
      if (att.feed !== "concat") return [mix, ...cell];
      return [mix, cell[0]!.replace("x~_t W", "x_t W + x~_t W~")];
    }
    return [`e_t^k = v . tanh(W_e [h_{t-1}; c_{t-1}] + U_e x^k); alpha_t = softmax_k(e_t); x~_t = alpha_t * x_t`, ...cell];
  },
  runtimeClass: "Lstm",
  runtime({ attrs: a }) {
    const att = a.input_attention;
    return {
      config: {
        units: a.units,
        recurrentActivation: a.recurrent_activation,
        unitForgetBias: a.unit_forget_bias,
        inputAttention:
          att &&
          (att.kind === "temporal" ? { kind: att.kind, units: att.units, feed: att.feed, position: att.position } : { kind: att.kind, units: att.units }),
      },
      seeded: true,
    };
  },
  pytorch: ({ attrs: a }, ctx) => ({
    fn: "rt.Lstm",
    args: [
      `features=${ctx.features()}`,
      `steps=${ctx.literal(ctx.steps())}`,
      ...pyArgs(ctx, a, ["units", "recurrent_activation", "unit_forget_bias", "input_attention"]),
      ctx.seed,
    ],
  }),
  topology: ({ attrs: a }, seed) => ({
    className: "AttnLSTM",
    config: {
      units: a.units,
      recurrent_activation: a.recurrent_activation,
      unit_forget_bias: a.unit_forget_bias,
      input_attention: a.input_attention ?? null,
      seed,
    },
  }),
});
