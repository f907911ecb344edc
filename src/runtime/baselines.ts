/**
 * Baseline forecasts that a forecaster should beat, scored in the data's units on exactly the windows of a split
 * that the model is scored on: persistence, the seasonal naive forecast and a linear (ridge) model of the same
 * scaled windows the model reads. Streamed like the data pipeline: nothing holds all rows or all windows.
 * Only Node built-ins.
 */
import { readRows } from "./csv.js";
import { splitOf } from "./cells.js";
import { examples, number, type DataConfig, type DataFile } from "./data.js";
import { unscaleTarget, type SeasonInfo, type SeriesPrep, type Split } from "./prep.js";
import { calendarTime, DAY_MS, isWindowRow } from "./derive.js";
import { RegressionMetrics, type RegressionReport } from "./metrics.js";

/** The L2 weights the linear baseline tries, chosen by validation RMSE. */
export const RIDGE_LAMBDAS: readonly number[] = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000];
/** The L2 weight of the linear baseline when the split has no validation windows to choose one with. */
export const RIDGE_DEFAULT_LAMBDA = 1e-2;
/** Inputs of a window (T x F) above which the linear baseline is left out: its fit grows with their square. */
export const RIDGE_MAX_INPUTS = 512;
/** Time steps read to find the median step of the time column (the first ones of the file). */
const SEASON_SAMPLE_STEPS = 100_000;

/** Median step of the time column -> the season of the seasonal naive baseline (null: none). */
const SEASON_STEPS: readonly { name: string; min: number; max: number; period: number | null }[] = [
  { name: "hourly", min: 0.9 * 3_600_000, max: 1.1 * 3_600_000, period: 24 },
  { name: "daily", min: 0.9 * DAY_MS, max: 1.1 * DAY_MS, period: 7 },
  { name: "weekly", min: 6.5 * DAY_MS, max: 7.5 * DAY_MS, period: 52 },
  { name: "monthly", min: 27 * DAY_MS, max: 32 * DAY_MS, period: 12 },
  { name: "quarterly", min: 88 * DAY_MS, max: 93 * DAY_MS, period: 4 },
  { name: "yearly", min: 360 * DAY_MS, max: 370 * DAY_MS, period: null },
];

/** The season a median step between timestamps (in milliseconds) suggests, and the step's name. */
export function seasonOfStep(ms: number): { period: number | null; step: string } {
  const s = SEASON_STEPS.find((x) => ms >= x.min && ms <= x.max);
  return s ? { period: s.period, step: s.name } : { period: null, step: "unknown" };
}

/** A timestamp in milliseconds, or null for a cell that is not a date (plain numbers have no known unit). */
function timestampOf(v: unknown): number | null {
  if (typeof v !== "string" || /^\s*[+-]?[\d.]+(?:[eE][+-]?\d+)?\s*$/.test(v)) return null;
  return calendarTime(v) ?? null;
}

/**
 * The season from the time column: the median step between consecutive timestamps over the first
 * SEASON_SAMPLE_STEPS steps, named hourly (24), daily (7), weekly (52), monthly (12) or quarterly (4); yearly or
 * any other step, a column without dates, or no time column give none.
 */
export async function seasonFromTime(config: DataConfig, prep: SeriesPrep, file: DataFile): Promise<SeasonInfo> {
  if (prep.time === null) return { period: null, source: "time", step: "none" };
  const steps: number[] = [];
  let prev: number | null = null;
  for await (const row of readRows(config.source, file.path, file.display)) {
    const t = timestampOf(row.values.get(prep.time));
    if (t === null) return { period: null, source: "time", step: "unknown" };
    if (prev !== null) steps.push(t - prev);
    prev = t;
    if (steps.length >= SEASON_SAMPLE_STEPS) break;
  }
  if (steps.length === 0) return { period: null, source: "time", step: "unknown" };
  steps.sort((a, b) => a - b);
  const m = steps.length >> 1;
  const median = steps.length % 2 ? steps[m]! : (steps[m - 1]! + steps[m]!) / 2;
  return { source: "time", ...seasonOfStep(median) };
}

/** The season recorded at training: the spec's `window: ..., season P`, else the time column's. */
export async function fitSeason(config: DataConfig, prep: SeriesPrep, file: DataFile): Promise<SeasonInfo> {
  const given = config.window?.season;
  return given !== undefined ? { period: given, source: "spec" } : seasonFromTime(config, prep, file);
}

/** Where a season came from, as the reports say it. */
export function seasonText(s: SeasonInfo | { period: number; source: "option" }): string {
  if (s.source === "spec") return `season ${s.period} from the spec`;
  if (s.source === "option") return `season ${s.period} from --season`;
  const step = "step" in s ? s.step : "unknown";
  if (s.period !== null) return `season ${s.period} from the ${step} time steps`;
  return step === "none"
    ? "no season: the data has no time column"
    : `no season: the time column's step is ${step === "unknown" ? "not one attnc knows" : step}`;
}

// ---- ridge regression

/** A linear model of a scaled window: w (T x F weights, then the bias), predicting what the model predicts. */
export interface RidgeFit {
  weights: Float64Array;
  lambda: number;
  /** Validation RMSE (scaled units) of each lambda tried; empty when there was no validation split. */
  tried: { lambda: number; rmse: number }[];
}

/**
 * Solves (A + diag(d)) w = b for a symmetric positive definite A + diag(d) by Cholesky; A is given by its upper
 * triangle (row-major, n x n). Returns null when the matrix is not positive definite.
 */
export function choleskySolve(a: Float64Array, diag: Float64Array, b: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j]! + diag[j]!;
    for (let k = 0; k < j; k++) s -= l[j * n + k]! * l[j * n + k]!;
    if (!(s > 0)) return null;
    const ljj = Math.sqrt(s);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let t = a[j * n + i]!; // A[i][j] = A[j][i], from the upper triangle
      for (let k = 0; k < j; k++) t -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = t / ljj;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let t = b[i]!;
    for (let k = 0; k < i; k++) t -= l[i * n + k]! * y[k]!;
    y[i] = t / l[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let t = y[i]!;
    for (let k = i + 1; k < n; k++) t -= l[k * n + i]! * x[k]!;
    x[i] = t / l[i * n + i]!;
  }
  return x;
}

/** w . [x, 1] */
function ridgePredict(w: Float64Array, x: ArrayLike<number>): number {
  const n = x.length;
  let s = w[n]!;
  for (let i = 0; i < n; i++) s += w[i]! * x[i]!;
  return s;
}

/**
 * Fits ridge regression of y on [x, 1] from streams of training and validation pairs: X^T X and X^T y are
 * accumulated in Float64 as the training pairs pass (so memory is (D + 1)^2 numbers, not the windows), then
 * (X^T X / n + lambda I) w = X^T y / n is solved for each lambda (the bias is not penalised) and the lambda with the
 * lowest validation RMSE kept; without validation pairs, `fallback`. Returns null when there are no training pairs.
 */
export async function fitRidge(
  train: AsyncIterable<{ x: ArrayLike<number>; y: number }>,
  validation: (() => AsyncIterable<{ x: ArrayLike<number>; y: number }>) | null,
  lambdas: readonly number[] = RIDGE_LAMBDAS,
  fallback = RIDGE_DEFAULT_LAMBDA,
): Promise<RidgeFit | null> {
  let a: Float64Array | null = null;
  let b: Float64Array | null = null;
  let n = 0;
  let D = 0;
  const row = { v: new Float64Array(0) };
  for await (const e of train) {
    if (!a || !b) {
      D = e.x.length + 1;
      a = new Float64Array(D * D);
      b = new Float64Array(D);
      row.v = new Float64Array(D);
    }
    const v = row.v;
    for (let i = 0; i < D - 1; i++) v[i] = e.x[i]!;
    v[D - 1] = 1;
    for (let i = 0; i < D; i++) {
      const vi = v[i]!;
      if (vi === 0) continue;
      b[i] += vi * e.y;
      const at = i * D;
      for (let j = i; j < D; j++) a[at + j] += vi * v[j]!;
    }
    n++;
  }
  if (!a || !b || n === 0) return null;
  for (let i = 0; i < D * D; i++) a[i] /= n;
  for (let i = 0; i < D; i++) b[i] /= n;
  const solve = (lambda: number): Float64Array | null => {
    const d = new Float64Array(D).fill(lambda);
    d[D - 1] = 0;
    const w = choleskySolve(a, d, b, D);
    // Sums beyond the float64 range (unscaled data in the 1e150s) give no usable fit.
    return w && w.every(Number.isFinite) ? w : null;
  };
  if (validation === null) {
    const w = solve(fallback);
    return w ? { weights: w, lambda: fallback, tried: [] } : null;
  }
  const fits = lambdas.map((lambda) => ({ lambda, w: solve(lambda) })).filter((f): f is { lambda: number; w: Float64Array } => f.w !== null);
  if (fits.length === 0) return null;
  const se = new Float64Array(fits.length);
  let m = 0;
  for await (const e of validation()) {
    fits.forEach((f, k) => {
      const d = ridgePredict(f.w, e.x) - e.y;
      se[k] += d * d;
    });
    m++;
  }
  if (m === 0) {
    const w = solve(fallback);
    return w ? { weights: w, lambda: fallback, tried: [] } : null;
  }
  const tried = fits.map((f, k) => ({ lambda: f.lambda, rmse: Math.sqrt(se[k]! / m) }));
  // The smallest validation RMSE; a tie goes to the larger lambda (the simpler model).
  let best = 0;
  tried.forEach((t, k) => {
    if (t.rmse <= tried[best]!.rmse) best = k;
  });
  return { weights: fits[best]!.w, lambda: fits[best]!.lambda, tried };
}

// ---- the baselines of a split

/** A baseline's metrics, with what it was made with. */
export type BaselineReport = RegressionReport & { season?: number; lambda?: number };

export interface BaselineSet {
  /** persistence, seasonal_naive, linear: those that could be computed. */
  reports: Record<string, BaselineReport>;
  /** Why a baseline is left out, one sentence each. */
  notes: string[];
}

/** How reports name a baseline. */
export function baselineLabel(name: string, r: BaselineReport): string {
  if (name === "seasonal_naive") return `seasonal naive (${r.season})`;
  if (name === "linear") return `linear (ridge, L2 ${r.lambda})`;
  return name;
}

/** The season's multiple k (the smallest whole number with kP >= h, so only values known at the window's end are used). */
function seasonSteps(P: number, h: number): number {
  return Math.max(1, Math.ceil(h / P));
}

/**
 * Persistence and seasonal naive forecasts of each window of a split, in file order: persistence is the target at
 * the window's last step (from the target column, whether or not it is a feature); the seasonal naive forecast of
 * y_r is y_{r-kP} + k * (the mean change over P steps on the training rows), with k the smallest whole number such
 * that kP >= h. Windows too early in the file for it (r < kP) get persistence's forecast. Two passes over the file
 * (one with a season), holding only the last max(T + h, kP + 1) targets.
 */
export async function* naiveStream(
  config: DataConfig,
  prep: SeriesPrep,
  file: DataFile,
  split: Split,
  season: number | null,
): AsyncGenerator<{ truth: number; persistence: number; seasonal: number | null }> {
  const T = prep.window;
  const h = prep.horizon;
  const P = season ?? 0;
  const k = P > 0 ? seasonSteps(P, h) : 0;
  const keep = Math.max(T + h, k * P + 1);
  const ys = new Float64Array(keep);
  let trend = 0;
  if (P > 0) {
    let sum = 0;
    let n = 0;
    let index = 0;
    for await (const row of readRows(config.source, file.path, file.display)) {
      const y = number(row, prep.target, file);
      if (index >= P && splitOf(prep.split, index, prep.rows) === "train") {
        sum += y - ys[(index - P) % keep]!;
        n++;
      }
      ys[index % keep] = y;
      index++;
    }
    trend = n ? sum / n : 0;
  }
  let r = 0;
  for await (const row of readRows(config.source, file.path, file.display)) {
    const y = number(row, prep.target, file);
    ys[r % keep] = y;
    if (isWindowRow(prep, r) && splitOf(prep.split, r, prep.rows) === split) {
      const persistence = ys[(r - h) % keep]!;
      yield { truth: y, persistence, seasonal: P > 0 ? (r >= k * P ? ys[(r - k * P) % keep]! + k * trend : persistence) : null };
    }
    r++;
  }
}

/** naiveStream's forecasts of a split, gathered (for tests and small splits). */
export async function naiveForecasts(
  config: DataConfig,
  prep: SeriesPrep,
  file: DataFile,
  split: Split,
  season: number | null,
): Promise<{ truth: number[]; persistence: number[]; seasonal: number[] | null }> {
  const truth: number[] = [];
  const persistence: number[] = [];
  const seasonal: number[] = [];
  for await (const f of naiveStream(config, prep, file, split, season)) {
    truth.push(f.truth);
    persistence.push(f.persistence);
    if (f.seasonal !== null) seasonal.push(f.seasonal);
  }
  return { truth, persistence, seasonal: season !== null ? seasonal : null };
}

/** The ridge baseline fitted on the training windows, lambda chosen on the validation windows. */
export async function fitLinearBaseline(config: DataConfig, prep: SeriesPrep, file: DataFile): Promise<RidgeFit | null> {
  return fitRidge(
    examples(config, prep, file, "train") as AsyncIterable<{ x: Float32Array; y: number }>,
    prep.counts.validation > 0 ? () => examples(config, prep, file, "validation") as AsyncIterable<{ x: Float32Array; y: number }> : null,
  );
}

/**
 * Every baseline on the windows of a split, scored like the model (RegressionMetrics, in the data's units).
 * `season` is the season to use (null: the seasonal naive forecast is left out, with a note).
 */
export async function baselineReports(
  config: DataConfig,
  prep: SeriesPrep,
  file: DataFile,
  split: Split,
  season: number | null,
  tolerance: number | null = null,
): Promise<BaselineSet> {
  const reports: Record<string, BaselineReport> = {};
  const notes: string[] = [];
  if ((prep.counts[split] ?? 0) === 0) return { reports, notes: [`the ${split} split has no windows`] };
  if (prep.horizon === 0) {
    // The forecast is of the window's own last step: "the last known target" would be the answer itself.
    notes.push("persistence and seasonal naive left out: with horizon 0 the model forecasts its window's own last step");
    await addLinear(config, prep, file, split, tolerance, reports, notes);
    return { reports, notes };
  }
  // A season no window reaches back over would be persistence under another name.
  const P = season !== null && season * seasonSteps(season, prep.horizon) < prep.rows ? season : null;
  const persistence = new RegressionMetrics(tolerance);
  const seasonal = P !== null ? new RegressionMetrics(tolerance) : null;
  for await (const f of naiveStream(config, prep, file, split, P)) {
    persistence.add([f.truth], [f.persistence]);
    if (seasonal && f.seasonal !== null) seasonal.add([f.truth], [f.seasonal]);
  }
  reports["persistence"] = persistence.report();
  if (seasonal && P !== null) reports["seasonal_naive"] = { ...seasonal.report(), season: P };
  else if (season !== null) notes.push(`seasonal naive left out: its season (${season}) is as long as the series (${prep.rows} rows) or longer`);
  else notes.push("seasonal naive left out: no season; give one with `window: ..., season P` in the spec or --season P");
  await addLinear(config, prep, file, split, tolerance, reports, notes);
  return { reports, notes };
}

/** The linear baseline's report on a split (or a note saying why it is left out). */
async function addLinear(
  config: DataConfig,
  prep: SeriesPrep,
  file: DataFile,
  split: Split,
  tolerance: number | null,
  reports: Record<string, BaselineReport>,
  notes: string[],
): Promise<void> {
  const inputs = prep.window * prep.features.length;
  if (inputs > RIDGE_MAX_INPUTS) {
    notes.push(`linear left out: a window has ${inputs} inputs, more than ${RIDGE_MAX_INPUTS}`);
    return;
  }
  const fitted = await fitLinearBaseline(config, prep, file);
  if (!fitted) {
    notes.push("linear left out: the training split has no windows, or its ridge system could not be solved");
    return;
  }
  const m = new RegressionMetrics(tolerance);
  for await (const e of examples(config, prep, file, split)) {
    const x = e.x as Float32Array;
    m.add([unscaleTarget(prep, e.y, e.base)], [unscaleTarget(prep, ridgePredict(fitted.weights, x), e.base)]);
  }
  reports["linear"] = { ...m.report(), lambda: fitted.lambda };
}

/** The baselines whose RMSE is lower than the model's, best first, with theirs and a short name for messages. */
export function baselinesBetter(modelRmse: number, set: BaselineSet): { name: string; label: string; rmse: number }[] {
  return Object.entries(set.reports)
    .filter(([, r]) => r.count > 0 && Number.isFinite(r.rmse) && (r.rmse < modelRmse || !Number.isFinite(modelRmse)))
    .sort((x, y) => x[1].rmse - y[1].rmse)
    .map(([name, r]) => ({ name, label: name.replace("_", " "), rmse: r.rmse }));
}

/** What to try when a forecaster loses to a baseline, for the settings it was trained with. */
export function baselineAdvice(prep: SeriesPrep): string {
  const tips = [
    ...(prep.predict === "value" ? ["predict delta"] : []),
    ...(prep.scaling === "none" ? ["scale: standard"] : []),
    "more epochs or a higher learning rate",
  ];
  return `try ${tips.join(", ")}`;
}
