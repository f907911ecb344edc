/**
 * The sequence kernels of attnc, written once and used by `attnc train` and by generated programs alike.
 * Everything here is plain TensorFlow.js; only `@tensorflow/tfjs` is imported.
 *
 * Two tiers: on wasm and cpu, whole-sequence kernels (kernels.ts) run the LSTM, the temporal-attention LSTM and
 * additive attention pooling with their backward passes written out; elsewhere (the native backend, or with the
 * kernels switched off) TensorFlow.js ops, which also run feature input attention everywhere. Each tier writes
 * the LSTM cell once, forward and backward: the op tier in lstmCellForward and lstmCellBackward below, the kernel
 * tier in sequenceCell and sequenceCellGrad (kernels.ts).
 *
 * Speed notes (measured on the wasm backend): Slice, SplitV and Unpack copy their whole input on every call,
 * so per-step slices of a [T, ...] tensor cost O(T^2) over a sequence; Gather reads only what it returns, so
 * the op-based recurrent loops fetch step t with a gather. Matrix products are kept 2-D and without transpose
 * flags (the form the fast wasm kernel takes; with a flag it runs a naive loop), and the operand the backend
 * packs (the right one) is the smaller where there is a choice.
 */
import * as tf from "@tensorflow/tfjs";
import {
  ATTENTION_POOL,
  ATTENTION_POOL_GRAD,
  GATHER_ROWS,
  LSTM_SEQUENCE,
  LSTM_SEQUENCE_GRAD,
  PRODUCT_TN,
  runKernel,
  sequenceKernelsAvailable,
  splitLast,
  TEMPORAL_LSTM,
  TEMPORAL_LSTM_GRAD,
} from "./kernels.js";

/** Large enough that exp(-MASK_NEG) is exactly 0 in float32. */
const MASK_NEG = 1e9;

/** Row t of a [T, ...] tensor, as a [...] tensor, read with one gather. */
function step(x: tf.Tensor, t: number, shape: number[]): tf.Tensor {
  return tf.gather(x, tf.tensor1d([t], "int32")).reshape(shape);
}

/**
 * Embedding lookup whose gradient is a scatter-add of the incoming rows (tf.scatterND sums duplicate
 * indices). Porting note: tfjs' own gather gradient needs UnsortedSegmentSum, which the wasm backend lacks
 * and which costs O(V x N x E) on cpu; this one costs O(N x E) plus zeroing the [V, E] gradient.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  const [V, E] = table.shape;
  const flat = ids.reshape([-1]).toInt();
  const n = flat.shape[0]!;
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([flat]);
    const rows = sequenceKernelsAvailable() ? runKernel(GATHER_ROWS, { table: t, ids: flat }, {})[0]! : tf.gather(t as tf.Tensor2D, flat);
    return {
      value: rows.reshape([...ids.shape, E]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(saved[0]!.reshape([n, 1]), dy.reshape([n, E]), [V, E]),
    };
  });
  return lookup(table);
}

export type RecurrentActivation = "sigmoid" | "hard_sigmoid";

/** [1, 1, 2, 1] per gate block: scales the g columns so that one sigmoid also yields tanh(z_g) = 2 s(2 z_g) - 1. */
function gateScale(H: number): tf.Tensor1D {
  const s = new Float32Array(4 * H).fill(1);
  s.fill(2, 2 * H, 3 * H);
  return tf.tensor1d(s);
}

/** hard_sigmoid on ops (Keras' form, clip(0.2 z + 0.5, 0, 1)); the kernels' is hardSigmoidValue in kernels.ts. */
export function hardSigmoid(z: tf.Tensor): tf.Tensor {
  return tf.clipByValue(tf.add(tf.mul(z, 0.2), 0.5), 0, 1);
}

/** d hard_sigmoid / dz, from the output a: 0.2 inside the linear part, 0 where clipped. */
export function hardSigmoidGrad(a: tf.Tensor): tf.Tensor {
  return tf.mul(tf.logicalAnd(tf.greater(a, 0), tf.less(a, 1)).toFloat(), 0.2);
}

export interface LstmOptions {
  /** Read the sequence from the last step to the first; outputs stay aligned with the input steps. */
  readonly reverse?: boolean;
  readonly recurrentActivation?: RecurrentActivation;
}

/**
 * What both LSTM passes read, time-major: x as [T * B, F], the input projection x W + b as [T, B, 4H] (W and b
 * times `scale` where given) and the mask as [T, B] floats.
 */
function timeMajorInputs(
  x: tf.Tensor,
  W: tf.Tensor2D,
  b: tf.Tensor,
  mask: tf.Tensor2D | null,
  scale: tf.Tensor1D | null,
): { xt: tf.Tensor2D; xw: tf.Tensor; mT: tf.Tensor | null } {
  const [B, T, F] = x.shape as [number, number, number];
  const H4 = W.shape[1];
  const xt = tf.transpose(x, [1, 0, 2]).reshape([T * B, F]) as tf.Tensor2D;
  const xw = tf.add(tf.matMul(xt, scale ? tf.mul(W, scale) : W), scale ? tf.mul(b, scale) : b).reshape([T, B, H4]);
  return { xt, xw, mT: mask ? tf.transpose(mask.toFloat(), [1, 0]) : null };
}

/**
 * A whole LSTM pass over [B, T, F] with its own backward pass (backpropagation through time written out),
 * instead of autodiff through T steps of small ops. Gates i, f, g, o in blocks of H (Keras layout):
 *   z = x W + h U + b,  i = s(z_i), f = s(z_f), g = tanh(z_g), o = s(z_o)
 *   c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
 * mask [B, T] (1 = real step): at a masked step h and c carry over, and the output is the carried h.
 * Returns every step's h, [B, T, H].
 */
export function lstmSequence(
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  mask: tf.Tensor2D | null,
  options: LstmOptions = {},
): tf.Tensor3D {
  return sequenceKernelsAvailable()
    ? lstmSequenceWhole(x, kernel, recurrentKernel, bias, mask, options)
    : lstmSequenceOps(x, kernel, recurrentKernel, bias, mask, options);
}

/**
 * The packed layout of a batch (see kernels.ts' packing) from its mask [B, T] (nonzero = real step; none: every
 * step real): for each real position in step order its example (`rows`), and where each step's rows start
 * (`starts`, T + 1 of them).
 */
function packBatch(mask: tf.Tensor2D | null, B: number, T: number): { rows: Int32Array; starts: Int32Array } {
  const m = mask ? mask.dataSync() : null;
  const rows = new Int32Array(B * T);
  const starts = new Int32Array(T + 1);
  let n = 0;
  for (let t = 0; t < T; t++) {
    starts[t] = n;
    for (let b = 0; b < B; b++) if (!m || m[b * T + t] !== 0) rows[n++] = b;
  }
  starts[T] = n;
  return { rows: rows.slice(0, n), starts };
}

/**
 * The same pass as one kernel call each way (wasm and cpu; kernels.ts), on the real steps only (padding is
 * never computed, as with packed sequences): the forward kernel projects the real positions' inputs and runs
 * the steps; the backward kernel returns dx (zero at masked positions) and the weight gradients.
 */
function lstmSequenceWhole(
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  mask: tf.Tensor2D | null,
  options: LstmOptions,
): tf.Tensor3D {
  const [B, T] = x.shape;
  const H = recurrentKernel.shape[0];
  const attrs = { reverse: options.reverse === true, hard: options.recurrentActivation === "hard_sigmoid" };
  const pack = packBatch(mask, B, T);
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, W, U, bIn, save] = args as [tf.Tensor, tf.Tensor2D, tf.Tensor2D, tf.Tensor, tf.GradSaveFunc];
    if (pack.rows.length === 0)
      return {
        value: tf.zeros([B, T, H]),
        gradFunc: () => [tf.zerosLike(xIn), tf.zerosLike(W), tf.zerosLike(U), tf.zerosLike(bIn)],
      };
    const scale = attrs.hard ? null : gateScale(H);
    const scaled = (t: tf.Tensor): tf.Tensor => (scale ? tf.mul(t, scale) : t);
    const rows = tf.tensor1d(pack.rows, "int32");
    const starts = tf.tensor1d(pack.starts, "int32");
    const [y, hp, cp, act, tc] = runKernel(LSTM_SEQUENCE, { x: xIn, w: scaled(W), u: scaled(U), bias: scaled(bIn), rows, starts }, attrs);
    save([xIn, hp!, cp!, act!, tc!, rows, starts]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => {
        const [xS, hpS, cpS, actS, tcS, rowsS, startsS] = s as tf.Tensor[];
        return runKernel(LSTM_SEQUENCE_GRAD, { dy, x: xS!, act: actS!, tc: tcS!, cp: cpS!, hp: hpS!, w: W, u: U, rows: rowsS!, starts: startsS! }, attrs);
      },
    };
  });
  return run(x, kernel, recurrentKernel, bias) as tf.Tensor3D;
}

/** What a temporal-attention LSTM adds to the seed's form (docs/language.md): both optional. */
export interface TemporalExtras {
  /** W~ [F, 4H] of `feed: concat`: the cell reads [x_t ; x~_t], z = x_t W + x~_t W~ + h U + b; `cell`'s W is then x_t's. */
  feedKernel?: tf.Tensor2D;
  /** p [2T - 1] of `position: offset`: e_{t,i} += p_{i - t + T - 1}. */
  position?: tf.Tensor1D;
}

/**
 * The temporal-attention LSTM over [B, T, F] as one kernel call each way (wasm and cpu; kernels.ts), with the
 * backward pass written out. Weights: the cell's W [F, 4H], U [H, 4H], b [4H]; the attention's Wh [H, A],
 * Wx [F, A], b_a [A], v [A]; optionally the extras above. Returns every step's h [B, T, H] and the attention
 * weights [B, T, T].
 */
export function temporalAttentionLstm(
  x: tf.Tensor3D,
  cell: [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D],
  attention: [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D],
  maskIn: tf.Tensor2D | null,
  options: LstmOptions = {},
  extras: TemporalExtras = {},
): [tf.Tensor3D, tf.Tensor3D] {
  const [B, T, F] = x.shape;
  const H = cell[1].shape[0];
  const A = attention[3].shape[0];
  const attrs = { hard: options.recurrentActivation === "hard_sigmoid" };
  const mask = maskIn ? maskIn.toFloat() : null;
  const concat = extras.feedKernel !== undefined;
  const positioned = extras.position !== undefined;
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xIn, Wc, U, b, Wh, Wx, ba, v] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
    let k = 8;
    const Wf = concat ? (args[k++] as tf.Tensor2D) : null;
    const pos = positioned ? (args[k++] as tf.Tensor1D) : null;
    // The weights the cell applies to x~_t: W in the seed's form, W~ when x_t is fed beside it.
    const W = Wf ?? Wc;
    const scale = attrs.hard ? null : gateScale(H);
    const wu = tf.concat([W, U], 0);
    const xw = tf.add(tf.matMul(xIn.reshape([B * T, F]), Wx), ba).reshape([B, T, A]);
    // x_t W once per sequence, time-major like the kernel's steps.
    const xT = Wf ? (tf.transpose(xIn, [1, 0, 2]).reshape([T * B, F]) as tf.Tensor2D) : null;
    const zx = xT ? tf.matMul(xT, scale ? tf.mul(Wc, scale) : Wc).reshape([T, B, 4 * H]) : null;
    const [out, xh, hp, cp, act, tc, u] = runKernel(
      TEMPORAL_LSTM,
      {
        x: xIn,
        xw,
        wh: Wh,
        v,
        wu: scale ? tf.mul(wu, scale) : wu,
        bias: scale ? tf.mul(b, scale) : b,
        ...(mask ? { mask } : {}),
        ...(zx ? { zx } : {}),
        ...(pos ? { pos } : {}),
      },
      attrs,
    ) as tf.Tensor[] as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    save([xIn, out, xh, hp, cp, act, tc, u, wu, ...(mask ? [mask] : [])]);
    return {
      value: out,
      gradFunc: (dout: tf.Tensor, s: tf.Tensor[]) => {
        const [xS, outS, xhS, hpS, cpS, actS, tcS, uS, wuS, mS] = s as [
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor,
          tf.Tensor2D,
          tf.Tensor | undefined,
        ];
        const wut = tf.transpose(wuS);
        const [dz, db, dp, dxw, dxA, dv, dpos] = runKernel(
          TEMPORAL_LSTM_GRAD,
          {
            dout,
            x: xS,
            out: outS,
            cp: cpS,
            act: actS,
            tc: tcS,
            u: uS,
            v,
            wut,
            wht: tf.transpose(Wh),
            ...(mS ? { mask: mS } : {}),
            ...(pos ? { pos } : {}),
          },
          attrs,
        ) as tf.Tensor[] as [tf.Tensor2D, tf.Tensor, tf.Tensor2D, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const dz2 = dz.reshape([T * B, 4 * H]) as tf.Tensor2D;
        // The weights' gradients, each a sum over the T B positions: a^T b in one kernel (no transposes).
        const tn = (a: tf.Tensor, b: tf.Tensor) => runKernel(PRODUCT_TN, { a, b }, {})[0] as tf.Tensor2D;
        const [dW, dU] = tf.split(tn(xhS.reshape([T * B, F + H]), dz2), [F, H], 0);
        const dWh = tn(hpS.reshape([T * B, H]), dp.reshape([T * B, A]));
        const dxw2 = dxw.reshape([B * T, A]) as tf.Tensor2D;
        const dWx = tn(xS.reshape([B * T, F]), dxw2);
        let dX = tf.add(dxA, tf.matMul(dxw2, tf.transpose(Wx)).reshape([B, T, F]));
        if (!Wf) return [dX, dW!, dU!, db, dWh, dWx, tf.sum(dxw2, 0), dv, ...(dpos ? [dpos] : [])];
        // Through zx = x_t W: dW = x_t^T dz, dx_t += dz W^T.
        const dWc = tn(tf.transpose(xS, [1, 0, 2]).reshape([T * B, F]), dz2);
        dX = tf.add(dX, tf.transpose(tf.matMul(dz2, tf.transpose(Wc)).reshape([T, B, F]), [1, 0, 2]));
        return [dX, dWc, dU!, db, dWh, dWx, tf.sum(dxw2, 0), dv, dW!, ...(dpos ? [dpos] : [])];
      },
    };
  });
  const extra = [...(extras.feedKernel ? [extras.feedKernel] : []), ...(extras.position ? [extras.position] : [])];
  const out = run(x, ...cell, ...attention, ...extra) as tf.Tensor3D;
  return splitLast(out, H) as [tf.Tensor3D, tf.Tensor3D];
}

/**
 * Additive attention pooling with its backward pass written out (wasm and cpu; kernels.ts): u_t = tanh(h_t W + b),
 * e_t = v . u_t, a = softmax over unmasked t, c = sum_t a_t h_t; one kernel call each way, the products
 * included (h W at the real positions only). Returns c [B, D] and a [B, T].
 */
export function attentionPoolAdditive(h: tf.Tensor3D, W: tf.Tensor2D, b: tf.Tensor1D, v: tf.Tensor1D, maskIn: tf.Tensor | null): [tf.Tensor2D, tf.Tensor2D] {
  const D = h.shape[2];
  const mask = maskIn ? maskIn.toFloat() : null;
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [hIn, Wi, bi, vi, save] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const [out, u] = runKernel(ATTENTION_POOL, { h: hIn, w: Wi, bias: bi, v: vi, ...(mask ? { mask } : {}) }, {}) as [tf.Tensor, tf.Tensor];
    save([hIn, out, u, ...(mask ? [mask] : [])]);
    return {
      value: out,
      gradFunc: (dout: tf.Tensor, s: tf.Tensor[]) => {
        const [hS, outS, uS, mS] = s as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const [dh, dW, dv, db] = runKernel(ATTENTION_POOL_GRAD, { dout, out: outS, u: uS, v: vi, h: hS, w: Wi, ...(mS ? { mask: mS } : {}) }, {});
        return [dh, dW, db, dv];
      },
    };
  });
  const out = run(h, W, b, v) as tf.Tensor2D;
  return splitLast(out, D) as [tf.Tensor2D, tf.Tensor2D];
}

/** What the op-level cell's gradient reads of one step (see lstmCellForward). */
interface LstmCellTape {
  i: tf.Tensor;
  f: tf.Tensor;
  g: tf.Tensor;
  o: tf.Tensor;
  /** tanh of the new cell, before the mask carry. */
  tc: tf.Tensor;
  cPrev: tf.Tensor;
  /** The step's mask [B, 1], or null without one. */
  m: tf.Tensor | null;
}

/** A tape as the tensors a custom gradient saves (6, and the mask), and back. */
const lstmTapeSize = (masked: boolean): number => (masked ? 7 : 6);
function tapeTensors(t: LstmCellTape): tf.Tensor[] {
  return [t.i, t.f, t.g, t.o, t.tc, t.cPrev, ...(t.m ? [t.m] : [])];
}
function tapeAt(s: tf.Tensor[], at: number, masked: boolean): LstmCellTape {
  const [i, f, g, o, tc, cPrev, m] = s.slice(at, at + lstmTapeSize(masked)) as tf.Tensor[];
  return { i: i!, f: f!, g: g!, o: o!, tc: tc!, cPrev: cPrev!, m: masked ? m! : null };
}

/**
 * The LSTM cell at one step on TensorFlow.js ops, after the products; every op-level path steps it (the kernel
 * form is sequenceCell in kernels.ts). zs [B, 4H] is z = x W + h U + b, for sigmoid gates with the g columns
 * doubled (gateScale), so that one sigmoid also yields g = 2 s(2 z_g) - 1 = tanh(z_g); for hard_sigmoid gates z
 * itself. c = f c_prev + i g, h = o tanh(c); at a masked step (m [B, 1] is 0) h and c carry over.
 */
function lstmCellForward(
  zs: tf.Tensor,
  hPrev: tf.Tensor,
  cPrev: tf.Tensor,
  m: tf.Tensor | null,
  hard: boolean,
): { h: tf.Tensor; c: tf.Tensor; tape: LstmCellTape } {
  let i: tf.Tensor, f: tf.Tensor, g: tf.Tensor, o: tf.Tensor;
  if (hard) {
    const [zi, zf, zg, zo] = tf.split(zs, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    [i, f, g, o] = [hardSigmoid(zi), hardSigmoid(zf), tf.tanh(zg), hardSigmoid(zo)];
  } else {
    const [ai, af, ag, ao] = tf.split(tf.sigmoid(zs), 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    [i, f, g, o] = [ai, af, tf.sub(tf.mul(ag, 2), 1), ao];
  }
  const cNew = tf.add(tf.mul(f, cPrev), tf.mul(i, g));
  const tc = tf.tanh(cNew);
  const hNew = tf.mul(o, tc);
  const tape = { i, f, g, o, tc, cPrev, m };
  if (!m) return { h: hNew, c: cNew, tape };
  return { h: tf.add(hPrev, tf.mul(m, tf.sub(hNew, hPrev))), c: tf.add(cPrev, tf.mul(m, tf.sub(cNew, cPrev))), tape };
}

/**
 * The cell's derivatives at one step (the kernel form is sequenceCellGrad in kernels.ts): from dh (all of the
 * gradient of the step's h) and dc, the gradient of the unscaled pre-activations dz [B, 4H], of c before the step
 * and, at masked steps, the part of h before the step's gradient that the carry passes (null without a mask; the
 * rest is dz U^T).
 */
function lstmCellBackward(tape: LstmCellTape, dh: tf.Tensor, dc: tf.Tensor, hard: boolean): { dz: tf.Tensor; dhCarry: tf.Tensor | null; dcPrev: tf.Tensor } {
  const { i, f, g, o, tc, cPrev, m } = tape;
  const dhNew = m ? tf.mul(m, dh) : dh;
  const dcNew = m ? tf.mul(m, dc) : dc;
  const dcTot = tf.add(dcNew, tf.mul(tf.mul(dhNew, o), tf.sub(1, tf.square(tc))));
  const sg = (a: tf.Tensor) => (hard ? hardSigmoidGrad(a) : tf.mul(a, tf.sub(1, a)));
  const dzi = tf.mul(tf.mul(dcTot, g), sg(i));
  const dzf = tf.mul(tf.mul(dcTot, cPrev), sg(f));
  const dzg = tf.mul(tf.mul(dcTot, i), tf.sub(1, tf.square(g)));
  const dzo = tf.mul(tf.mul(dhNew, tc), sg(o));
  const dz = tf.concat([dzi, dzf, dzg, dzo], 1);
  const dcPrev = tf.mul(dcTot, f);
  if (!m) return { dz, dhCarry: null, dcPrev };
  return { dz, dhCarry: tf.sub(dh, dhNew), dcPrev: tf.add(dcPrev, tf.sub(dc, dcNew)) };
}

/**
 * One step of the LSTM cell for the layers that step it themselves (temporal and feature input attention on
 * the op tier), differentiated by lstmCellBackward rather than autodiff. z [B, 4H] = x W + h U + b (unscaled),
 * m [B, 1] or null. Returns the new h and c [B, H].
 */
export function lstmCellStep(z: tf.Tensor, h: tf.Tensor, c: tf.Tensor, m: tf.Tensor | null, activation: RecurrentActivation): [tf.Tensor, tf.Tensor] {
  const [B, H] = c.shape as [number, number];
  const hard = activation === "hard_sigmoid";
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [zIn, hIn, cIn, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const cell = lstmCellForward(hard ? zIn : tf.mul(zIn, gateScale(H)), hIn, cIn, m, hard);
    save(tapeTensors(cell.tape));
    return {
      value: tf.concat([cell.h, cell.c], 1),
      gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => {
        const [dh, dc] = tf.split(dy, 2, 1) as [tf.Tensor, tf.Tensor];
        const grad = lstmCellBackward(tapeAt(s, 0, m !== null), dh, dc, hard);
        return [grad.dz, grad.dhCarry ?? tf.zerosLike(dh), grad.dcPrev];
      },
    };
  });
  const hc = run(z, h, c) as tf.Tensor2D;
  return [tf.slice(hc, [0, 0], [B, H]), tf.slice(hc, [0, H], [B, H])];
}

/**
 * The op-based pass, for backends the kernels do not run on (the native one): the cell's steps
 * (lstmCellForward), then backpropagation through time (lstmCellBackward), each step a handful of ops.
 */
function lstmSequenceOps(
  x: tf.Tensor3D,
  kernel: tf.Tensor2D,
  recurrentKernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  mask: tf.Tensor2D | null,
  options: LstmOptions = {},
): tf.Tensor3D {
  const [B, T, F] = x.shape;
  const H = recurrentKernel.shape[0];
  const reverse = options.reverse === true;
  const hard = options.recurrentActivation === "hard_sigmoid";
  const order = Array.from({ length: T }, (_, s) => (reverse ? T - 1 - s : s));

  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, uIn, bIn, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const W = wIn as tf.Tensor2D;
    const U = uIn as tf.Tensor2D;
    const scale = hard ? null : gateScale(H);
    const Us = scale ? tf.mul(U, scale) : U;
    const { xt, xw, mT } = timeMajorInputs(xIn, W, bIn, mask, scale);
    const mSteps = mT ? mT.reshape([T, B, 1]) : null;
    let h: tf.Tensor = tf.zeros([B, H]);
    let c: tf.Tensor = tf.zeros([B, H]);
    const outs: tf.Tensor[] = new Array<tf.Tensor>(T);
    // Saved per step, in processing order: the cell's tape, then h_{t-1}.
    const saved: tf.Tensor[] = [xt];
    for (const t of order) {
      const z = tf.add(step(xw, t, [B, 4 * H]), tf.matMul(h, Us));
      const cell = lstmCellForward(z, h, c, mSteps ? step(mSteps, t, [B, 1]) : null, hard);
      saved.push(...tapeTensors(cell.tape), h);
      h = cell.h;
      c = cell.c;
      outs[t] = h;
    }
    save(saved);
    const value = tf.transpose(tf.concat(outs, 0).reshape([T, B, H]), [1, 0, 2]);
    const perStep = lstmTapeSize(mT !== null) + 1;
    return {
      value,
      gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => {
        const xtS = s[0]!;
        const dyT = tf.transpose(dy, [1, 0, 2]).reshape([T, B, H]);
        const uT = tf.transpose(U);
        let dh: tf.Tensor = tf.zeros([B, H]);
        let dc: tf.Tensor = tf.zeros([B, H]);
        const dzs: tf.Tensor[] = new Array<tf.Tensor>(T);
        const hPrev: tf.Tensor[] = new Array<tf.Tensor>(T);
        for (let k = T - 1; k >= 0; k--) {
          const t = order[k]!;
          const base = 1 + k * perStep;
          hPrev[t] = s[base + perStep - 1]!;
          const grad = lstmCellBackward(tapeAt(s, base, mT !== null), tf.add(step(dyT, t, [B, H]), dh), dc, hard);
          dzs[t] = grad.dz;
          dh = tf.matMul(grad.dz, uT);
          if (grad.dhCarry) dh = tf.add(dh, grad.dhCarry);
          dc = grad.dcPrev;
        }
        const dZ = tf.concat(dzs, 0); // [T * B, 4H], time-major like xt
        const dX = tf.transpose(tf.matMul(dZ, tf.transpose(W)).reshape([T, B, F]), [1, 0, 2]);
        const dW = tf.matMul(tf.transpose(xtS), dZ);
        const dU = tf.matMul(tf.transpose(tf.concat(hPrev, 0)), dZ);
        const db = tf.sum(dZ, 0);
        return [dX, dW, dU, db];
      },
    };
  });
  return run(x, kernel, recurrentKernel, bias) as tf.Tensor3D;
}

/**
 * tanh for large tensors as 2 s(2x) - 1: the wasm backend's tanh kernel is several times slower than its
 * sigmoid (1.5 ms against 0.25 ms on [64, 24, 32]), and the four cheap ops win from about 8,192 elements on.
 * The two agree to float32 rounding.
 */
export function tanh(x: tf.Tensor): tf.Tensor {
  if (x.size < 8192) return tf.tanh(x);
  return tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1);
}

/** Softmax over the last axis that gives masked positions (mask 0) exactly 0; all-masked rows give all 0. */
export function maskedSoftmax(e: tf.Tensor, mask: tf.Tensor | null): tf.Tensor {
  if (!mask) return tf.softmax(e);
  const shifted = tf.sub(e, tf.max(tf.add(e, tf.mul(tf.sub(mask, 1), MASK_NEG)), -1, true));
  const ex = tf.mul(tf.exp(tf.minimum(shifted, 0)), mask);
  return tf.div(ex, tf.maximum(tf.sum(ex, -1, true), 1e-30));
}

/**
 * a [M, K] @ b [K, N] whose gradients are products of explicitly transposed operands. TensorFlow.js
 * differentiates a product into products with transpose flags, which the wasm backend runs in a naive loop
 * 5 to 10 times slower than its SIMD kernel (a [1600, 128] x [1600, 64] gradient: 12 ms against 1.5 ms).
 */
export function matMul2d(a: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const product = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[1] as tf.Tensor2D)),
        tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D),
      ],
    };
  });
  return product(a, b) as tf.Tensor2D;
}

/** x [B, T, D] @ w [D, K] as one 2-D product: [B, T, K]. */
export function timeDistributedMatMul(x: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor3D {
  const [B, T, D] = x.shape;
  return matMul2d(x.reshape([B * T, D]), w).reshape([B, T, w.shape[1]]);
}
