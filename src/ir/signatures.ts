import type { OpName } from "./types.js";
import { boolParam, enumParam, LIMITS, numberParam, unitsParam, type CallFamily, type Param, type Signature } from "../runtime/settings.js";

/**
 * The one table of what every layer accepts: types, ranges, defaults and the order of positional arguments. The
 * data and train settings are declared in src/runtime/settings.ts (the runtime reads its configuration types from
 * them). The JSON Schema (schema/attnc-ir.schema.json) is generated from these tables, and lowering fills defaults
 * from them, so the two cannot disagree.
 */
export {
  CALENDAR,
  DATA_SETTINGS,
  DERIVE,
  LIMITS,
  LOSSES,
  METRICS,
  MONITORS,
  OPTIMIZER,
  SOURCE,
  TOKENIZER,
  TRAIN_SETTINGS,
  type BlockSettings,
  type CallFamily,
  type Param,
  type Signature,
} from "../runtime/settings.js";

const units = unitsParam;
const num = numberParam;
const bool = (doc: string, d?: boolean): Param => (d === undefined ? boolParam(doc) : boolParam(doc, d));
const oneOf = (values: readonly string[], doc: string, d?: string): Param => (d === undefined ? enumParam(values, doc) : enumParam(values, doc, d));

export const ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax"] as const;
export const MERGES = ["concat", "sum", "ave", "mul"] as const;
const recurrentActivation = oneOf(["sigmoid", "hard_sigmoid"], "gate activation s", "sigmoid");
const unitForgetBias = bool("initialise the forget gate bias to 1", true);

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

export const LAYERS: { readonly [op in OpName]: Signature } = {
  embedding: {
    params: {
      vocab: units("vocabulary size V, padding id 0 included", LIMITS.vocab),
      dim: units("embedding size E"),
      mask_zero: bool("treat id 0 as padding and pass a mask downstream", false),
    },
    required: ["vocab", "dim"],
    positional: ["vocab", "dim"],
  },
  lstm: {
    params: {
      units: units("hidden size H"),
      recurrent_activation: recurrentActivation,
      unit_forget_bias: unitForgetBias,
      input_attention: { type: "call", family: INPUT_ATTENTION, doc: "attention over the window's inputs at each step" },
    },
    required: ["units"],
    positional: ["units"],
  },
  bilstm: {
    params: {
      units: units("hidden size H of each direction"),
      merge: oneOf(MERGES, "how the two directions are combined", "concat"),
      recurrent_activation: recurrentActivation,
      unit_forget_bias: unitForgetBias,
    },
    required: ["units"],
    positional: ["units"],
  },
  attention_pool: {
    params: {
      units: units("attention size A (additive score only)"),
      score: oneOf(["additive", "zhou"], "additive: v . tanh(W h + b); zhou: w . tanh(h)", "additive"),
    },
    positional: ["units"],
  },
  last: { params: {} },
  mean_pool: { params: {} },
  max_pool: { params: {} },
  dropout: { params: { rate: num("fraction of units dropped in training", { min: 0, exclusiveMax: 1 }) }, required: ["rate"], positional: ["rate"] },
  dense: {
    params: { units: units("output size", LIMITS.denseUnits), activation: oneOf(ACTIVATIONS, "activation", "linear") },
    required: ["units"],
    positional: ["units", "activation"],
  },
};
