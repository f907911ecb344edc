/**
 * attnc's GRU layers, gru and bigru, as TensorFlow.js layers (Keras semantics, docs/language.md), and the GRU
 * pass over a sequence with its backward pass written out. Weights use the Keras layout, gates z, r, h in blocks
 * of H: kernel [F, 3H], recurrent_kernel [H, 3H], bias [2, 3H] (input row, recurrent row) with reset_after, else
 * [3H]. Only `@tensorflow/tfjs` and the shared ops are imported.
 */
import * as tf from "@tensorflow/tfjs";
import { hardSigmoid, hardSigmoidGrad, tanh, type RecurrentActivation } from "./ops.js";
import {
  configOption,
  first,
  firstShape,
  GATE_ACTIVATIONS,
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

export interface GruOptions {
  /** Read the sequence from the last step to the first; outputs stay aligned with the input steps. */
  readonly reverse?: boolean;
  readonly recurrentActivation?: RecurrentActivation;
  /** The candidate applies r after the recurrent product (Keras' and PyTorch's default); bias [2, 3H]. Default true. */
  readonly resetAfter?: boolean;
}

/** Row t of a [T, ...] tensor as a [...] tensor, read with one gather (a slice copies its whole input on wasm). */
function gruRow(x: tf.Tensor, t: number, shape: number[]): tf.Tensor {
  return tf.gather(x, tf.tensor1d([t], "int32")).reshape(shape);
}

/** A gate: sigmoid, or the LSTM's hard_sigmoid (ops.ts). */
function gruGate(z: tf.Tensor, hard: boolean): tf.Tensor {
  return hard ? hardSigmoid(z) : tf.sigmoid(z);
}

/** The gate's derivative from its output a: a (1 - a) for sigmoid; for hard_sigmoid 0.2 inside the linear part, 0 where clipped. */
function gruGateGrad(a: tf.Tensor, hard: boolean): tf.Tensor {
  return hard ? hardSigmoidGrad(a) : tf.mul(a, tf.sub(1, a));
}

/**
 * A whole GRU pass over [B, T, F] with backpropagation through time written out. Gates z, r, h in blocks of H:
 *   z = s(x W_z + h U_z + b_z),  r = s(x W_r + h U_r + b_r)
 *   reset_after:    hh = tanh(x W_h + b_h + r * (h U_h + b'_h))   (b' the recurrent bias row)
 *   otherwise:      hh = tanh(x W_h + (r * h) U_h + b_h)
 *   h_t = z * h_{t-1} + (1 - z) * hh
 * With reset_after the z and r blocks add both bias rows. mask [B, T] (1 = real step): at a masked step h carries
 * over, and the output is the carried h. Returns every step's h, [B, T, H].
 */
export function gruSequence(
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor,
  mask: tf.Tensor2D | null,
  options: GruOptions = {},
): tf.Tensor3D {
  const [B, T, F] = x.shape;
  const H = recurrentKernel.shape[0];
  const hard = options.recurrentActivation === "hard_sigmoid";
  const after = options.resetAfter !== false;
  const expectBias = after ? [2, 3 * H] : [3 * H];
  if (bias.shape.join() !== expectBias.join()) throw new Error(`gru: bias must be [${expectBias.join(", ")}], not [${bias.shape.join(", ")}]`);
  const order = Array.from({ length: T }, (_, s) => (options.reverse === true ? T - 1 - s : s));

  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, uIn, bIn, save] = args as [tf.Tensor, tf.Tensor2D, tf.Tensor2D, tf.Tensor, tf.GradSaveFunc];
    // The input side's bias: all of b, or with reset_after the input row plus the recurrent row's z and r blocks
    // (they add outside the gate product); the recurrent row's h block, b'_h, stays inside it.
    const bx = after ? tf.add(tf.slice(bIn, [0, 0], [1, 3 * H]), tf.concat([tf.slice(bIn, [1, 0], [1, 2 * H]), tf.zeros([1, H])], 1)).reshape([3 * H]) : bIn;
    const bh = after ? tf.slice(bIn, [1, 2 * H], [1, H]) : null;
    const Uzr = tf.slice(uIn, [0, 0], [H, 2 * H]);
    const Uh = tf.slice(uIn, [0, 2 * H], [H, H]);
    // Time-major, so that step t is a contiguous block: [T * B, F] @ [F, 3H], once for the whole sequence.
    const xt = tf.transpose(xIn, [1, 0, 2]).reshape([T * B, F]);
    const xw = tf.add(tf.matMul(xt, wIn), bx);
    const mT = mask ? tf.transpose(mask.toFloat(), [1, 0]).reshape([T * B, 1]) : null;
    // One gather per step reads the step's x W + b_x and its mask together: [T, B, 3H (+ 1)].
    const K = 3 * H + (mT ? 1 : 0);
    const steps = (mT ? tf.concat([xw, mT], 1) : xw).reshape([T, B, K]);
    let h: tf.Tensor = tf.zeros([B, H]);
    const outs: tf.Tensor[] = new Array<tf.Tensor>(T);
    // Saved per step, in processing order: z, r, hh, h_{t-1}, then (reset_after) h U_h + b'_h, then mask_t.
    const saved: tf.Tensor[] = [xt];
    for (const t of order) {
      const [xzr, xht, m] = tf.split(gruRow(steps, t, [B, K]), mT ? [2 * H, H, 1] : [2 * H, H], 1) as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const zr = gruGate(tf.add(xzr, tf.matMul(h, Uzr)), hard);
      const [z, r] = tf.split(zr, 2, 1) as [tf.Tensor, tf.Tensor];
      let hu: tf.Tensor | null = null;
      let n: tf.Tensor;
      if (after) {
        hu = tf.add(tf.matMul(h, Uh), bh!);
        n = tanh(tf.add(xht, tf.mul(r, hu)));
      } else {
        n = tanh(tf.add(xht, tf.matMul(tf.mul(r, h), Uh)));
      }
      const hNew = tf.add(n, tf.mul(z, tf.sub(h, n)));
      saved.push(z, r, n, h, ...(hu ? [hu] : []));
      if (m) {
        saved.push(m);
        h = tf.add(h, tf.mul(m, tf.sub(hNew, h)));
      } else {
        h = hNew;
      }
      outs[t] = h;
    }
    save(saved);
    const value = tf.transpose(tf.concat(outs, 0).reshape([T, B, H]), [1, 0, 2]);
    const perStep = 4 + (after ? 1 : 0) + (mT ? 1 : 0);
    return {
      value,
      gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => {
        const xtS = s[0]!;
        const dyT = tf.transpose(dy, [1, 0, 2]).reshape([T, B, H]);
        const uT = tf.transpose(uIn);
        // From the inputs again: what the forward pass made in between is gone once the layer's tidy ends.
        const uhT = tf.transpose(tf.slice(uIn, [0, 2 * H], [H, H]));
        const uzrT = tf.transpose(tf.slice(uIn, [0, 0], [H, 2 * H]));
        let dh: tf.Tensor = tf.zeros([B, H]);
        const dxs: tf.Tensor[] = new Array<tf.Tensor>(T); // d(x W + b_x) per step, [B, 3H]
        const dus: tf.Tensor[] = new Array<tf.Tensor>(T); // d(h U + ...) per step, [B, 3H]
        const hPrev: tf.Tensor[] = new Array<tf.Tensor>(T);
        const rhPrev: tf.Tensor[] = new Array<tf.Tensor>(T); // r * h_{t-1}, what U_h multiplies without reset_after
        for (let k = T - 1; k >= 0; k--) {
          const t = order[k]!;
          const base = 1 + k * perStep;
          const [z, r, n, hP] = s.slice(base, base + 4) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          hPrev[t] = hP;
          const dhTotal = tf.add(gruRow(dyT, t, [B, H]), dh);
          let dhNew = dhTotal;
          let dhCarry: tf.Tensor | null = null;
          if (mT) {
            const m = s[base + perStep - 1]!;
            dhNew = tf.mul(m, dhTotal);
            dhCarry = tf.sub(dhTotal, dhNew);
          }
          const dzp = tf.mul(tf.mul(dhNew, tf.sub(hP, n)), gruGateGrad(z, hard));
          const dnp = tf.mul(tf.mul(dhNew, tf.sub(1, z)), tf.sub(1, tf.square(n)));
          let drp: tf.Tensor;
          let dhh: tf.Tensor; // d of what U_h's product feeds: h U_h + b'_h (reset_after) or (r * h) U_h
          let dPrev = tf.mul(dhNew, z);
          if (after) {
            const hu = s[base + 4]!;
            drp = tf.mul(tf.mul(dnp, hu), gruGateGrad(r, hard));
            dhh = tf.mul(dnp, r);
            dus[t] = tf.concat([dzp, drp, dhh], 1);
            dPrev = tf.add(dPrev, tf.matMul(dus[t]!, uT));
          } else {
            const drh = tf.matMul(dnp, uhT);
            drp = tf.mul(tf.mul(drh, hP), gruGateGrad(r, hard));
            dhh = dnp;
            rhPrev[t] = tf.mul(r, hP);
            dus[t] = tf.concat([dzp, drp, dhh], 1);
            dPrev = tf.add(tf.add(dPrev, tf.mul(drh, r)), tf.matMul(tf.concat([dzp, drp], 1), uzrT));
          }
          dxs[t] = tf.concat([dzp, drp, dnp], 1);
          dh = dhCarry ? tf.add(dPrev, dhCarry) : dPrev;
        }
        const dX3 = tf.concat(dxs, 0); // [T * B, 3H], time-major like xt
        const dU3 = tf.concat(dus, 0);
        const dX = tf.transpose(tf.matMul(dX3, tf.transpose(wIn)).reshape([T, B, F]), [1, 0, 2]);
        const dW = tf.matMul(tf.transpose(xtS), dX3);
        const hP = tf.concat(hPrev, 0);
        let dU: tf.Tensor;
        let db: tf.Tensor;
        if (after) {
          dU = tf.matMul(tf.transpose(hP), dU3);
          db = tf.stack([tf.sum(dX3, 0), tf.sum(dU3, 0)]);
        } else {
          const dUzr = tf.matMul(tf.transpose(hP), tf.slice(dU3, [0, 0], [T * B, 2 * H]));
          const dUh = tf.matMul(tf.transpose(tf.concat(rhPrev, 0)), tf.slice(dU3, [0, 2 * H], [T * B, H]));
          dU = tf.concat([dUzr, dUh], 1);
          db = tf.sum(dX3, 0);
        }
        return [dX, dW, dU, db];
      },
    };
  });
  return run(x, kernel, recurrentKernel, bias) as tf.Tensor3D;
}

// ---- the layers

type GruWeightAdder = { addWeightPublic(n: string, s: number[], i: Init): tf.LayerVariable };

/** One GRU cell's weights; a bigru has two, prefixed forward_ and backward_. */
interface GruCell {
  kernel: tf.LayerVariable;
  recurrentKernel: tf.LayerVariable;
  bias: tf.LayerVariable;
}

/** kernel glorot_uniform, recurrent_kernel orthogonal, bias zeros, seeded as the LSTM's. */
function addGruCell(layer: GruWeightAdder, prefix: string, F: number, H: number, resetAfter: boolean, seed: number): GruCell {
  const kernel = layer.addWeightPublic(`${prefix}kernel`, [F, 3 * H], tf.initializers.glorotUniform({ seed }));
  const recurrentKernel = layer.addWeightPublic(`${prefix}recurrent_kernel`, [H, 3 * H], tf.initializers.zeros());
  const u = orthogonal([H, 3 * H], seed + 1);
  recurrentKernel.write(u);
  u.dispose();
  return {
    kernel,
    recurrentKernel,
    bias: layer.addWeightPublic(`${prefix}bias`, resetAfter ? [2, 3 * H] : [3 * H], tf.initializers.zeros()),
  };
}

function runGruCell(x: tf.Tensor3D, cell: GruCell, mask: tf.Tensor2D | null, options: GruOptions): tf.Tensor3D {
  return gruSequence(x, cell.kernel.read() as tf.Tensor2D, cell.recurrentKernel.read() as tf.Tensor2D, cell.bias.read(), mask, options);
}

export interface GruArgs extends LayerArgs {
  /** Hidden size H. */
  units: number;
  /** Gate activation s; default sigmoid. */
  recurrentActivation?: RecurrentActivation;
  /** Default true. */
  resetAfter?: boolean;
  seed?: number;
}

/** gru(units H) over [B, T, F] -> [B, T, H]; the mask passes through. */
export class Gru extends tf.layers.Layer {
  static className = "AttnGRU";
  readonly units: number;
  readonly recurrentActivation: RecurrentActivation;
  readonly resetAfter: boolean;
  readonly seed: number;
  private cell!: GruCell;
  constructor(args: GruArgs) {
    super(args);
    this.units = args.units;
    this.recurrentActivation = configOption(this.name, "recurrentActivation", args.recurrentActivation, GATE_ACTIVATIONS, "sigmoid");
    this.resetAfter = args.resetAfter ?? true;
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }
  addWeightPublic(name: string, shape: number[], init: Init): tf.LayerVariable {
    return this.addWeight(name, shape, "float32", init);
  }
  override build(inputShape: Shape | Shape[]): void {
    this.cell = addGruCell(this, "", firstShape(inputShape)[2]!, this.units, this.resetAfter, this.seed);
    this.built = true;
  }
  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [B, T] = firstShape(inputShape);
    return [B!, T!, this.units];
  }
  override computeMask(_inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return passMask(mask);
  }
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() =>
      runGruCell(first(inputs) as tf.Tensor3D, this.cell, maskOf(kwargs), { recurrentActivation: this.recurrentActivation, resetAfter: this.resetAfter }),
    );
  }
  override getConfig(): Config {
    return { ...super.getConfig(), units: this.units, recurrentActivation: this.recurrentActivation, resetAfter: this.resetAfter, seed: this.seed };
  }
}

export interface BiGruArgs extends GruArgs {
  /** concat [B, T, 2H] (default), sum, ave or mul [B, T, H]. */
  merge?: Merge;
}

/** A forward and a backward GRU; the backward one reads the sequence reversed, its outputs re-aligned to step t. */
export class BiGru extends tf.layers.Layer {
  static className = "AttnBiGRU";
  readonly units: number;
  readonly merge: Merge;
  readonly recurrentActivation: RecurrentActivation;
  readonly resetAfter: boolean;
  readonly seed: number;
  private fwd!: GruCell;
  private bwd!: GruCell;
  constructor(args: BiGruArgs) {
    super(args);
    this.units = args.units;
    this.merge = configOption(this.name, "merge", args.merge, MERGE_MODES, "concat");
    this.recurrentActivation = configOption(this.name, "recurrentActivation", args.recurrentActivation, GATE_ACTIVATIONS, "sigmoid");
    this.resetAfter = args.resetAfter ?? true;
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }
  addWeightPublic(name: string, shape: number[], init: Init): tf.LayerVariable {
    return this.addWeight(name, shape, "float32", init);
  }
  override build(inputShape: Shape | Shape[]): void {
    const F = firstShape(inputShape)[2]!;
    this.fwd = addGruCell(this, "forward_", F, this.units, this.resetAfter, this.seed);
    this.bwd = addGruCell(this, "backward_", F, this.units, this.resetAfter, this.seed + 100);
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
      const options = { recurrentActivation: this.recurrentActivation, resetAfter: this.resetAfter };
      const f = runGruCell(x, this.fwd, mask, options);
      const r = runGruCell(x, this.bwd, mask, { ...options, reverse: true });
      return mergeDirections(f, r, this.merge);
    });
  }
  override getConfig(): Config {
    return {
      ...super.getConfig(),
      units: this.units,
      merge: this.merge,
      recurrentActivation: this.recurrentActivation,
      resetAfter: this.resetAfter,
      seed: this.seed,
    };
  }
}
