/** Evaluation metrics, accumulated batch by batch. */

export interface ClassificationReport {
  accuracy: number;
  macro_f1: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  labels: string[];
  count: number;
}

export class ClassificationMetrics {
  private readonly confusion: number[][];
  constructor(private readonly labels: string[]) {
    this.confusion = labels.map(() => labels.map(() => 0));
  }
  add(trueIds: ArrayLike<number>, predicted: ArrayLike<number>): void {
    for (let i = 0; i < trueIds.length; i++) this.confusion[trueIds[i]!]![predicted[i]!]!++;
  }
  report(): ClassificationReport {
    const k = this.labels.length;
    let correct = 0;
    let count = 0;
    let f1 = 0;
    for (let c = 0; c < k; c++) {
      const tp = this.confusion[c]![c]!;
      const actual = this.confusion[c]!.reduce((a, b) => a + b, 0);
      const predicted = this.confusion.reduce((a, row) => a + row[c]!, 0);
      correct += tp;
      count += actual;
      f1 += tp === 0 ? 0 : (2 * tp) / (actual + predicted);
    }
    return { accuracy: count ? correct / count : 0, macro_f1: f1 / k, confusion: this.confusion.map((r) => [...r]), labels: this.labels, count };
  }
}

export interface RegressionReport {
  rmse: number;
  mae: number;
  /**
   * Mean absolute percentage error, in percent; left out where it means nothing: when a true value is 0 or
   * nearer 0 than MAPE_NEAR_ZERO times the mean |true value| of the split (see mapeDefined).
   */
  mape?: number;
  count: number;
  /** Share of forecasts within the tolerance, when one was given. */
  within?: { tolerance: number; share: number };
  /**
   * A forecaster of several outputs (steps, targets): each output's metrics, in output order; the figures above
   * are then over all outputs together (RMSE the root of the mean squared error of every output).
   */
  outputs?: OutputReport[];
}

/** One output's metrics: the step after the window's last it forecasts and its target column. */
export type OutputReport = Omit<RegressionReport, "outputs"> & { step: number; target: string };

/** A true value nearer 0 than this share of the split's mean |true value| makes MAPE meaningless (n/a). */
export const MAPE_NEAR_ZERO = 1e-3;

/** Whether MAPE is reported for true values with this smallest and mean magnitude (see MAPE_NEAR_ZERO). */
export function mapeDefined(minAbs: number, meanAbs: number): boolean {
  return minAbs > 0 && minAbs >= MAPE_NEAR_ZERO * meanAbs;
}

/** MAPE as reports print it: a percentage, or why there is none. */
export function mapeText(r: { mape?: number }): string {
  return r.mape === undefined ? "MAPE n/a (target near zero)" : `MAPE ${r.mape.toFixed(2)}%`;
}

export class RegressionMetrics {
  private inside = 0;
  constructor(private readonly tolerance: number | null = null) {}
  private se = 0;
  private ae = 0;
  private ape = 0;
  private absSum = 0;
  private absMin = Infinity;
  private n = 0;
  add(truth: ArrayLike<number>, predicted: ArrayLike<number>): void {
    for (let i = 0; i < truth.length; i++) {
      const e = predicted[i]! - truth[i]!;
      const a = Math.abs(truth[i]!);
      this.se += e * e;
      if (this.tolerance !== null && Math.abs(e) < this.tolerance) this.inside++;
      this.ae += Math.abs(e);
      this.absSum += a;
      this.absMin = Math.min(this.absMin, a);
      if (a > 0) this.ape += Math.abs(e) / a;
      this.n++;
    }
  }
  report(): RegressionReport {
    return {
      rmse: this.n ? Math.sqrt(this.se / this.n) : 0,
      mae: this.n ? this.ae / this.n : 0,
      ...(this.n && mapeDefined(this.absMin, this.absSum / this.n) ? { mape: (100 * this.ape) / this.n } : {}),
      count: this.n,
      ...(this.tolerance !== null ? { within: { tolerance: this.tolerance, share: this.n ? this.inside / this.n : 0 } } : {}),
    };
  }
}

/**
 * Metrics of a forecaster with O outputs: each output's, and all together. `add` takes each window's O values in
 * turn (truth and predicted of the same layout); with one output the report is RegressionMetrics' own.
 */
export class ForecastMetrics {
  private readonly all: RegressionMetrics;
  private readonly each: RegressionMetrics[];
  constructor(
    private readonly names: readonly { step: number; target: string }[],
    tolerance: number | null = null,
  ) {
    this.all = new RegressionMetrics(tolerance);
    this.each = names.length > 1 ? names.map(() => new RegressionMetrics(tolerance)) : [];
  }
  add(truth: ArrayLike<number>, predicted: ArrayLike<number>): void {
    this.all.add(truth, predicted);
    const O = this.each.length;
    if (O === 0) return;
    for (let i = 0; i < truth.length; i++) this.each[i % O]!.add([truth[i]!], [predicted[i]!]);
  }
  /** The overall figures (count: windows) and, with several outputs, each output's. */
  report(): RegressionReport {
    const r = this.all.report();
    const O = this.each.length;
    return O > 0 ? { ...r, count: r.count / O, outputs: this.each.map((m, o) => ({ ...this.names[o]!, ...m.report() })) } : r;
  }
}

/** Whether a larger value of the metric is better (for early stopping). */
export function higherIsBetter(monitor: string): boolean {
  return /accuracy|f1/.test(monitor);
}
