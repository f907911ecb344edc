/**
 * Baseline forecasts that a forecaster should beat, scored in the data's units on exactly the windows of a split
 * that the model is scored on: persistence, the seasonal naive forecast and a linear (ridge) model of the same
 * scaled windows the model reads. Streamed like the data pipeline: nothing holds all rows or all windows.
 * Only Node built-ins.
 */
import { readRows, type Row } from "./csv.js";
import { splitOf } from "./cells.js";
import { deltaApplies, examples, number, sourceFeatures, type DataConfig, type DataFile } from "./data.js";
import { outputCount, outputOf, outputSteps, targetColumns, unscaleOutputs, type SeasonInfo, type SeriesPrep, type Split } from "./prep.js";
import { calendarTime, DAY_MS, isWindowRow } from "./derive.js";
import { ForecastMetrics, type RegressionReport } from "./metrics.js";
import { fitRidge, ridgePredict, RIDGE_MAX_INPUTS, type RidgeFit } from "./ridge.js";

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
 * Persistence and seasonal naive forecasts of each window of a split, in file order, for each output (step s
 * after the window's last row, target k; prep.ts, outputOf): persistence is target k at the window's last step
 * (from the target column, whether or not it is a feature); the seasonal naive forecast of y_r (r the output's
 * row) is y_{r-jP} + j * (target k's mean change over P steps on the training rows), with j the smallest whole
 * number such that jP >= s. Outputs too early in the file for it (r < jP) get persistence's forecast. Two passes
 * over the file (one with a season), holding only the last T + h + jP + 1 rows' targets.
 */
export async function* naiveStream(
  config: DataConfig,
  prep: SeriesPrep,
  file: DataFile,
  split: Split,
  season: number | null,
): AsyncGenerator<{ truth: number[]; persistence: number[]; seasonal: number[] | null }> {
  const T = prep.window;
  const h = prep.horizon;
  const targets = targetColumns(prep);
  const K = targets.length;
  const steps = outputSteps(prep);
  const P = season ?? 0;
  const js = steps.map((s) => (P > 0 ? seasonSteps(P, s) : 0));
  const keep = T + h + Math.max(0, ...js) * P + 1;
  const ys: Float64Array[] = Array.from({ length: keep }, () => new Float64Array(K));
  const trend = new Float64Array(K);
  const read = (row: Row): Float64Array => {
    const v = new Float64Array(K);
    targets.forEach((t, k) => (v[k] = number(row, t, file)));
    return v;
  };
  if (P > 0) {
    const sum = new Float64Array(K);
    let n = 0;
    let index = 0;
    for await (const row of readRows(config.source, file.path, file.display)) {
      const y = read(row);
      if (index >= P && splitOf(prep.split, index, prep.rows) === "train") {
        const then = ys[(index - P) % keep]!;
        for (let k = 0; k < K; k++) sum[k] += y[k]! - then[k]!;
        n++;
      }
      ys[index % keep] = y;
      index++;
    }
    for (let k = 0; k < K; k++) trend[k] = n ? sum[k]! / n : 0;
  }
  let r = 0;
  for await (const row of readRows(config.source, file.path, file.display)) {
    ys[r % keep] = read(row);
    if (isWindowRow(prep, r) && splitOf(prep.split, r, prep.rows) === split) {
      const end = r - h; // the window's last row
      const truth: number[] = [];
      const persistence: number[] = [];
      const seasonal: number[] = [];
      steps.forEach((s, i) => {
        const at = end + s;
        const j = js[i]!;
        for (let k = 0; k < K; k++) {
          const last = ys[end % keep]![k]!;
          truth.push(ys[at % keep]![k]!);
          persistence.push(last);
          if (P > 0) seasonal.push(at >= j * P ? ys[(at - j * P) % keep]![k]! + j * trend[k]! : last);
        }
      });
      yield { truth, persistence, seasonal: P > 0 ? seasonal : null };
    }
    r++;
  }
}

/** naiveStream's forecasts of a split, gathered (each window's outputs in turn; for tests and small splits). */
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
    truth.push(...f.truth);
    persistence.push(...f.persistence);
    if (f.seasonal !== null) seasonal.push(...f.seasonal);
  }
  return { truth, persistence, seasonal: season !== null ? seasonal : null };
}

/** The ridge baseline fitted on the training windows, lambda chosen on the validation windows. */
export async function fitLinearBaseline(config: DataConfig, prep: SeriesPrep, file: DataFile): Promise<RidgeFit | null> {
  return fitRidge(examples(config, prep, file, "train"), prep.counts.validation > 0 ? () => examples(config, prep, file, "validation") : null);
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
  const persistence = forecastMetrics(prep, tolerance);
  const seasonal = P !== null ? forecastMetrics(prep, tolerance) : null;
  for await (const f of naiveStream(config, prep, file, split, P)) {
    persistence.add(f.truth, f.persistence);
    if (seasonal && f.seasonal !== null) seasonal.add(f.truth, f.seasonal);
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
  if (prep.predict === "residual" && prep.linear) {
    // The model's own linear forecast, the one its output is added to: the model starts from it.
    const m = forecastMetrics(prep, tolerance);
    for await (const e of examples(config, prep, file, split)) m.add(unscaleOutputs(prep, e.y, e.base), e.base);
    reports["linear"] = { ...m.report(), lambda: prep.linear.lambda };
    return;
  }
  const fitted = await fitLinearBaseline(config, prep, file);
  if (!fitted) {
    notes.push("linear left out: the training split has no windows, or its ridge system could not be solved");
    return;
  }
  const m = forecastMetrics(prep, tolerance);
  for await (const e of examples(config, prep, file, split)) {
    const x = e.x as Float32Array;
    m.add(
      unscaleOutputs(prep, e.y, e.base),
      unscaleOutputs(
        prep,
        e.y.map((_, o) => ridgePredict(fitted.weights, x, o)),
        e.base,
      ),
    );
  }
  reports["linear"] = { ...m.report(), lambda: fitted.lambda };
}

/** Metrics of every output of a forecaster and all together (metrics.ts). */
function forecastMetrics(prep: SeriesPrep, tolerance: number | null): ForecastMetrics {
  return new ForecastMetrics(
    Array.from({ length: outputCount(prep) }, (_, o) => outputOf(prep, o)),
    tolerance,
  );
}

/** The baselines whose RMSE is lower than the model's, best first, with theirs and a short name for messages. */
export function baselinesBetter(modelRmse: number, set: BaselineSet): { name: string; label: string; rmse: number }[] {
  return Object.entries(set.reports)
    .filter(([, r]) => r.count > 0 && Number.isFinite(r.rmse) && (r.rmse < modelRmse || !Number.isFinite(modelRmse)))
    .sort((x, y) => x[1].rmse - y[1].rmse)
    .map(([name, r]) => ({ name, label: name.replace("_", " "), rmse: r.rmse }));
}

/** What to try when a forecaster loses to the baselines `beatenBy` (their names), for the settings it was trained with. */
export function baselineAdvice(prep: SeriesPrep, beatenBy: readonly string[]): string {
  const tips = [
    // predict delta needs every target among the features (and a horizon of 1 or more): only then is it advice.
    ...(prep.predict === "value" && deltaApplies(targetColumns(prep), sourceFeatures(prep), prep.horizon) ? ["predict delta"] : []),
    // Beaten by the linear baseline: predict residual starts from it (given a window small enough for one).
    ...(beatenBy.includes("linear") && prep.predict !== "residual" && prep.window * prep.features.length <= RIDGE_MAX_INPUTS ? ["predict residual"] : []),
    ...(prep.scaling === "none" ? ["scale: standard"] : []),
    "more epochs or a higher learning rate",
  ];
  return `try ${tips.join(", ")}`;
}
