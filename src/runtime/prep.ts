/**
 * The fitted preprocessing a model directory records (attnc.json `prep`) and what turns a request into model
 * input and a model output back into data units: the tokenizer, the vocabulary lookup, the scaler. No Node
 * built-ins: the library's browser entry uses it as the training pipeline does (docs/data.md).
 */
import type { DeriveSpec } from "./derive.js";
import { ridgePredict } from "./ridge.js";

export type Split = "train" | "validation" | "test";
export const SPLITS: readonly Split[] = ["train", "validation", "test"];

export const PAD = "<pad>";
export const OOV = "<oov>";

/** Fitted text preprocessing: ids are positions in `vocab` (0 padding, 1 out of vocabulary). */
export interface TextPrep {
  kind: "text";
  tokenizer: "words" | "chars";
  lowercase: boolean;
  maxLen: number;
  vocab: string[];
  labels: string[];
  textColumn: string;
  labelColumn: string;
  split: { order: "shuffled" | "chronological"; train: number; validation: number; test: number; seed: number };
  rows: number;
  /** Examples per split. */
  counts: Record<Split, number>;
}

/** Fitted series preprocessing: x' = (x - offset) / scale per feature, fitted on the training rows only. */
export interface SeriesPrep {
  kind: "series";
  /** The model's F input columns: the source's features, then the derived ones (calendar, then derive). */
  features: string[];
  /** The column forecast, or the K columns (a list, in the spec's order) when there are several. */
  target: string | string[];
  time: string | null;
  window: number;
  horizon: number;
  /** "all": every step 1..horizon is forecast; absent (or "last"): only the step `horizon` after the window. */
  steps?: "last" | "all";
  stride: number;
  scaling: "standard" | "minmax" | "none";
  offset: number[];
  scale: number[];
  /**
   * What the model's output means: the target, its change since the window's last step, or its difference from
   * the linear forecast `linear` (residual).
   */
  predict: "value" | "delta" | "residual";
  /** For predict residual: the linear forecast of every output from the scaled window (see LinearForecast). */
  linear?: LinearForecast;
  /**
   * Scaling of the model's output (of the target, or of its change): one number for a model of one output, else
   * one per output in the output's order (step-major: index (s - 1) * K + k is target k at the s-th step forecast).
   */
  targetOffset: number | number[];
  targetScale: number | number[];
  split: { order: "shuffled" | "chronological"; train: number; validation: number; test: number; seed: number };
  rows: number;
  /** Windows per split. */
  counts: Record<Split, number>;
  /** The season of the seasonal naive baseline (see baselines.ts); absent in model directories written before it. */
  season?: SeasonInfo;
  /** Calendar cycles and derived features, as the data block gives them (absent in model directories written before them). */
  calendar?: string[];
  derive?: DeriveSpec[];
}

/**
 * A linear forecast of each output in the data's units from the model's scaled window x (T x F, flattened):
 * weights[o * (T F + 1) + i] x_i summed over i, plus the bias weights[o * (T F + 1) + T F]: ridge regression
 * fitted on the training windows, its L2 weight `lambda` chosen on the validation windows (data.ts).
 */
export interface LinearForecast {
  lambda: number;
  weights: number[];
}

/** A season length in steps and where it came from: the spec, or the time column's median step (null: none). */
export interface SeasonInfo {
  period: number | null;
  source: "spec" | "time";
  /** For a season from the time column: the step it found (hourly, daily, weekly, monthly, quarterly, yearly, unknown; none without a time column). */
  step?: string;
}

export type Prep = TextPrep | SeriesPrep;

// ---- text

/** A word: letters (with their combining marks) and digits, then any apostrophe + letters parts. */
const WORD = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}]+)*/gu;

/** Text to tokens; the text is first put in Unicode normal form C, so "café" is one token however it was typed. */
export function tokenize(prep: Pick<TextPrep, "tokenizer" | "lowercase">, text: string): string[] {
  const nfc = text.normalize("NFC");
  const t = prep.lowercase ? nfc.toLowerCase() : nfc;
  return prep.tokenizer === "chars" ? Array.from(t) : (t.match(WORD) ?? []);
}

/** Token ids, truncated to max_len (the first tokens are kept) and padded with 0 at the end. */
export function encodeText(prep: TextPrep, text: string, index?: Map<string, number>): Int32Array {
  const ids = index ?? vocabIndex(prep);
  const out = new Int32Array(prep.maxLen);
  const toks = tokenize(prep, text);
  for (let i = 0; i < Math.min(toks.length, prep.maxLen); i++) out[i] = ids.get(toks[i]!) ?? 1;
  return out;
}

const indexCache = new WeakMap<TextPrep, Map<string, number>>();
export function vocabIndex(prep: TextPrep): Map<string, number> {
  let m = indexCache.get(prep);
  if (!m) {
    m = new Map(prep.vocab.map((w, i) => [w, i]));
    indexCache.set(prep, m);
  }
  return m;
}

/** Raw feature rows (T x F) to the model's scaled input. */
export function scaleWindow(prep: SeriesPrep, rows: readonly (readonly number[])[]): Float32Array {
  const F = prep.features.length;
  const out = new Float32Array(prep.window * F);
  rows.forEach((r, t) => r.forEach((v, k) => (out[t * F + k] = (v - prep.offset[k]!) / prep.scale[k]!)));
  return out;
}

// ---- outputs of a forecaster: S steps x K targets

/** The target columns, in output order (one for a single target). */
export function targetColumns(prep: { target: string | readonly string[] }): string[] {
  return typeof prep.target === "string" ? [prep.target] : [...prep.target];
}

/** The steps after the window's last one that the outputs forecast: 1..horizon with `steps all`, else the horizon. */
export function outputSteps(prep: { horizon: number; steps?: "last" | "all" | undefined }): number[] {
  return prep.steps === "all" ? Array.from({ length: prep.horizon }, (_, i) => i + 1) : [prep.horizon];
}

/**
 * Whether answers are lists (one per step, each the targets' values): with `steps all` or a target list, even of
 * one output; a single target at a single step answers a bare number.
 */
export function nestedOutputs(prep: { steps?: "last" | "all" | undefined; target: string | readonly string[] }): boolean {
  return prep.steps === "all" || typeof prep.target !== "string";
}

/** S * K: the model's output width. */
export function outputCount(prep: { horizon: number; steps?: "last" | "all" | undefined; target: string | readonly string[] }): number {
  return outputSteps(prep).length * targetColumns(prep).length;
}

/** Output o's step (after the window's last) and target column. */
export function outputOf(prep: Pick<SeriesPrep, "horizon" | "steps" | "target">, o: number): { step: number; target: string } {
  const targets = targetColumns(prep);
  const K = targets.length;
  return { step: outputSteps(prep)[Math.floor(o / K)]!, target: targets[o % K]! };
}

/** Output o's offset and scale (a single-output model's numbers, or entry o of the lists). */
export function outputScaling(prep: Pick<SeriesPrep, "targetOffset" | "targetScale">, o: number): { offset: number; scale: number } {
  const at = (v: number | number[]): number => (typeof v === "number" ? v : v[o]!);
  return { offset: at(prep.targetOffset), scale: at(prep.targetScale) };
}

/** Output o's linear forecast from the scaled window x (float64 sums over float32 inputs). */
export function linearForecast(linear: LinearForecast, x: ArrayLike<number>, o: number): number {
  return ridgePredict(linear.weights, x, o);
}

/**
 * What each output's unscaled value is added to (an example's `base`, one per output): target k's value at the
 * window's last step for predict delta (`last(k)`, read only then), the output's linear forecast from the scaled
 * window x for predict residual, else 0.
 */
export function outputBases(prep: SeriesPrep, x: ArrayLike<number>, last: (k: number) => number): number[] {
  const K = targetColumns(prep).length;
  const O = outputCount(prep);
  if (prep.predict === "delta") {
    const lasts = Array.from({ length: K }, (_, k) => last(k));
    return Array.from({ length: O }, (_, o) => lasts[o % K]!);
  }
  const linear = prep.predict === "residual" ? prep.linear : undefined;
  if (prep.predict === "residual" && !linear) throw new Error("a residual forecaster's preprocessing has no linear forecast");
  return Array.from({ length: O }, (_, o) => (linear ? linearForecast(linear, x, o) : 0));
}

/**
 * A model output (or scaled target) back in the data's units; `base` is what the output is added to (see
 * outputBases; ignored for predict value); `o` the output's index.
 */
export function unscaleTarget(prep: SeriesPrep, v: number, base = 0, o = 0): number {
  const { offset, scale } = outputScaling(prep, o);
  return v * scale + offset + (prep.predict === "value" ? 0 : base);
}

/** All outputs of one window back in the data's units; `bases[o]` is output o's base (outputBases). */
export function unscaleOutputs(prep: SeriesPrep, out: ArrayLike<number>, bases: ArrayLike<number>): number[] {
  return Array.from({ length: out.length }, (_, o) => unscaleTarget(prep, out[o]!, bases[o] ?? 0, o));
}
