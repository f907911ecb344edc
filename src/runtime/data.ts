/**
 * Data preparation exactly as a spec's data block says, streamed: the file is read once to fit the
 * preprocessing (vocabulary and labels from the training split only; scaling statistics from the training
 * rows only) and once per pass for batches, so memory depends on the batch and shuffle-buffer sizes, not on
 * the number of rows. Only Node built-ins and tfjs.
 */
import * as tf from "@tensorflow/tfjs";
import { DataError, readRows, type CellValue, type Row } from "./csv.js";
import { cellTypeProblem, dataNumber, shownValue, splitOf, splitWithDefaults, timeKey, timeOrderProblem, type SplitConfig } from "./cells.js";
import { calendarTime, calendarValues, DeriveHistory, derivedNames, historyRows, isWindowRow, type DeriveSpec } from "./derive.js";
import { defaultPredict, seriesScale, type DataSettings } from "./settings.js";
import { fitRidge, RIDGE_MAX_INPUTS } from "./ridge.js";
import {
  encodeText,
  linearForecast,
  OOV,
  outputBases,
  outputCount,
  outputScaling,
  outputSteps,
  PAD,
  targetColumns,
  tokenize,
  vocabIndex,
  type Prep,
  type SeriesPrep,
  type Split,
  type TextPrep,
} from "./prep.js";

/** A data block as the runtime reads it: the settings table of settings.ts, defaults filled. */
export type DataConfig = DataSettings;

/** Where the file is and how messages name it. */
export interface DataFile {
  readonly path: string;
  readonly display: string;
}

/** One example: model input values and the target (class id, or the scaled value of each output). */
export interface Example {
  x: Int32Array | Float32Array;
  /** [class id] for text; a forecaster's S * K scaled outputs, step-major (see prep.ts, outputOf). */
  y: number[];
  /** What each output is added to back in the data's units (prep.ts, outputBases); empty for text. */
  base: number[];
  line: number;
}

// ---- deterministic randomness

/** mulberry32: a small seeded PRNG, the same on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The largest magnitude of a scaled value (a feature, or a target output, in units of its training scale): the
 * square of one beyond it, summed over a batch, would overflow the float32 loss (a value 1e15 standard deviations
 * from the training rows' mean is outside anything the model was fitted on).
 */
export const SCALED_LIMIT = 1e15;

function scaledTooFar(what: string, v: number): string {
  return `scaled by the training rows' statistics, this ${what} is ${v.toPrecision(3)}, beyond ±1e15 (its squared error would overflow the float32 loss)`;
}

function located(file: DataFile, row: Row, column: string, detail: string): DataError {
  return new DataError(file.display, row.line, `column ${JSON.stringify(column)}`, detail);
}

function present(row: Row, column: string, file: DataFile): CellValue {
  const v = row.values.get(column);
  if (v === undefined) throw located(file, row, column, "missing: the data block names this column, but the row does not have it");
  if (v === null) throw located(file, row, column, "is null");
  return v;
}

/** A text or label cell: a string (JSONL numbers, booleans, objects and arrays are refused, not converted). */
function cell(row: Row, column: string, file: DataFile): string {
  const v = present(row, column, file);
  const problem = cellTypeProblem(v, "text");
  if (problem !== null) throw located(file, row, column, problem);
  return v as string;
}

/** A time cell: a string, or a JSONL number. */
export function timeCell(row: Row, column: string, file: DataFile): string {
  const v = present(row, column, file);
  const problem = cellTypeProblem(v, "time");
  if (problem !== null) throw located(file, row, column, problem);
  return typeof v === "number" ? String(v) : (v as string);
}

/** Reads each row's time cell and checks that it comes after the previous row's (timeOrderProblem); returns the cell as text. */
export function timeOrder(time: string, file: DataFile): (row: Row) => string {
  let prevTime: number | string | null = null;
  let prevRaw = "";
  return (row) => {
    const raw = timeCell(row, time, file);
    const t = timeKey(raw);
    const problem = timeOrderProblem(t, raw, prevTime, prevRaw);
    if (problem !== null) throw new DataError(file.display, row.line, `column ${JSON.stringify(time)}`, problem);
    prevTime = t;
    prevRaw = raw;
    return raw;
  };
}

export function checkColumns(first: Row | undefined, columns: string[], file: DataFile): void {
  if (!first) throw new DataError(file.display, null, null, "the file has no data rows");
  for (const c of columns) {
    if (!first.values.has(c)) {
      const have = [...first.values.keys()];
      throw new DataError(
        file.display,
        first.header ?? first.line,
        `column ${JSON.stringify(c)}`,
        `no such column; the file has ${have.map((h) => JSON.stringify(h)).join(", ")}`,
      );
    }
  }
}

async function countRows(config: DataConfig, file: DataFile): Promise<number> {
  let n = 0;
  for await (const _ of readRows(config.source, file.path, file.display)) n++;
  return n;
}

function splitConfig(config: DataConfig, series: boolean): SplitConfig {
  return splitWithDefaults(config.split, series);
}

async function fitText(config: DataConfig, file: DataFile): Promise<TextPrep> {
  const tok = config.tokenizer!;
  const textColumn = config.source.text!;
  const labelColumn = config.source.label!;
  const split = splitConfig(config, false);
  // Only a chronological split needs the row count up front; a shuffled one hashes each row's index.
  let rows = split.order === "chronological" ? await countRows(config, file) : 0;
  const tokenCounts = new Map<string, number>();
  const labels = new Set<string>();
  const prep0 = { tokenizer: tok.kind, lowercase: tok.lowercase };
  let index = 0;
  let first: Row | undefined;
  for await (const row of readRows(config.source, file.path, file.display)) {
    if (!first) {
      first = row;
      checkColumns(first, [textColumn, labelColumn], file);
    }
    const label = cell(row, labelColumn, file).trim();
    if (label === "") throw new DataError(file.display, row.line, `column ${JSON.stringify(labelColumn)}`, "the label is empty");
    const text = cell(row, textColumn, file);
    if (splitOf(split, index++, rows) === "train") {
      labels.add(label);
      for (const t of tokenize(prep0, text)) tokenCounts.set(t, (tokenCounts.get(t) ?? 0) + 1);
    }
  }
  checkColumns(first, [textColumn, labelColumn], file);
  rows = index;
  // A second pass, so that a label the model never learns is reported before training, still without holding rows.
  index = 0;
  for await (const row of readRows(config.source, file.path, file.display)) {
    const label = cell(row, labelColumn, file).trim();
    if (splitOf(split, index++, rows) !== "train" && !labels.has(label)) {
      throw new DataError(
        file.display,
        row.line,
        `column ${JSON.stringify(labelColumn)}`,
        `label ${JSON.stringify(label)} never appears in the training split`,
      );
    }
  }
  if (labels.size < 2)
    throw new DataError(
      file.display,
      null,
      `column ${JSON.stringify(labelColumn)}`,
      `the training split has ${labels.size} label${labels.size === 1 ? "" : "s"}; classification needs at least 2`,
    );
  const words = [...tokenCounts].filter(([, c]) => c >= tok.min_count).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  // The compiler fills a tokenizer's vocab from the model's embedding; a configuration given from code must say it.
  if (tok.vocab === undefined) throw new DataError(file.display, null, null, "the data block's tokenizer has no vocab size");
  const vocab = [PAD, OOV, ...words.slice(0, Math.max(0, tok.vocab - 2)).map(([w]) => w)];
  const counts: Record<Split, number> = { train: 0, validation: 0, test: 0 };
  for (let i = 0; i < rows; i++) counts[splitOf(split, i, rows)]++;
  return {
    kind: "text",
    tokenizer: tok.kind,
    lowercase: tok.lowercase,
    maxLen: tok.max_len,
    vocab,
    labels: [...labels].sort(),
    textColumn,
    labelColumn,
    split,
    rows,
    counts,
  };
}

// ---- series

export function number(row: Row, column: string, file: DataFile): number {
  const raw = row.values.get(column);
  if (raw === undefined) throw located(file, row, column, "missing");
  const v = dataNumber(raw);
  if (typeof v === "string") throw located(file, row, column, v);
  return v;
}

/** The columns a forecaster reads from the file as features: its features without the derived ones. */
export function sourceFeatures(prep: Pick<SeriesPrep, "features" | "calendar" | "derive">): string[] {
  return prep.features.slice(0, prep.features.length - derivedNames(prep.calendar, prep.derive).length);
}

/**
 * Reads a series row's model features in the data's units: the source's features, the calendar features of the
 * time column, then the derived ones (NaN while a lag or difference lacks its history). Rows must come in file order.
 */
export function seriesReader(
  layout: { sources: readonly string[]; time: string | null; calendar: readonly string[]; derive: readonly DeriveSpec[] },
  file: DataFile,
): (row: Row) => number[] {
  const history = new DeriveHistory(layout.derive);
  return (row) => {
    const values = layout.sources.map((c) => number(row, c, file));
    if (layout.calendar.length > 0) {
      const time = layout.time!;
      const raw = timeCell(row, time, file);
      const t = calendarTime(raw);
      if (t === undefined)
        throw located(
          file,
          row,
          time,
          `${shownValue(raw)} is not a date; calendar features need dates in the time column (such as 2024-03-01 or 2024-03-01T13:00)`,
        );
      calendarValues(layout.calendar, t, values);
    }
    if (layout.derive.length > 0)
      history.push(
        layout.derive.map((d) => number(row, d.column, file)),
        values,
      );
    return values;
  };
}

/** The offset and scale of a column from its training statistics (sum, sum of squares, min, max, count). */
function fittedScaling(scaling: SeriesPrep["scaling"], s: number, s2: number, lo: number, hi: number, count: number): [number, number] {
  if (scaling === "standard" && count > 0) {
    const mean = s / count;
    const sd = Math.sqrt(Math.max(0, s2 / count - mean * mean));
    // A column constant over the training rows scales by 1: its sd would be rounding noise (0.1 gives 7e-9).
    return [mean, sd > 1e-12 && hi > lo ? sd : 1];
  }
  if (scaling === "minmax" && count > 0) return [lo, hi - lo > 1e-12 ? hi - lo : 1];
  return [0, 1];
}

async function fitSeries(config: DataConfig, file: DataFile): Promise<SeriesPrep> {
  const sources = config.source.features!;
  const target = config.source.target!;
  const targets = targetColumns({ target });
  const K = targets.length;
  const time = config.source.time ?? null;
  const calendar = config.calendar ?? [];
  const derive = config.derive ?? [];
  const features = [...sources, ...derivedNames(calendar, derive)];
  const win = config.window!;
  const steps = win.steps === "all" ? ("all" as const) : undefined;
  const horizons = outputSteps({ horizon: win.horizon, steps });
  const S = horizons.length;
  const split = splitConfig(config, true);
  const scaling = seriesScale(config);
  const rows = await countRows(config, file);
  const skipped = historyRows(derive);
  const needed = skipped + win.size + win.horizon;
  if (rows < needed)
    throw new DataError(
      file.display,
      null,
      null,
      `the series has ${rows} row${rows === 1 ? "" : "s"}, shorter than ${skipped > 0 ? `the ${skipped} row${skipped === 1 ? "" : "s"} derived features need before them plus ` : ""}the window plus the horizon (${needed})`,
    );
  const F = features.length;
  const columns = [...new Set([...sources, ...targets, ...(time ? [time] : []), ...derive.map((d) => d.column)])];
  // Statistics per column (the features, then the targets), over the training rows where the column is defined
  // (a lag or difference needs history).
  const C = F + K;
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  const min = new Float64Array(C).fill(Infinity);
  const max = new Float64Array(C).fill(-Infinity);
  const n = new Float64Array(C);
  let index = 0;
  const predict =
    win.predict ??
    defaultPredict(
      targets.every((t) => sources.includes(t)),
      win.horizon,
      win.size * features.length,
    );
  // The change of each target over each output's step, on training rows: y_r - y_{r-h} (output-major as the model's outputs).
  const O = S * K;
  const recent: number[][] = [];
  const dSum = new Float64Array(O);
  const dSq = new Float64Array(O);
  const dMin = new Float64Array(O).fill(Infinity);
  const dMax = new Float64Array(O).fill(-Infinity);
  const dN = new Float64Array(O);
  const inOrder = time ? timeOrder(time, file) : undefined;
  let first: Row | undefined;
  const read = seriesReader({ sources, time, calendar, derive }, file);
  for await (const row of readRows(config.source, file.path, file.display)) {
    if (!first) {
      first = row;
      checkColumns(first, columns, file);
    }
    const values = read(row);
    const ys = targets.map((t) => number(row, t, file));
    values.push(...ys);
    inOrder?.(row);
    recent.push(ys);
    if (recent.length > win.horizon + 1) recent.shift();
    const train = splitOf(split, index, rows) === "train";
    // Statistics from the training rows only.
    if (train)
      horizons.forEach((h, s) => {
        if (recent.length < h + 1) return;
        const then = recent[recent.length - 1 - h]!;
        for (let k = 0; k < K; k++) {
          const o = s * K + k;
          const d = ys[k]! - then[k]!;
          dSum[o] += d;
          dSq[o] += d * d;
          dMin[o] = Math.min(dMin[o]!, d);
          dMax[o] = Math.max(dMax[o]!, d);
          dN[o]++;
        }
      });
    if (train) {
      values.forEach((v, k) => {
        if (Number.isNaN(v)) return;
        sum[k] += v;
        sq[k] += v * v;
        min[k] = Math.min(min[k]!, v);
        max[k] = Math.max(max[k]!, v);
        n[k]++;
      });
    }
    index++;
  }
  if (n[F] === 0) throw new DataError(file.display, null, null, "the training split has no rows");
  const offset: number[] = [];
  const scale: number[] = [];
  for (let k = 0; k < C; k++) {
    const [o, sc] = fittedScaling(scaling, sum[k]!, sq[k]!, min[k]!, max[k]!, n[k]!);
    offset.push(o);
    scale.push(sc);
  }
  // Each output's scaling: its target's (value), or that of its target's change over its step (delta; and for
  // residual where delta applies: fitResidual first fits the linear forecast of the change).
  const change = predict === "delta" || (predict === "residual" && deltaApplies(targets, sources, win.horizon));
  const outOffset: number[] = [];
  const outScale: number[] = [];
  for (let o = 0; o < O; o++) {
    const k = o % K;
    const [off, sc] = change ? fittedScaling(scaling, dSum[o]!, dSq[o]!, dMin[o]!, dMax[o]!, dN[o]!) : [offset[F + k]!, scale[F + k]!];
    // Without any training change (fewer training rows than the step), no scaling.
    outOffset.push(change && dN[o] === 0 ? 0 : off);
    outScale.push(change && dN[o] === 0 ? 1 : sc);
  }
  const shape = { window: win.size, horizon: win.horizon, stride: win.stride, derive };
  const counts: Record<Split, number> = { train: 0, validation: 0, test: 0 };
  for (let r = win.size + win.horizon - 1; r < rows; r++) if (isWindowRow(shape, r)) counts[splitOf(split, r, rows)]++;
  const single = O === 1;
  return {
    kind: "series",
    counts,
    features,
    // A list stays a list (even of one): the answers of such a model are lists per step, as its metadata says.
    target: typeof target === "string" ? target : targets,
    time,
    window: win.size,
    horizon: win.horizon,
    ...(steps ? { steps } : {}),
    stride: win.stride,
    scaling,
    offset: offset.slice(0, F),
    scale: scale.slice(0, F),
    predict,
    targetOffset: single ? outOffset[0]! : outOffset,
    targetScale: single ? outScale[0]! : outScale,
    split,
    rows,
    ...(calendar.length > 0 ? { calendar } : {}),
    ...(derive.length > 0 ? { derive } : {}),
  };
}

/**
 * Whether the change since the window's last step can be forecast (predict delta applies): every target is one
 * of the source's features and the horizon is 1 or more. A `predict residual` model's linear forecast is then of
 * the change (as the linear baseline of a predict delta model, shrunk towards persistence), else of the value.
 */
export function deltaApplies(targets: readonly string[], sources: readonly string[], horizon: number): boolean {
  return horizon >= 1 && targets.every((t) => sources.includes(t));
}

/**
 * The linear forecast of a `predict residual` model and its outputs' scaling. `prep` comes with each output
 * scaled as the change of its target (deltaApplies) or as its value: ridge regression of those scaled outputs
 * on the scaled windows (training windows, the L2 weight chosen on the validation windows: the linear baseline of
 * a predict delta or value model), folded into weights in the data's units (the window's last value of the
 * target, for a change, is a scaled input times its scale plus its offset); then each output is scaled as its
 * residual (the target minus the linear forecast) on the training windows.
 */
async function fitResidual(config: DataConfig, prep: SeriesPrep, file: DataFile): Promise<SeriesPrep> {
  const F = prep.features.length;
  const inputs = prep.window * F;
  if (inputs > RIDGE_MAX_INPUTS)
    throw new DataError(
      file.display,
      null,
      null,
      `predict residual needs a linear forecast of the window, which has ${inputs} inputs, more than ${RIDGE_MAX_INPUTS}`,
    );
  const targets = targetColumns(prep);
  const change = deltaApplies(targets, sourceFeatures(prep), prep.horizon);
  if (prep.counts.train === 0)
    throw new DataError(
      file.display,
      null,
      null,
      `the training split has no windows (a window and its horizon need ${prep.window + prep.horizon} rows), so predict residual has nothing to fit its linear forecast on`,
    );
  const first: SeriesPrep = { ...prep, predict: change ? "delta" : "value" };
  const ridge = await fitRidge(examples(config, first, file, "train"), prep.counts.validation > 0 ? () => examples(config, first, file, "validation") : null);
  if (!ridge)
    throw new DataError(
      file.display,
      null,
      null,
      "predict residual: the linear forecast could not be fitted: its ridge system could not be solved (inputs far from unit scale: try scale: standard, or predict delta)",
    );
  const O = outputCount(prep);
  const K = targets.length;
  const D = inputs + 1;
  const weights: number[] = [];
  for (let o = 0; o < O; o++) {
    const { offset, scale } = outputScaling(first, o);
    const w = Array.from(ridge.weights.subarray(o * D, (o + 1) * D), (v) => v * scale);
    w[D - 1]! += offset;
    if (change) {
      const f = prep.features.indexOf(targets[o % K]!);
      w[(prep.window - 1) * F + f]! += prep.scale[f]!;
      w[D - 1]! += prep.offset[f]!;
    }
    weights.push(...w);
  }
  if (!weights.every(Number.isFinite))
    throw new DataError(file.display, null, null, "predict residual: the linear forecast is beyond the float64 range in the data's units");
  const linear = { lambda: ridge.lambda, weights };
  const [sum, sq, min, max] = [new Float64Array(O), new Float64Array(O), new Float64Array(O).fill(Infinity), new Float64Array(O).fill(-Infinity)];
  let n = 0;
  for await (const e of examples(config, first, file, "train")) {
    for (let o = 0; o < O; o++) {
      const { offset, scale } = outputScaling(first, o);
      const r = e.y[o]! * scale + offset + e.base[o]! - linearForecast(linear, e.x, o);
      sum[o] += r;
      sq[o] += r * r;
      min[o] = Math.min(min[o]!, r);
      max[o] = Math.max(max[o]!, r);
    }
    n++;
  }
  const offsets: number[] = [];
  const scales: number[] = [];
  for (let o = 0; o < O; o++) {
    const [off, sc] = fittedScaling(prep.scaling, sum[o]!, sq[o]!, min[o]!, max[o]!, n);
    offsets.push(off);
    scales.push(sc);
  }
  const single = O === 1;
  return { ...prep, predict: "residual", linear, targetOffset: single ? offsets[0]! : offsets, targetScale: single ? scales[0]! : scales };
}

/** Reads the file once (twice for the row count; more for predict residual) and fits the preprocessing the data block describes. */
export async function fit(config: DataConfig, file: DataFile): Promise<Prep> {
  if (config.tokenizer) return fitText(config, file);
  const prep = await fitSeries(config, file);
  return prep.predict === "residual" ? fitResidual(config, prep, file) : prep;
}

/** The examples of one split, in file order. */
export async function* examples(config: DataConfig, prep: Prep, file: DataFile, split: Split): AsyncGenerator<Example> {
  let index = 0;
  if (prep.kind === "text") {
    const ids = vocabIndex(prep);
    const labelId = new Map(prep.labels.map((l, i) => [l, i]));
    for await (const row of readRows(config.source, file.path, file.display)) {
      if (splitOf(prep.split, index++, prep.rows) !== split) continue;
      const label = cell(row, prep.labelColumn, file).trim();
      const y = labelId.get(label);
      if (y === undefined)
        throw new DataError(
          file.display,
          row.line,
          `column ${JSON.stringify(prep.labelColumn)}`,
          `label ${JSON.stringify(label)} never appears in the training split`,
        );
      yield { x: encodeText(prep, cell(row, prep.textColumn, file), ids), y: [y], base: [], line: row.line };
    }
    return;
  }
  const F = prep.features.length;
  const T = prep.window;
  const h = prep.horizon;
  const targets = targetColumns(prep);
  const K = targets.length;
  const horizons = outputSteps(prep);
  const O = horizons.length * K;
  const scaling = Array.from({ length: O }, (_, o) => outputScaling(prep, o));
  const read = seriesReader({ sources: sourceFeatures(prep), time: prep.time, calendar: prep.calendar ?? [], derive: prep.derive ?? [] }, file);
  // A ring of the last T + h rows: [scaled features..., raw targets...] each.
  const ring: Float32Array[] = [];
  const lines: number[] = [];
  for await (const row of readRows(config.source, file.path, file.display)) {
    const raw = read(row);
    const v = new Float32Array(F + K);
    raw.forEach((x, k) => {
      const scaled = (x - prep.offset[k]!) / prep.scale[k]!;
      if (Math.abs(scaled) > SCALED_LIMIT) throw located(file, row, prep.features[k]!, scaledTooFar("value", scaled));
      v[k] = scaled;
    });
    targets.forEach((t, k) => (v[F + k] = number(row, t, file)));
    ring.push(v);
    lines.push(row.line);
    if (ring.length > T + h) {
      ring.shift();
      lines.shift();
    }
    const r = index++; // the row just read is the last target row of the window ending h rows before it
    if (ring.length < T + h) continue;
    if (!isWindowRow(prep, r) || splitOf(prep.split, r, prep.rows) !== split) continue;
    const x = new Float32Array(T * F);
    for (let t = 0; t < T; t++) x.set(ring[t]!.subarray(0, F), t * F);
    const base = outputBases(prep, x, (k) => ring[T - 1]![F + k]!);
    const y: number[] = [];
    horizons.forEach((step, s) => {
      for (let k = 0; k < K; k++) {
        const { offset, scale } = scaling[s * K + k]!;
        const value = (ring[T + step - 1]![F + k]! - base[s * K + k]! - offset) / scale;
        if (!(Math.abs(value) <= SCALED_LIMIT))
          throw new DataError(file.display, lines[T + step - 1]!, `column ${JSON.stringify(targets[k])}`, scaledTooFar("target", value));
        y.push(value);
      }
    });
    yield { x, y, base, line: lines[T + h - 1]! };
  }
}

/** Shuffles a stream through a seeded buffer of `size` examples (a full shuffle when the split fits). */
export async function* shuffled<E>(source: AsyncIterable<E>, seed: number, size: number): AsyncGenerator<E> {
  const rand = prng(seed);
  const buf: E[] = [];
  for await (const e of source) {
    if (buf.length < size) {
      buf.push(e);
      continue;
    }
    const j = Math.floor(rand() * size);
    yield buf[j]!;
    buf[j] = e;
  }
  for (let i = buf.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [buf[i], buf[j]] = [buf[j]!, buf[i]!];
  }
  yield* buf;
}

export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor;
  size: number;
  lines: number[];
  /** Each example's bases (see Example). */
  bases: number[][];
}

/**
 * Groups examples into tensors: x [n, T] int32 or [n, T, F] float32; y [n] int32 (class ids), or float32 [n * O]
 * [n, O] (each example's O outputs, [n] for one output).
 */
export async function* batches(source: AsyncIterable<Example>, prep: Prep, size: number): AsyncGenerator<Batch> {
  let group: Example[] = [];
  const emit = (): Batch => {
    const n = group.length;
    const per = group[0]!.x.length;
    const text = prep.kind === "text";
    const xs = text ? new Int32Array(n * per) : new Float32Array(n * per);
    group.forEach((e, i) => xs.set(e.x, i * per));
    const shape = text ? [n, per] : [n, prep.window, prep.features.length];
    const ys = group.flatMap((e) => e.y);
    const b = {
      x: tf.tensor(xs, shape, text ? "int32" : "float32"),
      y: text || ys.length === n ? tf.tensor1d(ys, text ? "int32" : "float32") : tf.tensor2d(ys, [n, ys.length / n], "float32"),
      size: n,
      lines: group.map((e) => e.line),
      bases: group.map((e) => e.base),
    };
    group = [];
    return b;
  };
  for await (const e of source) {
    group.push(e);
    if (group.length === size) yield emit();
  }
  if (group.length > 0) yield emit();
}
