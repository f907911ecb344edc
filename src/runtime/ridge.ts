/**
 * Ridge regression of a forecaster's outputs on its scaled window, streamed: the linear baseline that `evaluate`
 * scores (baselines.ts) and the linear forecast that a `predict residual` model adds its output to (data.ts).
 * No imports: the library's browser entry and the generated programs use it as the training pipeline does.
 */

/** The L2 weights the linear fit tries, chosen by validation RMSE. */
export const RIDGE_LAMBDAS: readonly number[] = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000];
/** The L2 weight of the linear fit when the split has no validation windows to choose one with. */
export const RIDGE_DEFAULT_LAMBDA = 1e-2;
/** Inputs of a window (T x F) above which the linear fit is left out: its fit grows with their square. */
export const RIDGE_MAX_INPUTS = 512;

/**
 * A linear model of a scaled window predicting what the model predicts: for each of its outputs in turn, T x F
 * weights then the bias.
 */
export interface RidgeFit {
  weights: Float64Array;
  /** How many outputs (1 for pairs whose y is a number). */
  outputs: number;
  lambda: number;
  /** Validation RMSE (scaled units, over every output) of each lambda tried; empty when there was no validation split. */
  tried: { lambda: number; rmse: number }[];
}

/**
 * The Cholesky factor L of A + diag(d) (L L^T = A + diag(d)) for a symmetric A given by its upper triangle
 * (row-major, n x n); null when the matrix is not positive definite.
 */
export function choleskyFactor(a: Float64Array, diag: Float64Array, n: number): Float64Array | null {
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
  return l;
}

/** Solves L L^T x = b with a factor from choleskyFactor. */
export function choleskyBack(l: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
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

/**
 * Solves (A + diag(d)) w = b for a symmetric positive definite A + diag(d) by Cholesky; A is given by its upper
 * triangle (row-major, n x n). Returns null when the matrix is not positive definite.
 */
export function choleskySolve(a: Float64Array, diag: Float64Array, b: Float64Array, n: number): Float64Array | null {
  const l = choleskyFactor(a, diag, n);
  return l ? choleskyBack(l, b, n) : null;
}

/** w . [x, 1] for output o (w holds each output's x.length + 1 weights in turn). */
export function ridgePredict(w: ArrayLike<number>, x: ArrayLike<number>, o = 0): number {
  const n = x.length;
  const at = o * (n + 1);
  let s = w[at + n]!;
  for (let i = 0; i < n; i++) s += w[at + i]! * x[i]!;
  return s;
}

/** A training or validation pair of the ridge fit: one target (a number) or O outputs. */
export interface RidgePair {
  x: ArrayLike<number>;
  y: number | ArrayLike<number>;
}

function outputsOf(y: number | ArrayLike<number>): ArrayLike<number> {
  return typeof y === "number" ? [y] : y;
}

/**
 * Fits ridge regression of y on [x, 1] from streams of training and validation pairs, for every output of y at
 * once: X^T X and X^T Y are accumulated in Float64 as the training pairs pass (so memory is (D + 1)^2 + (D + 1) O
 * numbers, not the windows), then (X^T X / n + lambda I) W = X^T Y / n is solved for each lambda (the bias is not
 * penalised; one factorisation serves every output) and the lambda with the lowest validation RMSE over all
 * outputs kept; without validation pairs, `fallback`. Returns null when there are no training pairs.
 */
export async function fitRidge(
  train: AsyncIterable<RidgePair>,
  validation: (() => AsyncIterable<RidgePair>) | null,
  lambdas: readonly number[] = RIDGE_LAMBDAS,
  fallback = RIDGE_DEFAULT_LAMBDA,
): Promise<RidgeFit | null> {
  let a: Float64Array | null = null;
  let b: Float64Array | null = null;
  let n = 0;
  let D = 0;
  let O = 0;
  const row = { v: new Float64Array(0) };
  for await (const e of train) {
    const ys = outputsOf(e.y);
    if (!a || !b) {
      D = e.x.length + 1;
      O = ys.length;
      a = new Float64Array(D * D);
      b = new Float64Array(D * O);
      row.v = new Float64Array(D);
    }
    const v = row.v;
    for (let i = 0; i < D - 1; i++) v[i] = e.x[i]!;
    v[D - 1] = 1;
    for (let i = 0; i < D; i++) {
      const vi = v[i]!;
      if (vi === 0) continue;
      for (let o = 0; o < O; o++) b[o * D + i] += vi * ys[o]!;
      const at = i * D;
      for (let j = i; j < D; j++) a[at + j] += vi * v[j]!;
    }
    n++;
  }
  if (!a || !b || n === 0) return null;
  for (let i = 0; i < D * D; i++) a[i] /= n;
  for (let i = 0; i < D * O; i++) b[i] /= n;
  const solve = (lambda: number): Float64Array | null => {
    const d = new Float64Array(D).fill(lambda);
    d[D - 1] = 0;
    const l = choleskyFactor(a, d, D);
    if (!l) return null;
    const w = new Float64Array(D * O);
    for (let o = 0; o < O; o++) w.set(choleskyBack(l, b.subarray(o * D, (o + 1) * D), D), o * D);
    // Sums beyond the float64 range (unscaled data in the 1e150s) give no usable fit.
    return w.every(Number.isFinite) ? w : null;
  };
  // Inputs far from unit scale (unscaled data in the 1e14s, or two equal columns of such) leave X^T X singular
  // beside every lambda: then the lambdas are tried relative to its mean diagonal instead.
  const trace = Array.from({ length: D - 1 }, (_, i) => a[i * D + i]!).reduce((s, v) => s + v, 0) / Math.max(1, D - 1);
  const fitsOf = (ls: readonly number[]): { lambda: number; w: Float64Array }[] => {
    const at = (scale: number) =>
      ls.map((l) => ({ lambda: l * scale, w: solve(l * scale) })).filter((f): f is { lambda: number; w: Float64Array } => f.w !== null);
    const absolute = at(1);
    return absolute.length > 0 || !(trace > 1) ? absolute : at(trace);
  };
  const fallbackFit = (): RidgeFit | null => {
    const [f] = fitsOf([fallback]);
    return f ? { weights: f.w, outputs: O, lambda: f.lambda, tried: [] } : null;
  };
  if (validation === null) return fallbackFit();
  const fits = fitsOf(lambdas);
  if (fits.length === 0) return null;
  const se = new Float64Array(fits.length);
  let m = 0;
  for await (const e of validation()) {
    const ys = outputsOf(e.y);
    fits.forEach((f, k) => {
      for (let o = 0; o < O; o++) {
        const d = ridgePredict(f.w, e.x, o) - ys[o]!;
        se[k] += d * d;
      }
    });
    m += O;
  }
  if (m === 0) return fallbackFit();
  const tried = fits.map((f, k) => ({ lambda: f.lambda, rmse: Math.sqrt(se[k]! / m) }));
  // The smallest validation RMSE; a tie goes to the larger lambda (the simpler model).
  let best = 0;
  tried.forEach((t, k) => {
    if (t.rmse <= tried[best]!.rmse) best = k;
  });
  return { weights: fits[best]!.w, outputs: O, lambda: fits[best]!.lambda, tried };
}
