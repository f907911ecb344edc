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
  /** Mean absolute percentage error over targets that are not 0, in percent. */
  mape: number;
  count: number;
  /** Share of forecasts within the tolerance, when one was given. */
  within?: { tolerance: number; share: number };
}

export class RegressionMetrics {
  private inside = 0;
  constructor(private readonly tolerance: number | null = null) {}
  private se = 0;
  private ae = 0;
  private ape = 0;
  private nape = 0;
  private n = 0;
  add(truth: ArrayLike<number>, predicted: ArrayLike<number>): void {
    for (let i = 0; i < truth.length; i++) {
      const e = predicted[i]! - truth[i]!;
      this.se += e * e;
      if (this.tolerance !== null && Math.abs(e) < this.tolerance) this.inside++;
      this.ae += Math.abs(e);
      if (truth[i] !== 0) {
        this.ape += Math.abs(e / truth[i]!);
        this.nape++;
      }
      this.n++;
    }
  }
  report(): RegressionReport {
    return {
      rmse: this.n ? Math.sqrt(this.se / this.n) : 0,
      mae: this.n ? this.ae / this.n : 0,
      mape: this.nape ? (100 * this.ape) / this.nape : 0,
      count: this.n,
      ...(this.tolerance !== null ? { within: { tolerance: this.tolerance, share: this.n ? this.inside / this.n : 0 } } : {}),
    };
  }
}

/** Whether a larger value of the metric is better (for early stopping). */
export function higherIsBetter(monitor: string): boolean {
  return /accuracy|f1/.test(monitor);
}
