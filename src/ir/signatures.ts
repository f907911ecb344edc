import type { OpName } from "./types.js";

/**
 * The one table of what every layer, call and setting accepts: types, ranges, defaults and the order of
 * positional arguments. The JSON Schema (schema/attnc-ir.schema.json) is generated from it, and lowering
 * fills defaults from it, so the two cannot disagree.
 */
export type Param =
  | { readonly type: "int"; readonly min?: number; readonly max?: number; readonly default?: number; readonly doc: string }
  | {
      readonly type: "number";
      readonly min?: number;
      readonly exclusiveMin?: number;
      readonly max?: number;
      readonly exclusiveMax?: number;
      readonly default?: number;
      readonly doc: string;
    }
  | { readonly type: "string"; readonly default?: string; readonly doc: string }
  /** A string, or a non-empty list of strings (`target: "a"` or `target: ["a", "b"]`). */
  | { readonly type: "strings"; readonly doc: string }
  | { readonly type: "bool"; readonly default?: boolean; readonly doc: string }
  | { readonly type: "enum"; readonly values: readonly string[]; readonly default?: string; readonly doc: string }
  | { readonly type: "list"; readonly items: Param; readonly minItems?: number; readonly default?: readonly never[]; readonly doc: string }
  | { readonly type: "call"; readonly family: CallFamily; readonly doc: string }
  | { readonly type: "record"; readonly record: Signature; readonly doc: string };

/** Named parameters, which of them are required, and the order positional arguments fill them in. */
export interface Signature {
  readonly params: { readonly [name: string]: Param };
  readonly required?: readonly string[];
  readonly positional?: readonly string[];
}

const int = (doc: string, o: { min?: number; max?: number; default?: number } = {}): Param => ({ type: "int", doc, ...o });
/**
 * Sizes are bounded by what trains in memory on one machine; the compiler refuses more (grammar/REFERENCE.md
 * lists each bound). Whole models are bounded further by their parameter count and activation memory
 * (src/ir/analyze.ts: MAX_PARAMS, MAX_ACTIVATION_BYTES).
 */
export const LIMITS = {
  /** Hidden and attention sizes, embedding size. */
  units: 4096,
  /** Output size of a dense layer (classes, for a classifier). */
  denseUnits: 100_000,
  /** Vocabulary of an embedding or a tokenizer. */
  vocab: 1_000_000,
  /** Sequence length: max_len, window size and every fixed dimension of an input. */
  length: 4096,
  batch: 65_536,
  epochs: 1_000_000,
  seed: 2 ** 31 - 1,
} as const;

const units = (doc: string, max: number = LIMITS.units): Param => int(doc, { min: 1, max });
const num = (doc: string, o: Omit<Extract<Param, { type: "number" }>, "type" | "doc"> = {}): Param => ({ type: "number", doc, ...o });
const str = (doc: string): Param => ({ type: "string", doc });
const bool = (doc: string, d?: boolean): Param => ({ type: "bool", doc, ...(d !== undefined ? { default: d } : {}) });
const oneOf = (values: readonly string[], doc: string, d?: string): Param => ({ type: "enum", values, doc, ...(d !== undefined ? { default: d } : {}) });

export const ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax"] as const;
export const MERGES = ["concat", "sum", "ave", "mul"] as const;
const recurrentActivation = oneOf(["sigmoid", "hard_sigmoid"], "gate activation s", "sigmoid");
const unitForgetBias = bool("initialise the forget gate bias to 1", true);

/** A family of calls that may stand in one value position, told apart by `kind`. */
export interface CallFamily {
  readonly name: string;
  readonly calls: { readonly [callee: string]: Signature };
}

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

export const SOURCE: CallFamily = {
  name: "data source",
  calls: Object.fromEntries(
    ["csv", "jsonl"].map((kind) => [
      kind,
      {
        params: {
          path: str("data file, relative to the spec"),
          text: str("text column (classification)"),
          label: str("label column (classification)"),
          time: str("time column (forecasting); rows must be in time order"),
          features: { type: "list", items: str("column"), minItems: 1, doc: "driving series columns (forecasting)" },
          target: { type: "strings", doc: "column to forecast, or a list of distinct columns to forecast together" },
          ...(kind === "csv" ? { delimiter: str("field delimiter: one character, not a quote or a line break; default ','") } : {}),
        },
        required: ["path"],
        positional: ["path"],
      } satisfies Signature,
    ]),
  ),
};

export const TOKENIZER: CallFamily = {
  name: "tokenizer",
  calls: Object.fromEntries(
    ["words", "chars"].map((kind) => [
      kind,
      {
        params: {
          lowercase: bool("lowercase before splitting", true),
          max_len: units("pad or truncate every sequence to this length", LIMITS.length),
          vocab: int("vocabulary size, padding and out-of-vocabulary ids included", { min: 3, max: LIMITS.vocab }),
          min_count: int("drop tokens seen fewer times in training", { min: 1, max: 2 ** 31 - 1, default: 1 }),
        },
        required: ["max_len"],
      } satisfies Signature,
    ]),
  ),
};

const lr = num("learning rate", { exclusiveMin: 0, default: 0.001 });
const clipnorm = num("clip each gradient to this L2 norm", { exclusiveMin: 0 });
export const OPTIMIZER: CallFamily = {
  name: "optimizer",
  calls: {
    adam: {
      params: {
        lr,
        beta1: num("first moment decay", { min: 0, exclusiveMax: 1, default: 0.9 }),
        beta2: num("second moment decay", { min: 0, exclusiveMax: 1, default: 0.999 }),
        epsilon: num("numerical stabiliser", { exclusiveMin: 0, default: 1e-7 }),
        clipnorm,
      },
      positional: ["lr"],
    },
    sgd: {
      params: { lr: num("learning rate", { exclusiveMin: 0, default: 0.01 }), momentum: num("momentum", { min: 0, exclusiveMax: 1, default: 0 }), clipnorm },
      positional: ["lr"],
    },
    rmsprop: { params: { lr, rho: num("decay", { min: 0, exclusiveMax: 1, default: 0.9 }), clipnorm }, positional: ["lr"] },
  },
};

/** Calendar cycles: `calendar: [hour, month]` adds hour_sin, hour_cos, month_sin, month_cos (docs/data.md). */
export const CALENDAR = ["hour", "weekday", "yearday", "month"] as const;

/** Features computed from a column's earlier rows: `derive: [diff("CO2"), lag("CO2", 12)]` adds CO2_diff, CO2_lag12. */
export const DERIVE: CallFamily = {
  name: "derived feature",
  calls: {
    diff: {
      params: { column: str("column c; the feature is c at the row minus c at the row before") },
      required: ["column"],
      positional: ["column"],
    },
    lag: {
      params: {
        column: str("column c; the feature is c k rows earlier"),
        steps: int("rows back, k", { min: 1, max: LIMITS.length }),
      },
      required: ["column", "steps"],
      positional: ["column", "steps"],
    },
  },
};

/** How a block setting is written: one value, or comma-separated clauses that fill a record. */
export interface SettingSignature {
  readonly param: Param;
  /** For records written as clauses (`window: 24, horizon 1`): which names bare clause values fill. */
  readonly positional?: readonly string[];
}

export const DATA_SETTINGS: Signature & { readonly clauses: { readonly [key: string]: readonly string[] } } = {
  params: {
    source: { type: "call", family: SOURCE, doc: "where the rows come from" },
    tokenizer: { type: "call", family: TOKENIZER, doc: "text to token ids" },
    split: {
      type: "record",
      doc: "train/validation/test fractions",
      record: {
        params: {
          order: oneOf(["shuffled", "chronological"], "shuffled with the seed, or in time order"),
          train: num("training fraction", { exclusiveMin: 0, max: 1 }),
          validation: num("validation fraction", { min: 0, exclusiveMax: 1, default: 0 }),
          test: num("test fraction", { min: 0, exclusiveMax: 1, default: 0 }),
          seed: int("shuffle seed", { min: 0, max: LIMITS.seed, default: 0 }),
        },
        required: ["train"],
      },
    },
    window: {
      type: "record",
      doc: "sliding windows over a time series",
      record: {
        params: {
          size: units("window length T", LIMITS.length),
          horizon: int("steps after the window's last one whose target is forecast (0: the last step's own target)", {
            min: 0,
            max: LIMITS.length,
            default: 1,
          }),
          stride: int("steps between windows", { min: 1, max: LIMITS.length, default: 1 }),
          predict: oneOf(
            ["value", "delta"],
            "forecast the target itself, or its change since the window's last step (each target's, for several); default delta when every target is one of the features and the horizon is 1 or more, else value",
          ),
          season: int("season length in steps for the seasonal naive baseline (default: from the time column's step)", {
            min: 1,
            max: 1_000_000,
          }),
          steps: oneOf(
            ["last", "all"],
            "which steps after the window are forecast: the step `horizon` only (last, the default), or every step 1..horizon (all); the model then outputs horizon x targets values",
          ),
        },
        required: ["size"],
      },
    },
    scale: oneOf(["standard", "minmax", "none"], "feature scaling, fitted on the training split only", "standard"),
    calendar: {
      type: "list",
      items: oneOf(CALENDAR, "a cycle of the time column's date (UTC)"),
      minItems: 1,
      doc: "features from the time column: <cycle>_sin and <cycle>_cos for each cycle, appended after the source's features",
    },
    derive: {
      type: "list",
      items: { type: "call", family: DERIVE, doc: "a derived feature" },
      minItems: 1,
      doc: "features computed from columns (diff, lag), appended after the calendar features",
    },
  },
  required: ["source"],
  clauses: { split: ["order"], window: ["size"] },
};

export const LOSSES = ["cross_entropy", "mse", "mae", "huber"] as const;
export const METRICS = ["accuracy", "macro_f1", "rmse", "mae", "mape"] as const;
export const MONITORS = ["loss", "val_loss", ...METRICS.map((m) => `val_${m}`)] as const;

export const TRAIN_SETTINGS: Signature & { readonly clauses: { readonly [key: string]: readonly string[] } } = {
  params: {
    loss: oneOf(LOSSES, "training loss"),
    optimizer: { type: "call", family: OPTIMIZER, doc: "optimizer and its settings" },
    batch: int("batch size", { min: 1, max: LIMITS.batch, default: 32 }),
    epochs: int("passes over the training split", { min: 1, max: LIMITS.epochs, default: 10 }),
    early_stop: {
      type: "record",
      doc: "stop when the monitored value stops improving",
      record: {
        params: {
          monitor: oneOf(MONITORS, "value to watch"),
          patience: int("epochs without improvement before stopping", { min: 0, max: LIMITS.epochs, default: 0 }),
          min_delta: num("smallest change that counts as improvement", { min: 0, default: 0 }),
        },
        required: ["monitor"],
      },
    },
    metrics: { type: "list", items: oneOf(METRICS, "metric"), default: [], doc: "reported each epoch" },
    seed: int("weight initialisation and shuffling seed", { min: 0, max: LIMITS.seed, default: 0 }),
    shuffle: bool("shuffle the training split each epoch", true),
  },
  required: ["loss"],
  clauses: { early_stop: ["monitor"] },
};
