/**
 * How every layer, call and setting says what it accepts: types, ranges, defaults and the order of positional
 * arguments. The layers' signatures (src/layers, through the registry) and the data and train settings
 * (src/ir/signatures.ts) are written with these; the JSON Schema (schema/attnc-ir.schema.json) is generated from
 * them, and lowering fills defaults from them, so the two cannot disagree.
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

export const int = (doc: string, o: { min?: number; max?: number; default?: number } = {}): Param => ({ type: "int", doc, ...o });
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

export const units = (doc: string, max: number = LIMITS.units): Param => int(doc, { min: 1, max });
export const num = (doc: string, o: Omit<Extract<Param, { type: "number" }>, "type" | "doc"> = {}): Param => ({ type: "number", doc, ...o });
export const str = (doc: string): Param => ({ type: "string", doc });
export const bool = (doc: string, d?: boolean): Param => ({ type: "bool", doc, ...(d !== undefined ? { default: d } : {}) });
export const oneOf = (values: readonly string[], doc: string, d?: string): Param => ({ type: "enum", values, doc, ...(d !== undefined ? { default: d } : {}) });

/** A family of calls that may stand in one value position, told apart by `kind`. */
export interface CallFamily {
  readonly name: string;
  readonly calls: { readonly [callee: string]: Signature };
}
