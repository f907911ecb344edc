/**
 * The training loop shared by `attnc train` and the generated programs: seeded batches, loss, optimizer with
 * gradient clipping, per-epoch validation, early stopping (best weights restored), a checkpoint after every
 * epoch, resume, a clean stop on interrupt, and a stop with a clear message when the loss becomes NaN or Inf.
 */
import * as tf from "@tensorflow/tfjs";
import { batches, examples, shuffled, type DataConfig, type DataFile } from "./data.js";
import { outputCount, outputOf, outputScaling, unscaleOutputs, type Prep, type Split } from "./prep.js";
import { Dropout } from "./layers.js";
import { ADAM_STEP, runKernel, sequenceKernelsAvailable, type AdamStepAttrs } from "./kernels.js";
import { lstmModule } from "./lstm-module.js";
import { ClassificationMetrics, ForecastMetrics, higherIsBetter, type ClassificationReport, type RegressionReport } from "./metrics.js";
import { adamPowers, saveCheckpoint } from "./modeldir.js";
import { defaultOptimizer, type TrainSettings } from "./settings.js";
import { type EpochRecord, type TrainState } from "./modeldir-format.js";
import type { Progress } from "./progress.js";

/** A train block as the runtime reads it: the settings table of settings.ts, defaults filled. */
export type TrainConfig = TrainSettings;

/** Examples held for shuffling: memory is bounded by this, not by the size of the data file. */
export const SHUFFLE_BUFFER = 8192;

/** The state tfjs' AdamOptimizer keeps (its private fields), which FusedAdam steps. */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/**
 * tfjs' Adam with each variable's step fused into one kernel (kernels.ts' adamStep) where attnc's kernels run
 * (wasm and cpu): one pass over a variable instead of some 16 engine ops, the same float32 results bit for bit
 * (test/runtime/adam.test.ts), the same state in the same slots, so that tfjs' getWeights and setWeights save
 * and restore it (checkpoints, resume) unchanged. Elsewhere, and with ATTNC_NO_FUSED_KERNELS=1, tfjs' own step.
 * With the text classifier's 0.33 M weights (T = 50, B = 32) a step of Adam took 5 ms as tfjs ops, 2 ms fused.
 */
export class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    // On wasm without attnc's module (ATTNC_LSTM_KERNEL=js, a page before it is prepared) tfjs' SIMD ops
    // are faster than the kernel's JavaScript loop; on cpu the loop is faster than tfjs' 16 loops.
    if (!sequenceKernelsAvailable() || (tf.getBackend() === "wasm" && !lstmModule())) return super.applyGradients(variableGradients);
    const s = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const p1 = s.accBeta1.dataSync()[0]!;
    const p2 = s.accBeta2.dataSync()[0]!;
    const attrs: AdamStepAttrs = {
      beta1: s.beta1,
      beta2: s.beta2,
      oneMinusBeta1: 1 - s.beta1,
      oneMinusBeta2: 1 - s.beta2,
      correction1: 1 - p1,
      correction2: 1 - p2,
      epsilon: s.epsilon,
      negLr: -s.learningRate,
    };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        s.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        s.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = Array.isArray(variableGradients) ? variableGradients[i]!.tensor : (variableGradients[name] as tf.Tensor | undefined);
        if (gradient == null) return;
        const m = s.accumulatedFirstMoment[i]!.variable;
        const v = s.accumulatedSecondMoment[i]!.variable;
        const [newValue, newM, newV] = runKernel(ADAM_STEP, { value, g: gradient, m, v }, attrs as unknown as Record<string, number>);
        m.assign(newM!);
        v.assign(newV!);
        value.assign(newValue!);
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    this.incrementIterations();
  }
}

export function makeOptimizer(cfg: TrainConfig["optimizer"]): tf.Optimizer {
  const o = cfg ?? defaultOptimizer();
  switch (o.kind) {
    case "adam":
      // tf.train.adam's defaults, which its optimizer's constructor does not fill.
      return new FusedAdam(o.lr ?? 0.001, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon);
    case "sgd":
      return o.momentum ? tf.train.momentum(o.lr, o.momentum) : tf.train.sgd(o.lr);
    case "rmsprop":
      return tf.train.rmsprop(o.lr, o.rho);
    default:
      throw new Error(`unknown optimizer ${String((o as { kind: unknown }).kind)}`);
  }
}

/**
 * The loss of a batch: predictions [n, C] or [n, O]; y class ids [n], or scaled targets [n] (one output) or
 * [n, O]: a forecaster's loss is the mean over all n * O outputs.
 */
export function lossOf(kind: TrainConfig["loss"], pred: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const C = pred.shape[pred.shape.length - 1]!;
    if (kind === "cross_entropy") {
      const p = tf.clipByValue(pred, 1e-7, 1 - 1e-7);
      if (C === 1) {
        const t = y.toFloat().reshape([-1, 1]);
        return tf.neg(tf.mean(tf.add(tf.mul(t, tf.log(p)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, p))))));
      }
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(y.toInt(), C).toFloat(), tf.log(p)), 1)));
    }
    const e = tf.sub(pred.reshape([-1]), y.toFloat().reshape([-1]));
    if (kind === "mse") return tf.mean(tf.square(e));
    if (kind === "mae") return tf.mean(tf.abs(e));
    // Huber with delta 1: 0.5 e^2 where |e| <= 1, |e| - 0.5 beyond. Written as 0.5 q^2 + (|e| - q) with
    // q = min(|e|, 1), which is the same function: a comparison feeding tf.where would sit on the gradient's
    // path, and LessEqual has no gradient on the wasm and cpu backends.
    const a = tf.abs(e);
    const q = tf.minimum(a, 1);
    return tf.mean(tf.add(tf.mul(0.5, tf.square(q)), tf.sub(a, q)));
  }) as tf.Scalar;
}

/** Class ids from probabilities ([n, C] softmax or [n, 1] sigmoid). */
export function classesOf(pred: tf.Tensor): Int32Array {
  return tf.tidy(() => (pred.shape[1] === 1 ? tf.greater(pred.reshape([-1]), 0.5).toInt() : tf.argMax(pred, 1)).dataSync() as Int32Array);
}

export interface SplitReport {
  loss: number;
  classification?: ClassificationReport;
  regression?: RegressionReport;
}

/** Loss and metrics of a model on one split (in inference mode; forecasts compared in the data's units). */
export async function evaluateSplit(
  model: tf.LayersModel,
  config: DataConfig,
  prep: Prep,
  file: DataFile,
  split: Split,
  batch: number,
  loss: TrainConfig["loss"],
  tolerance: number | null = null,
): Promise<SplitReport> {
  const cls = prep.kind === "text" ? new ClassificationMetrics(prep.labels) : null;
  const O = prep.kind === "series" ? outputCount(prep) : 0;
  const reg =
    prep.kind === "series"
      ? new ForecastMetrics(
          Array.from({ length: O }, (_, o) => outputOf(prep, o)),
          tolerance,
        )
      : null;
  let total = 0;
  let n = 0;
  for await (const b of batches(examples(config, prep, file, split), prep, batch)) {
    const pred = model.predict(b.x) as tf.Tensor;
    total += lossOf(loss, pred, b.y).dataSync()[0]! * b.size;
    n += b.size;
    const y = b.y.dataSync();
    if (cls) cls.add(y, classesOf(pred));
    if (reg && prep.kind === "series") {
      const p = pred.dataSync();
      for (let i = 0; i < b.size; i++)
        reg.add(unscaleOutputs(prep, y.subarray(i * O, (i + 1) * O), b.bases[i]!), unscaleOutputs(prep, p.subarray(i * O, (i + 1) * O), b.bases[i]!));
    }
    tf.dispose([pred, b.x, b.y]);
  }
  return { loss: n ? total / n : NaN, ...(cls ? { classification: cls.report() } : {}), ...(reg ? { regression: reg.report() } : {}) };
}

function metricsOf(r: SplitReport, names: string[], prefix: string): Record<string, number> {
  const out: Record<string, number> = { [`${prefix}loss`]: r.loss };
  const source: Record<string, number> = {
    ...(r.classification ? { accuracy: r.classification.accuracy, macro_f1: r.classification.macro_f1 } : {}),
    ...(r.regression ? { rmse: r.regression.rmse, mae: r.regression.mae, ...(r.regression.mape !== undefined ? { mape: r.regression.mape } : {}) } : {}),
  };
  for (const m of names) if (m in source) out[`${prefix}${m}`] = source[m]!;
  return out;
}

export interface TrainRun {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  meta: object;
  dir: string;
  data: DataConfig;
  file: DataFile;
  prep: Prep;
  train: TrainConfig;
  /** Epochs to train to (the spec's, or an override). */
  epochs: number;
  state: TrainState;
  progress: Progress;
  /** Set to true (for example on SIGINT) to stop after the current batch with a checkpoint. */
  signal: { stop: boolean };
  /** Finish after this many training batches in all (verification runs). */
  maxSteps?: number;
  /** Where batch gradients come from; by default computed here, in this thread. */
  gradients?: GradientSource;
}

/** What one batch (or a part of one) gives: its mean loss, the sum of its metric terms, the gradients of the mean loss (each times the part's weight). */
export interface BatchGradients {
  loss: number;
  /** Correct predictions (text) or squared errors in the data's units (series, every output), summed over the examples. */
  metricSum: number;
  /** Keyed by variable name; the caller disposes them. */
  grads: tf.NamedTensorMap;
}

export interface GradientSource {
  compute(x: tf.Tensor, y: tf.Tensor): Promise<BatchGradients>;
}

/** Loss, metric terms and gradients of one batch, in this thread. */
export function batchGradients(
  model: tf.LayersModel,
  vars: tf.Variable[],
  loss: TrainConfig["loss"],
  kind: "text" | "series",
  x: tf.Tensor,
  y: tf.Tensor,
  /** A forecaster's output scales (errors in scaled units times these are in the data's units). */
  scales: readonly number[] | null = null,
  /** The mean loss's weight: a part of a batch weighs its share of the rows, so that the parts' gradients add up to the batch's. */
  weight = 1,
): BatchGradients {
  let metricSum = 0;
  const { value, grads } = tf.variableGrads(() => {
    const pred = model.apply(x, { training: true }) as tf.Tensor;
    const mean = lossOf(loss, pred, y);
    const l = weight === 1 ? mean : (tf.mul(mean, weight) as tf.Scalar);
    metricSum = tf.tidy(() =>
      kind === "text"
        ? tf.sum(tf.equal(pred.shape[1] === 1 ? tf.greater(pred.reshape([-1]), 0.5).toInt() : tf.argMax(pred, 1), y.toInt()).toFloat()).dataSync()[0]!
        : tf
            .sum(tf.square(tf.mul(tf.sub(pred.reshape([y.shape[0]!, -1]), y.toFloat().reshape([y.shape[0]!, -1])), tf.tensor1d([...(scales ?? [1])]))))
            .dataSync()[0]!,
    );
    return l;
  }, vars);
  const lossValue = value.dataSync()[0]!;
  value.dispose();
  return { loss: lossValue, metricSum, grads };
}

export function localGradients(
  model: tf.LayersModel,
  vars: tf.Variable[],
  loss: TrainConfig["loss"],
  kind: "text" | "series",
  scales: readonly number[] | null = null,
): GradientSource {
  return { compute: async (x, y) => batchGradients(model, vars, loss, kind, x, y, scales) };
}

/** A forecaster's output scales, in output order (null for text). */
export function outputScales(prep: Prep): number[] | null {
  return prep.kind === "series" ? Array.from({ length: outputCount(prep) }, (_, o) => outputScaling(prep, o).scale) : null;
}

export type TrainOutcome =
  | { kind: "done"; state: TrainState; test: SplitReport | null }
  | { kind: "interrupted"; state: TrainState }
  | { kind: "diverged"; state: TrainState; message: string };

function dropoutLayers(model: tf.LayersModel): Dropout[] {
  return model.layers.filter((l): l is Dropout => l instanceof Dropout);
}

function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch, 0x85ebca6b)) >>> 0;
}

/** Clips each gradient to an L2 norm (Keras' clipnorm). */
function clip(grads: tf.NamedTensorMap, norm: number | undefined): tf.NamedTensorMap {
  if (!norm) return grads;
  const out: tf.NamedTensorMap = {};
  for (const [k, g] of Object.entries(grads)) {
    out[k] = tf.tidy(() => {
      const n = tf.norm(g);
      return tf.mul(g, tf.div(norm, tf.maximum(n, norm)));
    });
  }
  tf.dispose(Object.values(grads));
  return out;
}

export async function trainLoop(run: TrainRun): Promise<TrainOutcome> {
  const { model, optimizer, train, prep, progress, signal } = run;
  const state = run.state;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const drops = dropoutLayers(model);
  for (const d of drops) d.streamPosition = state.dropout[d.name] ?? 0;
  const outputs = prep.kind === "series" ? outputCount(prep) : 1;
  const source = run.gradients ?? localGradients(model, vars, train.loss, prep.kind, outputScales(prep));
  const stop = train.early_stop;
  const better = stop
    ? higherIsBetter(stop.monitor)
      ? (a: number, b: number) => a > b + stop.min_delta
      : (a: number, b: number) => a < b - stop.min_delta
    : null;
  let bestWeights: tf.Tensor[] | null = null;
  const hasValidation = prep.counts.validation > 0;
  const checkpoint = async () => {
    for (const d of drops) state.dropout[d.name] = d.streamPosition;
    state.variables = vars.map((v) => v.name);
    const powers = adamPowers(optimizer);
    if (powers) state.adamPowers = powers;
    await saveCheckpoint(run.dir, model, optimizer, run.meta, state);
  };
  const perEpoch = Math.ceil(prep.counts.train / train.batch);
  let steps = 0;
  let enough = false;
  for (let epoch = state.epoch + 1; epoch <= run.epochs && !enough; epoch++) {
    progress.startEpoch();
    let stream = examples(run.data, prep, run.file, "train");
    if (train.shuffle) stream = shuffled(stream, epochSeed(train.seed, epoch), SHUFFLE_BUFFER);
    let b = 0;
    let lossSum = 0;
    let metricSum = 0;
    let seen = 0;
    for await (const batch of batches(stream, prep, train.batch)) {
      if (b < state.batch) {
        tf.dispose([batch.x, batch.y]);
        b++;
        continue;
      }
      const part = await source.compute(batch.x, batch.y);
      tf.tidy(() => optimizer.applyGradients(clip(part.grads, train.optimizer?.clipnorm)));
      tf.dispose(Object.values(part.grads));
      const lossValue = part.loss;
      tf.dispose([batch.x, batch.y]);
      if (!Number.isFinite(lossValue)) {
        return {
          kind: "diverged",
          state,
          message: `the loss became ${lossValue} at epoch ${epoch}, batch ${b + 1}; training stopped and the model directory keeps ${state.epoch > 0 ? `the checkpoint of epoch ${state.epoch}` : "no checkpoint"}. A smaller learning rate or clipnorm may help.`,
        };
      }
      b++;
      lossSum += lossValue * batch.size;
      metricSum += part.metricSum;
      seen += batch.size;
      // Accuracy, or the RMSE so far over every output in the data's units (errors in scaled units times the
      // output's scale), as the validation metrics are.
      progress.batch(epoch, b, perEpoch, seen, lossSum / seen, [
        prep.kind === "text" ? "acc" : "rmse",
        prep.kind === "text" ? metricSum / seen : Math.sqrt(metricSum / (seen * outputs)),
      ]);
      if (run.maxSteps !== undefined && ++steps >= run.maxSteps) {
        enough = true;
        break;
      }
      if (signal.stop) {
        state.batch = b;
        await checkpoint();
        return { kind: "interrupted", state };
      }
    }
    state.batch = 0;
    const record: EpochRecord = { epoch, loss: seen ? lossSum / seen : NaN };
    if (hasValidation)
      Object.assign(record, metricsOf(await evaluateSplit(model, run.data, prep, run.file, "validation", train.batch, train.loss), train.metrics, "val_"));
    state.history.push(record);
    state.epoch = epoch;
    progress.endEpoch(record, seen);
    let stopNow = false;
    if (stop && better) {
      const value = record[stop.monitor];
      if (value === undefined && stop.monitor === "val_mape")
        return {
          kind: "diverged",
          state,
          message: `early stopping watches val_mape, but MAPE is not defined on the validation split (a target is 0 or near zero); watch val_rmse, val_mae or val_loss instead`,
        };
      if (value === undefined) throw new Error(`early stopping watches ${stop.monitor}, which this run does not compute`);
      if (state.best === null || better(value, state.best.value)) {
        state.best = { value, epoch };
        state.wait = 0;
        tf.dispose(bestWeights ?? []);
        bestWeights = model.getWeights().map((w) => w.clone());
      } else if (++state.wait >= stop.patience) {
        // As Keras: stop once `patience` epochs in a row did not improve (patience 0 stops at the first).
        stopNow = true;
        state.stopReason = `${stop.monitor} did not improve for ${state.wait} epoch${state.wait === 1 ? "" : "s"}; best ${state.best.value.toFixed(4)} at epoch ${state.best.epoch}`;
      }
    }
    await checkpoint();
    if (stopNow) {
      progress.message(`early stop: ${state.stopReason}`);
      break;
    }
    if (signal.stop) return { kind: "interrupted", state };
  }
  if (bestWeights && state.best && state.best.epoch !== state.epoch) {
    model.setWeights(bestWeights);
    progress.message(`restored the weights of epoch ${state.best.epoch} (best ${stop!.monitor})`);
  }
  tf.dispose(bestWeights ?? []);
  const test = prep.counts.test > 0 ? await evaluateSplit(model, run.data, prep, run.file, "test", train.batch, train.loss) : null;
  state.done = true;
  if (test) state.test = test;
  await checkpoint();
  return { kind: "done", state, test };
}
