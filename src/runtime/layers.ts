/**
 * attnc's layers as TensorFlow.js layers: each registered under its className, serializable with getConfig,
 * following the equations in attnc's docs/language.md. Shared by `attnc train` and the generated programs.
 * Weights use the Keras/tfjs-layers layout: kernel [F, 4H], recurrent_kernel [H, 4H], bias [4H], gates i, f, g, o.
 */
import * as tf from "@tensorflow/tfjs";
import {
  attentionPoolAdditive,
  embeddingLookup,
  lstmCellStep,
  lstmSequence,
  maskedSoftmax,
  matMul2d,
  tanh,
  temporalAttentionLstm,
  timeDistributedMatMul,
  type RecurrentActivation,
} from "./ops.js";
import { sequenceKernelsAvailable } from "./kernels.js";
import { BiGru, Gru } from "./gru.js";
import {
  addWeightWithValue,
  configOption,
  first,
  firstShape,
  GATE_ACTIVATIONS,
  LayerConfigError,
  maskOf,
  mergeDirections,
  MERGE_MODES,
  orthogonal,
  passMask,
  type Config,
  type Init,
  type Kwargs,
  type LayerArgs,
  type Merge,
  type Shape,
} from "./layer-common.js";

/** Zeros, with the forget-gate block set to 1 when unit_forget_bias is on (the Keras default). */
function lstmBias(H: number, unitForgetBias: boolean): tf.Tensor {
  const v = new Float32Array(4 * H);
  if (unitForgetBias) v.fill(1, H, 2 * H);
  return tf.tensor1d(v);
}

const glorot = (seed: number): Init => tf.initializers.glorotUniform({ seed });
const uniform = (seed: number): Init => tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed });
const zeros = (): Init => tf.initializers.zeros();
/**
 * A score vector v in R^A, initialised like a Keras Dense(1) kernel (Glorot: limit sqrt(6 / (A + 1))). Porting
 * note: small uniform values would start every attention almost flat, a plateau that slows training.
 */
const scoreInit = (A: number, seed: number): Init => tf.initializers.randomUniform({ minval: -Math.sqrt(6 / (A + 1)), maxval: Math.sqrt(6 / (A + 1)), seed });

// ---- embedding

export interface EmbeddingArgs extends LayerArgs {
  /** Vocabulary size V; ids must be < V. */
  vocab: number;
  /** Embedding size E. */
  dim: number;
  /** Id 0 is padding: a mask [B, T] flows downstream. Default false. */
  maskZero?: boolean;
  seed?: number;
}

/** [B, T] ids -> [B, T, E]. Trains on every backend (scatter-add gradient). */
export class Embedding extends tf.layers.Layer {
  static className = "AttnEmbedding";
  readonly vocab: number;
  readonly dim: number;
  readonly maskZero: boolean;
  readonly seed: number;
  private table!: tf.LayerVariable;
  constructor(args: EmbeddingArgs) {
    super(args);
    this.vocab = args.vocab;
    this.dim = args.dim;
    this.maskZero = args.maskZero ?? false;
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }
  override build(): void {
    this.table = this.addWeight("embeddings", [this.vocab, this.dim], "float32", uniform(this.seed));
    this.built = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [...firstShape(inputShape), this.dim];
  }
  override computeMask(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return (this.maskZero ? tf.notEqual(first(inputs), 0) : null) as unknown as tf.Tensor;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => embeddingLookup(this.table.read() as tf.Tensor2D, first(inputs)));
  }
  override getConfig(): Config {
    return { ...super.getConfig(), vocab: this.vocab, dim: this.dim, maskZero: this.maskZero, seed: this.seed };
  }
}

// ---- recurrent layers

export type TemporalFeed = "concat" | "replace";
export type TemporalPosition = "offset" | "none";

export interface InputAttention {
  kind: "temporal" | "features";
  units: number;
  /** Temporal only: what the cell reads, [x_t ; x~_t] (concat) or x~_t alone (replace, the seed's form). */
  feed?: TemporalFeed;
  /** Temporal only: a learned score bias per offset i - t (offset), or none (the seed's form). */
  position?: TemporalPosition;
}

const INPUT_ATTENTION_KINDS: readonly InputAttention["kind"][] = ["temporal", "features"];
const TEMPORAL_FEEDS: readonly TemporalFeed[] = ["concat", "replace"];
const TEMPORAL_POSITIONS: readonly TemporalPosition[] = ["offset", "none"];

/** A config without feed or position is the seed's form (models saved before either existed). */
function inputAttentionOption(layer: string, value: InputAttention | null | undefined): InputAttention | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || !Number.isInteger(value.units) || value.units < 1)
    throw new LayerConfigError(`layer ${layer}: inputAttention must be {kind, units}, not ${JSON.stringify(value)}`);
  const kind = configOption(layer, "inputAttention.kind", value.kind, INPUT_ATTENTION_KINDS);
  if (kind === "features") {
    if (value.feed !== undefined || value.position !== undefined)
      throw new LayerConfigError(`layer ${layer}: feature input attention has no feed or position, not ${JSON.stringify(value)}`);
    return { kind, units: value.units };
  }
  return {
    kind,
    units: value.units,
    feed: configOption(layer, "inputAttention.feed", value.feed, TEMPORAL_FEEDS, "replace"),
    position: configOption(layer, "inputAttention.position", value.position, TEMPORAL_POSITIONS, "none"),
  };
}

export interface LstmArgs extends LayerArgs {
  /** Hidden size H. */
  units: number;
  /** Gate activation s; default sigmoid. */
  recurrentActivation?: RecurrentActivation;
  /** Forget-gate bias starts at 1; default true. */
  unitForgetBias?: boolean;
  /** Attention over the window's inputs at each step; its weights are a second output. */
  inputAttention?: InputAttention | null;
  seed?: number;
}

/** One LSTM cell's weights; a bilstm has two, prefixed forward_ and backward_. */
interface Cell {
  kernel: tf.LayerVariable;
  recurrentKernel: tf.LayerVariable;
  bias: tf.LayerVariable;
}

function addCell(
  layer: { addWeightPublic(n: string, s: number[], i: Init): tf.LayerVariable },
  prefix: string,
  F: number,
  H: number,
  unitForgetBias: boolean,
  seed: number,
): Cell {
  return {
    kernel: layer.addWeightPublic(`${prefix}kernel`, [F, 4 * H], glorot(seed)),
    recurrentKernel: addWeightWithValue(layer, `${prefix}recurrent_kernel`, orthogonal([H, 4 * H], seed + 1)),
    bias: addWeightWithValue(layer, `${prefix}bias`, lstmBias(H, unitForgetBias)),
  };
}

/** z = x W + h U + b for one step of the cell, products in the form the wasm backend runs fast. */
function gateInput(xt: tf.Tensor, h: tf.Tensor, W: tf.Tensor, U: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.add(tf.add(matMul2d(xt, W), matMul2d(h, U)), b);
}

/**
 * lstm(units H) over [B, T, F] -> [B, T, H]; with input attention also the attention weights
 * (temporal: [B, T, T], features: [B, T, F]).
 */
export class Lstm extends tf.layers.Layer {
  static className = "AttnLSTM";
  readonly units: number;
  readonly recurrentActivation: RecurrentActivation;
  readonly unitForgetBias: boolean;
  readonly inputAttention: InputAttention | null;
  readonly seed: number;
  private cell!: Cell;
  private att: tf.LayerVariable[] = [];
  constructor(args: LstmArgs) {
    super(args);
    this.units = args.units;
    this.recurrentActivation = configOption(this.name, "recurrentActivation", args.recurrentActivation, GATE_ACTIVATIONS, "sigmoid");
    this.unitForgetBias = args.unitForgetBias ?? true;
    this.inputAttention = inputAttentionOption(this.name, args.inputAttention);
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }
  addWeightPublic(name: string, shape: number[], init: Init): tf.LayerVariable {
    return this.addWeight(name, shape, "float32", init);
  }
  override build(inputShape: Shape | Shape[]): void {
    const [, T, F] = firstShape(inputShape) as [null, number | null, number];
    const H = this.units;
    this.cell = addCell(this, "", F, H, this.unitForgetBias, this.seed);
    const a = this.inputAttention;
    if (a?.kind === "temporal") {
      this.att = [
        this.addWeight("attention_W_h", [H, a.units], "float32", glorot(this.seed + 2)),
        this.addWeight("attention_W_x", [F, a.units], "float32", glorot(this.seed + 3)),
        this.addWeight("attention_b", [a.units], "float32", zeros()),
        this.addWeight("attention_v", [a.units], "float32", scoreInit(a.units, this.seed + 4)),
      ];
      // feed concat starts as the plain LSTM of the same seed: kernel is x_t's (initialised as the plain
      // LSTM's), and W~, which x~_t multiplies, starts at 0; position offset starts with no bias.
      if (a.feed === "concat") this.att.push(this.addWeight("attention_kernel", [F, 4 * H], "float32", zeros()));
      if (a.position === "offset") {
        if (T === null) throw new Error("temporal input attention with position offset needs a fixed window length T");
        this.att.push(this.addWeight("attention_p", [2 * T - 1], "float32", zeros()));
      }
    } else if (a?.kind === "features") {
      if (T === null) throw new Error("feature input attention needs a fixed window length T");
      // The layer starts as the plain LSTM: v = 0 makes alpha = 1/F for every series, and the input kernel is
      // scaled by F so that x~_t W = x_t W_plain. A random v would start by scaling the series at random, noise
      // that the cell has to learn around (Seattle weather, 5 seeds: test RMSE 2.85 mean, 2.78 with this start).
      const scaled = tf.tidy(() => tf.mul(this.cell.kernel.read(), F));
      this.cell.kernel.write(scaled);
      scaled.dispose();
      this.att = [
        this.addWeight("attention_W_e", [2 * H, a.units], "float32", glorot(this.seed + 2)),
        this.addWeight("attention_U_e", [T, a.units], "float32", glorot(this.seed + 3)),
        this.addWeight("attention_v", [a.units], "float32", zeros()),
      ];
    }
    this.built = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    const [B, T, F] = firstShape(inputShape);
    const out: Shape = [B!, T!, this.units];
    if (!this.inputAttention) return out;
    return [out, [B!, T!, this.inputAttention.kind === "temporal" ? T! : F!]];
  }
  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    const m = (Array.isArray(mask) ? mask[0] : mask) ?? null;
    return (this.inputAttention ? [m, null] : m) as unknown as tf.Tensor;
  }
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const x = first(inputs) as tf.Tensor3D;
      const mask = maskOf(kwargs);
      const { kernel, recurrentKernel, bias } = this.cell;
      const W = kernel.read() as tf.Tensor2D;
      const U = recurrentKernel.read() as tf.Tensor2D;
      const b = bias.read() as tf.Tensor1D;
      if (!this.inputAttention) return lstmSequence(x, W, U, b, mask, { recurrentActivation: this.recurrentActivation });
      return this.inputAttention.kind === "temporal" ? this.temporal(x, W, U, b, mask) : this.features(x, W, U, b, mask);
    });
  }

  /**
   * Temporal input attention: e_{t,i} = v . tanh(h_{t-1} W_h + x_i W_x + b) (+ p_{i-t+T-1} with position offset),
   * a_t = softmax_i(e_t) over unmasked i, x~_t = sum_i a_{t,i} x_i, (h_t, c_t) = LSTM(x~_t, h_{t-1}, c_{t-1}), or with
   * feed concat LSTM([x_t ; x~_t], ...), z = x_t W + x~_t W~ + h U + b. x_i W_x is computed once per sequence.
   */
  private temporal(x: tf.Tensor3D, W: tf.Tensor, U: tf.Tensor, b: tf.Tensor, mask: tf.Tensor2D | null): tf.Tensor[] {
    const [B, T, F] = x.shape;
    const H = this.units;
    const [Wh, Wx, ba, v, ...rest] = this.att.map((w) => w.read()) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, ...tf.Tensor[]];
    const a = this.inputAttention!;
    const Wf = a.feed === "concat" ? (rest.shift() as tf.Tensor2D) : undefined;
    const p = a.position === "offset" ? (rest.shift() as tf.Tensor1D) : undefined;
    if (sequenceKernelsAvailable())
      return temporalAttentionLstm(
        x,
        [W as tf.Tensor2D, U as tf.Tensor2D, b as tf.Tensor1D],
        [Wh, Wx, ba, v],
        mask,
        { recurrentActivation: this.recurrentActivation },
        { ...(Wf ? { feedKernel: Wf } : {}), ...(p ? { position: p } : {}) },
      );
    const A = v.shape[0];
    const xw = tf.add(timeDistributedMatMul(x, Wx), ba); // [B, T, A], once
    const v2 = v.reshape([A, 1]);
    const ms = mask ? tf.unstack(mask.reshape([B, T, 1]), 1) : null;
    const xs = Wf ? tf.unstack(x, 1) : null;
    const Wcell = Wf ? tf.concat([W, Wf], 0) : W; // [x_t ; x~_t] @ [W ; W~]
    let h: tf.Tensor = tf.zeros([B, H]);
    let c: tf.Tensor = tf.zeros([B, H]);
    const hs: tf.Tensor[] = [];
    const as: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const u = tanh(tf.add(xw, matMul2d(h, Wh).reshape([B, 1, A])));
      let e = matMul2d(u.reshape([B * T, A]), v2).reshape([B, T]);
      if (p) e = tf.add(e, tf.slice(p, [T - 1 - t], [T]).reshape([1, T]));
      const at = maskedSoftmax(e, mask);
      const mixed = tf.sum(tf.mul(at.reshape([B, T, 1]), x), 1);
      const xt = xs ? tf.concat([xs[t]!.reshape([B, F]), mixed], 1) : mixed;
      [h, c] = lstmCellStep(gateInput(xt, h, Wcell, U, b), h, c, ms ? ms[t]! : null, this.recurrentActivation);
      hs.push(h);
      as.push(at);
    }
    return [tf.stack(hs, 1), tf.stack(as, 1)];
  }

  /**
   * DA-RNN input attention: x^k in R^T is series k over the window; e_t^k = v . tanh([h_{t-1}; c_{t-1}] W_e + x^k U_e),
   * alpha_t = softmax_k(e_t), x~_t = alpha_t * x_t. x^k U_e is computed once per sequence.
   */
  private features(x: tf.Tensor3D, W: tf.Tensor, U: tf.Tensor, b: tf.Tensor, mask: tf.Tensor2D | null): tf.Tensor[] {
    const [B, T, F] = x.shape;
    const H = this.units;
    const [We, Ue, v] = this.att.map((w) => w.read()) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    const A = v.shape[0];
    const xu = matMul2d(tf.transpose(x, [0, 2, 1]).reshape([B * F, T]), Ue).reshape([B, F, A]); // once
    const v2 = v.reshape([A, 1]);
    const xs = tf.unstack(x, 1);
    const ms = mask ? tf.unstack(mask.reshape([B, T, 1]), 1) : null;
    let h: tf.Tensor = tf.zeros([B, H]);
    let c: tf.Tensor = tf.zeros([B, H]);
    const hs: tf.Tensor[] = [];
    const as: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const u = tanh(tf.add(xu, matMul2d(tf.concat([h, c], 1), We).reshape([B, 1, A])));
      const alpha = tf.softmax(matMul2d(u.reshape([B * F, A]), v2).reshape([B, F]));
      [h, c] = lstmCellStep(gateInput(tf.mul(alpha, xs[t]!), h, W, U, b), h, c, ms ? ms[t]! : null, this.recurrentActivation);
      hs.push(h);
      as.push(alpha);
    }
    return [tf.stack(hs, 1), tf.stack(as, 1)];
  }

  override getConfig(): Config {
    return {
      ...super.getConfig(),
      units: this.units,
      recurrentActivation: this.recurrentActivation,
      unitForgetBias: this.unitForgetBias,
      inputAttention: this.inputAttention as unknown as Config,
      seed: this.seed,
    };
  }
}

export interface BiLstmArgs extends LayerArgs {
  units: number;
  /** concat [B, T, 2H] (default), sum, ave or mul [B, T, H]. */
  merge?: Merge;
  recurrentActivation?: RecurrentActivation;
  unitForgetBias?: boolean;
  seed?: number;
}

/** A forward and a backward LSTM; the backward one reads the sequence reversed, its outputs re-aligned to step t. */
export class BiLstm extends tf.layers.Layer {
  static className = "AttnBiLSTM";
  readonly units: number;
  readonly merge: Merge;
  readonly recurrentActivation: RecurrentActivation;
  readonly unitForgetBias: boolean;
  readonly seed: number;
  private fwd!: Cell;
  private bwd!: Cell;
  constructor(args: BiLstmArgs) {
    super(args);
    this.units = args.units;
    this.merge = configOption(this.name, "merge", args.merge, MERGE_MODES, "concat");
    this.recurrentActivation = configOption(this.name, "recurrentActivation", args.recurrentActivation, GATE_ACTIVATIONS, "sigmoid");
    this.unitForgetBias = args.unitForgetBias ?? true;
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }
  addWeightPublic(name: string, shape: number[], init: Init): tf.LayerVariable {
    return this.addWeight(name, shape, "float32", init);
  }
  override build(inputShape: Shape | Shape[]): void {
    const F = firstShape(inputShape)[2]!;
    this.fwd = addCell(this, "forward_", F, this.units, this.unitForgetBias, this.seed);
    this.bwd = addCell(this, "backward_", F, this.units, this.unitForgetBias, this.seed + 100);
    this.built = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [B, T] = firstShape(inputShape);
    return [B!, T!, this.merge === "concat" ? 2 * this.units : this.units];
  }
  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return passMask(mask);
  }
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = first(inputs) as tf.Tensor3D;
      const mask = maskOf(kwargs);
      const run = (cell: Cell, reverse: boolean) =>
        lstmSequence(x, cell.kernel.read() as tf.Tensor2D, cell.recurrentKernel.read() as tf.Tensor2D, cell.bias.read() as tf.Tensor1D, mask, {
          reverse,
          recurrentActivation: this.recurrentActivation,
        });
      const f = run(this.fwd, false);
      const r = run(this.bwd, true);
      return mergeDirections(f, r, this.merge);
    });
  }
  override getConfig(): Config {
    return {
      ...super.getConfig(),
      units: this.units,
      merge: this.merge,
      recurrentActivation: this.recurrentActivation,
      unitForgetBias: this.unitForgetBias,
      seed: this.seed,
    };
  }
}

// ---- attention pooling

const POOL_SCORES: readonly ("additive" | "zhou")[] = ["additive", "zhou"];

export interface AttentionPoolArgs extends LayerArgs {
  /** Attention size A (additive score). */
  units?: number | null;
  score?: "additive" | "zhou";
  seed?: number;
}

/**
 * Attention pooling over time, [B, T, D] -> [B, D], plus the weights alpha [B, T] as a second output.
 * additive (Yang et al. 2016): u_t = tanh(h_t W + b), e_t = v . u_t, c = sum_t alpha_t h_t.
 * zhou (Zhou et al. 2016): e_t = w . tanh(h_t), c = tanh(sum_t alpha_t h_t).
 * alpha = softmax over unmasked steps; masked steps get exactly 0.
 */
export class AttentionPool extends tf.layers.Layer {
  static className = "AttnAttentionPool";
  readonly units: number | null;
  readonly score: "additive" | "zhou";
  readonly seed: number;
  private w: tf.LayerVariable[] = [];
  constructor(args: AttentionPoolArgs) {
    super(args);
    this.units = args.units ?? null;
    this.score = configOption(this.name, "score", args.score, POOL_SCORES, "additive");
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }
  override build(inputShape: Shape | Shape[]): void {
    const D = firstShape(inputShape)[2]!;
    if (this.score === "zhou") this.w = [this.addWeight("w", [D], "float32", scoreInit(D, this.seed))];
    else {
      const A = this.units!;
      this.w = [
        this.addWeight("W", [D, A], "float32", glorot(this.seed)),
        this.addWeight("b", [A], "float32", zeros()),
        this.addWeight("v", [A], "float32", scoreInit(A, this.seed + 1)),
      ];
    }
    this.built = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape[] {
    const [B, T, D] = firstShape(inputShape);
    return [
      [B!, D!],
      [B!, T!],
    ];
  }
  override computeMask(): tf.Tensor[] {
    return [null, null] as unknown as tf.Tensor[];
  }
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor[] {
    return tf.tidy(() => {
      const h = first(inputs) as tf.Tensor3D;
      const [B, T, D] = h.shape;
      const mask = maskOf(kwargs);
      let e: tf.Tensor;
      if (this.score === "zhou") {
        e = matMul2d(tanh(h).reshape([B * T, D]), this.w[0]!.read().reshape([D, 1])).reshape([B, T]);
      } else {
        const [W, b, v] = this.w.map((x) => x.read()) as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        if (sequenceKernelsAvailable()) return attentionPoolAdditive(h, W, b, v, mask);
        const u = tanh(tf.add(timeDistributedMatMul(h, W), b));
        e = matMul2d(u.reshape([B * T, W.shape[1]]), v.reshape([-1, 1])).reshape([B, T]);
      }
      const alpha = maskedSoftmax(e, mask);
      const c = tf.sum(tf.mul(alpha.reshape([B, T, 1]), h), 1);
      return [this.score === "zhou" ? tanh(c) : c, alpha];
    });
  }
  override getConfig(): Config {
    return { ...super.getConfig(), units: this.units, score: this.score, seed: this.seed };
  }
}

// ---- reductions, dropout, dense

const REDUCE_MODES: readonly ReduceArgs["mode"][] = ["last", "mean", "max"];

export interface ReduceArgs extends LayerArgs {
  mode: "last" | "mean" | "max";
}

/** last / mean_pool / max_pool over time, [B, T, D] -> [B, D], mask-aware (last = last unmasked step). */
export class Reduce extends tf.layers.Layer {
  static className = "AttnReduce";
  readonly mode: "last" | "mean" | "max";
  constructor(args: ReduceArgs) {
    super(args);
    this.mode = configOption(this.name, "mode", args.mode, REDUCE_MODES);
    this.supportsMasking = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = firstShape(inputShape);
    return [s[0]!, s[2]!];
  }
  override computeMask(): tf.Tensor {
    return null as unknown as tf.Tensor;
  }
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const h = first(inputs) as tf.Tensor3D;
      const [B, T, D] = h.shape;
      const mask = maskOf(kwargs);
      if (this.mode === "last") {
        if (!mask) return h.slice([0, T - 1, 0], [B, 1, D]).reshape([B, D]);
        // The last unmasked step: one-hot selection keeps this differentiable on every backend.
        const pos = tf.max(tf.mul(mask, tf.range(1, T + 1).reshape([1, T])), 1); // 1-based; 0 = all masked
        const sel = tf.mul(tf.oneHot(tf.sub(tf.clipByValue(pos, 1, T), 1).toInt(), T).toFloat(), tf.greater(pos, 0).toFloat().reshape([B, 1]));
        return tf.sum(tf.mul(sel.reshape([B, T, 1]), h), 1);
      }
      if (this.mode === "mean") {
        if (!mask) return tf.mean(h, 1);
        return tf.div(tf.sum(tf.mul(h, mask.reshape([B, T, 1])), 1), tf.maximum(tf.sum(mask, 1, true), 1));
      }
      if (!mask) return tf.max(h, 1);
      const any = tf.greater(tf.sum(mask, 1, true), 0).toFloat();
      return tf.mul(tf.max(tf.add(h, tf.mul(tf.sub(mask, 1), 1e9).reshape([B, T, 1])), 1), any);
    });
  }
  override getConfig(): Config {
    return { ...super.getConfig(), mode: this.mode };
  }
}

export interface DropoutArgs extends LayerArgs {
  rate: number;
  seed?: number;
}

/**
 * Inverted dropout in training, identity otherwise. Each call draws a new mask from a seeded stream, so a seed
 * makes training reproducible. Masks pass through.
 */
export class Dropout extends tf.layers.Layer {
  static className = "AttnDropout";
  readonly rate: number;
  readonly seed: number;
  private calls = 0;
  /**
   * Which part of a batch this copy of the layer sees when a batch is split between threads: part 0 draws
   * from the layer's own stream, part k > 0 from an independent one, at the same position.
   */
  shard = 0;
  constructor(args: DropoutArgs) {
    super(args);
    this.rate = args.rate;
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return firstShape(inputShape);
  }
  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return passMask(mask);
  }
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = first(inputs);
    if (kwargs["training"] !== true || this.rate === 0) return tf.clone(x);
    return tf.tidy(() => {
      const stream = this.seed * 1000003 + this.calls++;
      const keep = tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, "float32", this.shard === 0 ? stream : `${stream}/${this.shard}`), this.rate).toFloat();
      return tf.mul(x, tf.div(keep, 1 - this.rate));
    });
  }
  /** The position in the random stream, saved in checkpoints so that a resumed run draws the same masks. */
  get streamPosition(): number {
    return this.calls;
  }
  set streamPosition(n: number) {
    this.calls = n;
  }
  override getConfig(): Config {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

export type Activation = "linear" | "relu" | "tanh" | "sigmoid" | "softmax";
const DENSE_ACTIVATIONS: readonly Activation[] = ["linear", "relu", "tanh", "sigmoid", "softmax"];

export interface DenseArgs extends LayerArgs {
  units: number;
  activation?: Activation;
  seed?: number;
}

/** y = activation(x kernel + bias); on [B, T, D] it applies per step (one 2-D product), and the mask passes through. */
export class Dense extends tf.layers.Layer {
  static className = "AttnDense";
  readonly units: number;
  readonly activation: Activation;
  readonly seed: number;
  private kernel!: tf.LayerVariable;
  private bias!: tf.LayerVariable;
  constructor(args: DenseArgs) {
    super(args);
    this.units = args.units;
    this.activation = configOption(this.name, "activation", args.activation, DENSE_ACTIVATIONS, "linear");
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }
  override build(inputShape: Shape | Shape[]): void {
    const s = firstShape(inputShape);
    this.kernel = this.addWeight("kernel", [s[s.length - 1]!, this.units], "float32", glorot(this.seed));
    this.bias = this.addWeight("bias", [this.units], "float32", zeros());
    this.built = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = firstShape(inputShape);
    return [...s.slice(0, -1), this.units];
  }
  override computeMask(inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return (first(inputs).shape.length === 3 ? passMask(mask) : null) as unknown as tf.Tensor;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = first(inputs);
      const W = this.kernel.read() as tf.Tensor2D;
      const y = x.shape.length === 3 ? timeDistributedMatMul(x as tf.Tensor3D, W) : matMul2d(x as tf.Tensor2D, W);
      const z = tf.add(y, this.bias.read());
      switch (this.activation) {
        case "linear":
          return z;
        case "relu":
          return tf.relu(z);
        case "tanh":
          return tanh(z);
        case "sigmoid":
          return tf.sigmoid(z);
        case "softmax":
          return tf.softmax(z);
      }
    });
  }
  override getConfig(): Config {
    return { ...super.getConfig(), units: this.units, activation: this.activation, seed: this.seed };
  }
}

/** A node's layer seed: fixed by the run's seed and the node's position, so the same seed gives the same weights. */
export function layerSeed(seed: number, index: number): number {
  return ((seed + 1) * 7919 + index * 104729) % 2147483647;
}

/**
 * Every attnc layer class, by the name the generated programs import it under (a kind names its runtime class
 * by this key, src/layers/kind.ts): registered with TensorFlow.js by registerLayers, constructed by name by
 * src/engine/build-model.ts. A layer class in a file of its own (gru.ts) is listed here too.
 */
export const LAYER_CLASSES = { Embedding, Lstm, BiLstm, AttentionPool, Reduce, Dropout, Dense, Gru, BiGru } as const;

let layersRegistered = false;
/** Registers attnc's layers with TensorFlow.js, so that `tf.loadLayersModel` can read a saved attnc model. */
export function registerLayers(): void {
  if (layersRegistered) return;
  for (const c of Object.values(LAYER_CLASSES))
    tf.serialization.registerClass(c as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  layersRegistered = true;
}
