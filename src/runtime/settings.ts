/**
 * The data and train settings, declared once: what each setting of a spec's data and train blocks accepts (types,
 * ranges, defaults, the order of positional arguments and the words of the reference), and the configuration types
 * the runtime reads, derived from the same tables. The compiler validates and fills defaults from these tables
 * (src/ir), the JSON Schema of the IR is generated from them, and the runtime and the generated programs take
 * their `DataConfig` and `TrainConfig` types from them, so a setting and its default live in one place. Layer
 * arguments use the same `Param` language (src/ir/signatures.ts). The runtime carries this file: it imports only
 * the runtime's ridge.ts (the window size a linear forecast allows).
 */
import { RIDGE_MAX_INPUTS } from "./ridge.js";

/** One parameter: its type, range, default and the sentence the reference shows. */
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

/** A family of calls that may stand in one value position, told apart by `kind`. */
export interface CallFamily {
  readonly name: string;
  readonly calls: { readonly [callee: string]: Signature };
}

/** A block's settings: a signature, plus which names bare clause values fill (`window: 24, horizon 1`). */
export interface BlockSettings extends Signature {
  readonly clauses: { readonly [key: string]: readonly string[] };
}

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

// ---- parameter builders (they keep literal types, so that the configuration types below can be derived)

type Bounds = { readonly min?: number; readonly max?: number };

export function intParam<const O extends Bounds & { readonly default?: number }>(
  doc: string,
  o: O = {} as O,
): { readonly type: "int"; readonly doc: string } & O {
  return { type: "int", doc, ...o };
}

export function numberParam<const O extends Bounds & { readonly exclusiveMin?: number; readonly exclusiveMax?: number; readonly default?: number }>(
  doc: string,
  o: O = {} as O,
): { readonly type: "number"; readonly doc: string } & O {
  return { type: "number", doc, ...o };
}

/** A size from 1 to `max`. */
export function unitsParam(doc: string, max: number = LIMITS.units) {
  return intParam(doc, { min: 1, max });
}

export function stringParam(doc: string): { readonly type: "string"; readonly doc: string } {
  return { type: "string", doc };
}

export function boolParam(doc: string): { readonly type: "bool"; readonly doc: string };
export function boolParam<const D extends boolean>(doc: string, d: D): { readonly type: "bool"; readonly doc: string; readonly default: D };
export function boolParam(doc: string, d?: boolean): Param {
  return { type: "bool", doc, ...(d !== undefined ? { default: d } : {}) };
}

export function enumParam<const V extends readonly string[]>(values: V, doc: string): { readonly type: "enum"; readonly values: V; readonly doc: string };
export function enumParam<const V extends readonly string[], const D extends V[number]>(
  values: V,
  doc: string,
  d: D,
): { readonly type: "enum"; readonly values: V; readonly doc: string; readonly default: D };
export function enumParam(values: readonly string[], doc: string, d?: string): Param {
  return { type: "enum", values, doc, ...(d !== undefined ? { default: d } : {}) };
}

// ---- configuration types derived from the tables

/** The value a parameter holds once validated and filled with its defaults. */
export type ParamValue<P> = P extends { readonly type: "int" | "number" }
  ? number
  : P extends { readonly type: "string" }
    ? string
    : P extends { readonly type: "strings" }
      ? string | string[]
      : P extends { readonly type: "bool" }
        ? boolean
        : P extends { readonly type: "enum"; readonly values: readonly (infer V)[] }
          ? V
          : P extends { readonly type: "list"; readonly items: infer I }
            ? ParamValue<I>[]
            : P extends { readonly type: "record"; readonly record: infer S }
              ? SettingsOf<S>
              : P extends { readonly type: "call"; readonly family: { readonly calls: infer C } }
                ? { [K in keyof C & string]: { kind: K } & SettingsOf<C[K]> }[keyof C & string]
                : never;

type ParamsOf<S> = S extends { readonly params: infer P } ? P : never;
type RequiredOf<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;
/** The names that always hold a value after defaults: the required ones and the ones with a default. */
type Present<S> = {
  [K in keyof ParamsOf<S>]: K extends RequiredOf<S> ? K : ParamsOf<S>[K] extends { readonly default: unknown } ? K : never;
}[keyof ParamsOf<S>];

type Flatten<T> = { [K in keyof T]: T[K] };

/** The settings a signature describes, as the runtime reads them: defaults filled, optional ones optional. */
export type SettingsOf<S> = Flatten<
  { -readonly [K in Present<S> & keyof ParamsOf<S>]: ParamValue<ParamsOf<S>[K]> } & {
    -readonly [K in Exclude<keyof ParamsOf<S>, Present<S>>]?: ParamValue<ParamsOf<S>[K]>;
  }
>;

// ---- the data block

const columnParam = (doc: string) => stringParam(doc);

function sourceSignature<const K extends "csv" | "jsonl">(kind: K) {
  const common = {
    path: stringParam("data file, relative to the spec"),
    text: columnParam("text column (classification)"),
    label: columnParam("label column (classification)"),
    time: columnParam("time column (forecasting); rows must be in time order"),
    features: { type: "list", items: columnParam("column"), minItems: 1, doc: "driving series columns (forecasting)" },
    target: { type: "strings", doc: "column to forecast, or a list of distinct columns to forecast together" },
  } as const;
  const delimiter = { delimiter: stringParam("field delimiter: one character, not a quote or a line break; default ','") };
  return {
    params: (kind === "csv" ? { ...common, ...delimiter } : common) as typeof common & Partial<typeof delimiter>,
    required: ["path"],
    positional: ["path"],
  } as const;
}

export const SOURCE = {
  name: "data source",
  calls: { csv: sourceSignature("csv"), jsonl: sourceSignature("jsonl") },
} as const satisfies CallFamily;

function tokenizerSignature() {
  return {
    params: {
      lowercase: boolParam("lowercase before splitting", true),
      max_len: unitsParam("pad or truncate every sequence to this length", LIMITS.length),
      vocab: intParam("vocabulary size, padding and out-of-vocabulary ids included", { min: 3, max: LIMITS.vocab }),
      min_count: intParam("drop tokens seen fewer times in training", { min: 1, max: 2 ** 31 - 1, default: 1 }),
    },
    required: ["max_len"],
  } as const;
}

export const TOKENIZER = {
  name: "tokenizer",
  calls: { words: tokenizerSignature(), chars: tokenizerSignature() },
} as const satisfies CallFamily;

/** Calendar cycles: `calendar: [hour, month]` adds hour_sin, hour_cos, month_sin, month_cos (docs/data.md). */
export const CALENDAR = ["hour", "weekday", "yearday", "month"] as const;

/** Features computed from a column's earlier rows: `derive: [diff("CO2"), lag("CO2", 12)]` adds CO2_diff, CO2_lag12. */
export const DERIVE = {
  name: "derived feature",
  calls: {
    diff: {
      params: { column: stringParam("column c; the feature is c at the row minus c at the row before") },
      required: ["column"],
      positional: ["column"],
    },
    lag: {
      params: {
        column: stringParam("column c; the feature is c k rows earlier"),
        steps: intParam("rows back, k", { min: 1, max: LIMITS.length }),
      },
      required: ["column", "steps"],
      positional: ["column", "steps"],
    },
  },
} as const satisfies CallFamily;

export const DATA_SETTINGS = {
  params: {
    source: { type: "call", family: SOURCE, doc: "where the rows come from" },
    tokenizer: { type: "call", family: TOKENIZER, doc: "text to token ids" },
    split: {
      type: "record",
      doc: "train/validation/test fractions; without it, train 0.8, validation 0.1, test 0.1, chronological for a series and shuffled for text",
      record: {
        params: {
          order: enumParam(["shuffled", "chronological"], "shuffled with the seed, or in time order; default chronological for a series, shuffled for text"),
          train: numberParam("training fraction", { exclusiveMin: 0, max: 1 }),
          validation: numberParam("validation fraction", { min: 0, exclusiveMax: 1, default: 0 }),
          test: numberParam("test fraction", { min: 0, exclusiveMax: 1, default: 0 }),
          seed: intParam("shuffle seed", { min: 0, max: LIMITS.seed, default: 0 }),
        },
        required: ["train"],
      },
    },
    window: {
      type: "record",
      doc: "sliding windows over a time series",
      record: {
        params: {
          size: unitsParam("window length T", LIMITS.length),
          horizon: intParam("steps after the window's last one whose target is forecast (0: the last step's own target)", {
            min: 0,
            max: LIMITS.length,
            default: 1,
          }),
          stride: intParam("steps between windows", { min: 1, max: LIMITS.length, default: 1 }),
          predict: enumParam(
            ["value", "delta", "residual"],
            "forecast the target itself, its change since the window's last step (each target's, for several), or its difference from a linear forecast of the window (ridge regression fitted on the training windows, at most 512 window inputs); default residual when the horizon is 1 or more and the window has at most 512 inputs (T x F), else delta when every target is one of the features and the horizon is 1 or more, else value",
          ),
          season: intParam("season length in steps for the seasonal naive baseline (default: from the time column's step)", {
            min: 1,
            max: 1_000_000,
          }),
          steps: enumParam(
            ["last", "all"],
            "which steps after the window are forecast: the step `horizon` only (last, the default), or every step 1..horizon (all); the model then outputs horizon x targets values",
          ),
        },
        required: ["size"],
      },
    },
    scale: enumParam(["standard", "minmax", "none"], "feature scaling, fitted on the training split only", "standard"),
    calendar: {
      type: "list",
      items: enumParam(CALENDAR, "a cycle of the time column's date (UTC)"),
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
} as const satisfies BlockSettings;

type FilledData = SettingsOf<typeof DATA_SETTINGS>;
/**
 * A data block as the runtime reads it (defaults filled). `scale` is filled for a series only: a text block's IR
 * leaves it out, so a reader takes `seriesScale(config)`.
 */
export type DataSettings = Flatten<Omit<FilledData, "scale"> & { scale?: FilledData["scale"] }>;

/** The scaling of a series' features: the block's, else the table's default. */
export function seriesScale(config: DataSettings): FilledData["scale"] {
  return config.scale ?? DATA_SETTINGS.params.scale.default;
}
export type SplitSettings = NonNullable<DataSettings["split"]>;
export type WindowSettings = NonNullable<DataSettings["window"]>;

/** The split of a data block without a split setting (the split setting's doc says the same). */
export function defaultSplit(series: boolean): Required<SplitSettings> {
  return { order: series ? "chronological" : "shuffled", train: 0.8, validation: 0.1, test: 0.1, seed: 0 };
}

/**
 * The window's `predict` when the spec leaves it out (the setting's doc says the same): for a forecast (horizon 1
 * or more) residual when the window has at most RIDGE_MAX_INPUTS inputs (T x F), so that the model starts from
 * the linear baseline; else delta when the target (every target, for several) is one of the series' features and
 * the horizon is 1 or more; else value.
 */
export function defaultPredict(targetIsFeature: boolean, horizon: number, windowInputs: number): "value" | "delta" | "residual" {
  if (horizon >= 1 && windowInputs <= RIDGE_MAX_INPUTS) return "residual";
  return targetIsFeature && horizon >= 1 ? "delta" : "value";
}

// ---- the train block

const learningRate = numberParam("learning rate", { exclusiveMin: 0, default: 0.001 });
const clipnorm = numberParam("clip each gradient to this L2 norm", { exclusiveMin: 0 });
export const OPTIMIZER = {
  name: "optimizer",
  calls: {
    adam: {
      params: {
        lr: learningRate,
        beta1: numberParam("first moment decay", { min: 0, exclusiveMax: 1, default: 0.9 }),
        beta2: numberParam("second moment decay", { min: 0, exclusiveMax: 1, default: 0.999 }),
        epsilon: numberParam("numerical stabiliser", { exclusiveMin: 0, default: 1e-7 }),
        clipnorm,
      },
      positional: ["lr"],
    },
    sgd: {
      params: {
        lr: numberParam("learning rate", { exclusiveMin: 0, default: 0.01 }),
        momentum: numberParam("momentum", { min: 0, exclusiveMax: 1, default: 0 }),
        clipnorm,
      },
      positional: ["lr"],
    },
    rmsprop: { params: { lr: learningRate, rho: numberParam("decay", { min: 0, exclusiveMax: 1, default: 0.9 }), clipnorm }, positional: ["lr"] },
  },
} as const satisfies CallFamily;

export const LOSSES = ["cross_entropy", "mse", "mae", "huber"] as const;
export const METRICS = ["accuracy", "macro_f1", "rmse", "mae", "mape"] as const;
export const MONITORS = ["loss", "val_loss", ...METRICS.map((m) => `val_${m}` as const)] as const;

export const TRAIN_SETTINGS = {
  params: {
    loss: enumParam(LOSSES, "training loss"),
    optimizer: { type: "call", family: OPTIMIZER, doc: "optimizer and its settings; default adam with its defaults" },
    batch: intParam("batch size", { min: 1, max: LIMITS.batch, default: 32 }),
    epochs: intParam("passes over the training split", { min: 1, max: LIMITS.epochs, default: 10 }),
    early_stop: {
      type: "record",
      doc: "stop when the monitored value stops improving",
      record: {
        params: {
          monitor: enumParam(MONITORS, "value to watch"),
          patience: intParam("epochs without improvement before stopping", { min: 0, max: LIMITS.epochs, default: 0 }),
          min_delta: numberParam("smallest change that counts as improvement", { min: 0, default: 0 }),
        },
        required: ["monitor"],
      },
    },
    metrics: { type: "list", items: enumParam(METRICS, "metric"), default: [], doc: "reported each epoch" },
    seed: intParam("weight initialisation and shuffling seed", { min: 0, max: LIMITS.seed, default: 0 }),
    shuffle: boolParam("shuffle the training split each epoch", true),
  },
  required: ["loss"],
  clauses: { early_stop: ["monitor"] },
} as const satisfies BlockSettings;

/** A train block as the runtime reads it (defaults filled). */
export type TrainSettings = SettingsOf<typeof TRAIN_SETTINGS>;
export type OptimizerSettings = NonNullable<TrainSettings["optimizer"]>;

/** The optimizer of a train block without one (the setting's doc says the same). */
export function defaultOptimizer(): OptimizerSettings {
  return withDefaults({ kind: "adam" }, OPTIMIZER.calls.adam) as OptimizerSettings;
}

// ---- defaults

type Settable = { [key: string]: unknown };

/**
 * Fills every absent parameter that has a default, recursively (records, and calls by their `kind`), in place,
 * and returns the object. The compiler runs it on validated IR; the runtime on configurations given from code.
 */
export function withDefaults<T extends object>(obj: T, sig: Signature): T {
  const o = obj as Settable;
  for (const [key, p] of Object.entries(sig.params)) {
    const v = Object.hasOwn(o, key) ? o[key] : undefined;
    if (v === undefined) {
      if ("default" in p && p.default !== undefined) o[key] = Array.isArray(p.default) ? [] : p.default;
      continue;
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) continue;
    if (p.type === "record") withDefaults(v, p.record);
    else if (p.type === "call") {
      const kind = (v as Settable)["kind"];
      const calls = p.family.calls;
      if (typeof kind === "string" && Object.hasOwn(calls, kind)) withDefaults(v, calls[kind]!);
    }
  }
  return obj;
}
