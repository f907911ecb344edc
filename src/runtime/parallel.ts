/**
 * Data parallelism over threads: each batch is split by rows between this thread and a worker thread, each
 * computes the gradients of its part's mean loss weighed by its share of the rows, with its own copy of the
 * model (and its own backend: wasm runs one thread per instance), and the two parts' gradients add up to the
 * gradient of the whole batch's mean loss. A model that masks padding (an embedding with mask_zero) computes
 * only the real tokens, so its batches are split where the two parts hold about as many real tokens (see
 * splitPoint); other batches in halves. This thread owns the weights and the optimizer; weights and
 * gradients move through two shared buffers (no copies for the garbage collector), messages carry the batch
 * part. Results depend on the number of threads (sums are added in another order) but not on timing: the
 * split depends on the batch alone, the worker's dropout draws from its own seeded stream.
 *
 * Not part of generated programs: they train in one thread.
 */
import * as tf from "@tensorflow/tfjs";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { wasmValues } from "./backend-internals.js";
import { Dropout, Embedding } from "./layers.js";
import { batchGradients, type BatchGradients, type GradientSource, type TrainConfig } from "./train.js";

/** What the worker needs to rebuild the model, and the shared buffers (each variable at its offset, in floats). */
export interface WorkerSetup {
  backend: string;
  modelJson: string;
  loss: TrainConfig["loss"];
  kind: "text" | "series";
  /** A forecaster's output scales (see batchGradients). */
  scales?: number[] | null;
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  offsets: number[];
}

/** One part of a batch, as plain arrays; the weights are in the shared buffer. */
export interface PartMessage {
  dropout: number[];
  /** The part's share of the batch's rows (its mean loss's weight). */
  weight: number;
  x: Float32Array | Int32Array;
  xShape: number[];
  xDtype: "float32" | "int32";
  y: Float32Array | Int32Array;
  yShape: number[];
  yDtype: "float32" | "int32";
}

/** The gradients are in the shared buffer. */
export type PartReply = { ok: true; loss: number; metricSum: number } | { ok: false; message: string };

/** Copies a float32 tensor's values into `dst` (on wasm straight from the backend's memory). */
export function readInto(t: tf.Tensor, dst: Float32Array): void {
  dst.set(wasmValues(t) ?? (t.dataSync() as Float32Array));
}

/** Views of each variable's slot in a shared buffer. */
export function slots(buffer: SharedArrayBuffer, offsets: number[]): Float32Array[] {
  return offsets.slice(0, -1).map((o, i) => new Float32Array(buffer, o * 4, offsets[i + 1]! - o));
}

/** The worker's entry, next to this module (dist/runtime/*.js, or dist/bundle/*.mjs in the package's bundle). */
function workerFile(): string {
  const here = import.meta.url;
  const candidates = [new URL(`./parallel-worker${here.endsWith(".mjs") ? ".mjs" : ".js"}`, here), new URL("../../dist/runtime/parallel-worker.js", here)];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return path;
  }
  throw new Error("the training worker's module is missing (run npm run build)");
}

/**
 * Where to split a batch whose rows cost `cost[i]` (the real tokens of a masked row): the first k rows go to
 * this thread, k in [1, n - 1] with the two parts' costs as near as can be (the earlier k on a tie); a batch
 * of one row is not split (0). Rows cost at least one, so that rows of padding alone still count.
 */
export function splitPoint(cost: ArrayLike<number>): number {
  const n = cost.length;
  if (n < 2) return 0;
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.max(1, cost[i]!);
  let best = 1;
  let bestGap = Infinity;
  let prefix = 0;
  for (let k = 1; k < n; k++) {
    prefix += Math.max(1, cost[k - 1]!);
    const gap = Math.abs(2 * prefix - total);
    if (gap < bestGap) [best, bestGap] = [k, gap];
  }
  return best;
}

/** The real (nonzero) tokens of each row of a [n, T] int32 batch. */
function realTokens(x: tf.Tensor): Int32Array {
  const [n, T] = [x.shape[0]!, x.size / x.shape[0]!];
  const ids = x.dataSync();
  const counts = new Int32Array(n);
  for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) if (ids[i * T + t] !== 0) counts[i]!++;
  return counts;
}

export class DataParallel implements GradientSource {
  private readonly drops: Dropout[];
  private readonly weights: Float32Array[];
  private readonly grads: Float32Array[];
  private failure: Error | null = null;
  private pending: { resolve: (r: PartReply) => void; reject: (e: Error) => void } | null = null;
  /** Whether the model masks padding tokens (then a batch is split by real tokens). */
  private readonly masked: boolean;

  private constructor(
    private readonly worker: Worker,
    private readonly model: tf.LayersModel,
    private readonly vars: tf.Variable[],
    private readonly setup: WorkerSetup,
  ) {
    this.drops = model.layers.filter((l): l is Dropout => l instanceof Dropout);
    this.masked = model.layers.some((l) => l instanceof Embedding && l.maskZero);
    this.weights = slots(setup.weights, setup.offsets);
    this.grads = slots(setup.grads, setup.offsets);
    worker.on("message", (r: PartReply) => {
      const p = this.pending;
      this.pending = null;
      p?.resolve(r);
    });
    const fail = (e: Error) => {
      this.failure = e;
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    };
    worker.on("error", (e) => fail(new Error(`the training worker failed: ${e.message}`)));
    worker.on("exit", (code) => fail(new Error(`the training worker exited (code ${code})`)));
  }

  /** Starts one worker thread with a copy of `model`. */
  static start(model: tf.LayersModel, vars: tf.Variable[], setup: Pick<WorkerSetup, "backend" | "loss" | "kind" | "scales">): DataParallel {
    const offsets = [0];
    for (const v of vars) offsets.push(offsets[offsets.length - 1]! + v.size);
    const total = offsets[offsets.length - 1]! * 4;
    const full: WorkerSetup = {
      ...setup,
      modelJson: JSON.stringify(model.toJSON(null, false)),
      weights: new SharedArrayBuffer(total),
      grads: new SharedArrayBuffer(total),
      offsets,
    };
    const worker = new Worker(workerFile(), { workerData: full });
    worker.unref();
    return new DataParallel(worker, model, vars, full);
  }

  async compute(x: tf.Tensor, y: tf.Tensor): Promise<BatchGradients> {
    if (this.failure) throw this.failure;
    const n = x.shape[0]!;
    const nLocal = this.masked && x.dtype === "int32" ? splitPoint(realTokens(x)) : Math.floor(n / 2);
    if (nLocal === 0) return batchGradients(this.model, this.vars, this.setup.loss, this.setup.kind, x, y, this.setup.scales ?? null);
    const [xOwn, xOther] = tf.split(x, [nLocal, n - nLocal], 0);
    const [yOwn, yOther] = tf.split(y, [nLocal, n - nLocal], 0);
    this.vars.forEach((v, i) => readInto(v, this.weights[i]!));
    const message: PartMessage = {
      dropout: this.drops.map((d) => d.streamPosition),
      weight: (n - nLocal) / n,
      x: xOther!.dataSync() as Float32Array | Int32Array,
      xShape: xOther!.shape,
      xDtype: xOther!.dtype as "float32" | "int32",
      y: yOther!.dataSync() as Float32Array | Int32Array,
      yShape: yOther!.shape,
      yDtype: yOther!.dtype as "float32" | "int32",
    };
    const reply = new Promise<PartReply>((resolve, reject) => (this.pending = { resolve, reject }));
    this.worker.postMessage(message);
    tf.dispose([xOther!, yOther!]);
    let own: BatchGradients;
    try {
      own = batchGradients(this.model, this.vars, this.setup.loss, this.setup.kind, xOwn!, yOwn!, this.setup.scales ?? null, nLocal / n);
    } finally {
      tf.dispose([xOwn!, yOwn!]);
    }
    let other: PartReply;
    try {
      other = await reply;
    } catch (e) {
      tf.dispose(Object.values(own.grads));
      throw e;
    }
    if (!other.ok) {
      tf.dispose(Object.values(own.grads));
      throw new Error(`the training worker failed: ${other.message}`);
    }
    // Each part's loss weighed its share of the rows, so the batch's gradient is the sum: the worker's
    // copied in from its slot and added (two passes, where weighing here took four).
    const grads: tf.NamedTensorMap = {};
    this.vars.forEach((v, i) => {
      const g = own.grads[v.name]!;
      grads[v.name] = tf.tidy(() => tf.add(g, tf.tensor(this.grads[i]!, g.shape, "float32")));
    });
    tf.dispose(Object.values(own.grads));
    return { loss: own.loss + other.loss, metricSum: own.metricSum + other.metricSum, grads };
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}
