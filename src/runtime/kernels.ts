/**
 * attnc's kernels for the wasm and cpu backends: whole-sequence LSTM passes (plain and with temporal input
 * attention), additive attention pooling, each with its backward pass written out, and an embedding row gather.
 * The LSTM cell is written once here, forward (sequenceCell) and backward (sequenceCellGrad), in plain
 * JavaScript over one float heap (KernelMemory): on wasm the backend's own memory, whose SIMD products and
 * sigmoids the kernels call; on cpu an arena per call, with products and sigmoids in JavaScript. The native
 * backend runs the same equations as TensorFlow.js ops (ops.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { shareIdentity } from "./backend.js";
import { envSetting, internalsUsable, kernelMemory, sizeOf, type KernelMemory, type TensorInfo } from "./backend-internals.js";
import { lstmModule } from "./lstm-module.js";

/** hard_sigmoid (Keras' form, clip(0.2 z + 0.5, 0, 1)); the op tier's is hardSigmoid in ops.ts. */
const hardSigmoidValue = (z: number): number => (z <= -2.5 ? 0 : z >= 2.5 ? 1 : 0.2 * z + 0.5);
/** Its derivative from its value a: 0.2 inside the linear part, 0 where clipped. */
const hardSigmoidSlope = (a: number): number => (a > 0 && a < 1 ? 0.2 : 0);

export const GATHER_ROWS = "AttncGatherRows";

/**
 * Rows of table [V, E] at ids [n] (int32): [n, E]. The wasm backend's GatherV2 takes ~3.5 ms for 1,600 rows of
 * 64; copying the rows takes ~0.1 ms. An id outside the table is refused, not read.
 */
function gatherRows(w: KernelMemory, inputs: Record<string, TensorInfo>): TensorInfo[] {
  const { table, ids } = inputs as { table: TensorInfo; ids: TensorInfo };
  const [V, E] = table.shape as [number, number];
  const n = ids.shape[0]!;
  const out = w.output([n, E]);
  const F = w.heap;
  const O = w.base(out);
  const Tb = w.base(table);
  const I = new Int32Array(F.buffer, F.byteOffset + w.base(ids) * 4, n);
  for (let r = 0; r < n; r++) {
    const id = I[r]!;
    if (!(id >= 0 && id < V)) {
      w.dispose(out);
      throw new Error(`embedding id ${id} is outside the table's ${V} rows`);
    }
    F.copyWithin(O + r * E, Tb + id * E, Tb + id * E + E);
  }
  return [out];
}

export function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number | boolean>): tf.Tensor[] {
  return tf.engine().runKernel(name, inputs as never, attrs as never) as unknown as tf.Tensor[];
}

/*
 * Whole-sequence LSTM kernels. One kernel call runs all T steps: the recurrent product of each step goes
 * straight to the backend's SIMD matrix multiply (XNNPACK) and sigmoid on the backend's own memory, through
 * tensor ids registered as views into the sequence buffers, so a step costs its arithmetic and no engine
 * bookkeeping (as TensorFlow.js ops a step costs 15 to 25 engine calls of 10 to 40 us each).
 * Only the right-hand operand of a product is cached (packed) by the backend, keyed by its id, so views are
 * only ever left-hand operands and outputs.
 * Where attnc's own wasm module is at hand (lstm-module.ts: Node, or a page after loadModel; not with
 * ATTNC_LSTM_KERNEL=js), lstmSequenceForward and lstmSequenceBackward hand the whole loop to it instead: one
 * call per direction, the same equations and layouts.
 */
export const LSTM_SEQUENCE = "AttncLstmSequence";
export const LSTM_SEQUENCE_GRAD = "AttncLstmSequenceGrad";

/** Where one step's cell reads and writes, as float indices into the heap (see sequenceCell). */
interface CellStep {
  /** act at the step: [B, 4H] pre-activations in, gate values (i, f, g, o) out; and its tensor id. */
  za: number;
  zId: number;
  /** c and h before the step, [B, H]. */
  ca: number;
  ha: number;
  /** tc at the step, [B, H]: tanh of the new cell (before the mask carry). */
  ta: number;
  /** Mask value of example b: heap[maskAt + mBase + b * mStride]; maskAt < 0 for no mask. */
  maskAt: number;
  mBase: number;
  mStride: number;
  /** The output h of example b goes to yBase + b * yStride. */
  yBase: number;
  yStride: number;
  /** Where the next step's h and c go ([B, H]), or -1 after the last step. */
  hNext: number;
  cNext: number;
}

/**
 * The LSTM cell at one step, after the products: gates (one backend sigmoid over all four, the g columns
 * doubled so that g = 2 s(2 z_g) - 1 = tanh(z_g); JavaScript for hard_sigmoid), c = f c_prev + i g,
 * tanh(c) as 2 s(2c) - 1, h = o tanh(c), and the carry of h and c over masked steps.
 */
function sequenceCell(w: KernelMemory, st: CellStep, B: number, H: number, hard: boolean, cNew: Float32Array): void {
  const H4 = 4 * H;
  const BH = B * H;
  const { za, ca, ha, ta } = st;
  if (!hard) w.sigmoid(st.zId, st.zId);
  let F = w.heap;
  for (let b = 0; b < B; b++) {
    const ao = za + b * H4;
    for (let j = 0; j < H; j++) {
      let i: number, f: number, g: number;
      if (hard) {
        i = hardSigmoidValue(F[ao + j]!);
        f = hardSigmoidValue(F[ao + H + j]!);
        g = Math.tanh(F[ao + 2 * H + j]!);
        F[ao + 3 * H + j] = hardSigmoidValue(F[ao + 3 * H + j]!);
        F[ao + j] = i;
        F[ao + H + j] = f;
      } else {
        i = F[ao + j]!;
        f = F[ao + H + j]!;
        g = 2 * F[ao + 2 * H + j]! - 1;
      }
      F[ao + 2 * H + j] = g;
      const k = b * H + j;
      const cn = f * F[ca + k]! + i * g;
      cNew[k] = cn;
      F[ta + k] = hard ? Math.tanh(cn) : 2 * cn;
    }
  }
  if (!hard) {
    const tcv = w.view(ta, BH);
    try {
      w.sigmoid(tcv, tcv);
    } finally {
      w.release(tcv);
    }
    F = w.heap;
  }
  for (let b = 0; b < B; b++) {
    const m = st.maskAt < 0 ? 1 : F[st.maskAt + st.mBase + b * st.mStride]!;
    const ao = za + b * H4;
    const yo = st.yBase + b * st.yStride;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const tv = hard ? F[ta + k]! : 2 * F[ta + k]! - 1;
      F[ta + k] = tv;
      const hNew = F[ao + 3 * H + j]! * tv;
      const hPrev = F[ha + k]!;
      const cPrev = F[ca + k]!;
      const h = m === 1 ? hNew : hPrev + m * (hNew - hPrev);
      F[yo + j] = h;
      if (st.hNext >= 0) {
        F[st.hNext + k] = h;
        F[st.cNext + k] = m === 1 ? cNew[k]! : cPrev + m * (cNew[k]! - cPrev);
      }
    }
  }
}

/** Where one step's backward cell reads and writes (see sequenceCellGrad). */
interface CellGradStep {
  /** Gate values, tanh of the new cell and c before the step, as the forward pass left them. */
  aa: number;
  ta: number;
  ca: number;
  /** Output gradient of example b at dy[dyBase + b * dyStride]; the recurrent gradient of h at rec[recAt + b * H + j]. */
  dy: Float32Array;
  dyBase: number;
  dyStride: number;
  rec: Float32Array;
  recAt: number;
  maskAt: number;
  mBase: number;
  mStride: number;
  /** dz of the step, [B, 4H]. */
  za: number;
}

/**
 * The LSTM cell's derivatives at one step: dz from the gradient of h (output + recurrent + carried past masked
 * steps) and of c; updates dc and dhc (what masked steps carry) and adds dz into dbAcc.
 */
function sequenceCellGrad(
  F: Float32Array,
  st: CellGradStep,
  B: number,
  H: number,
  hard: boolean,
  dc: Float32Array,
  dhc: Float32Array,
  dbAcc: Float64Array,
): void {
  const H4 = 4 * H;
  const ds = (a: number): number => (hard ? hardSigmoidSlope(a) : a * (1 - a));
  for (let b = 0; b < B; b++) {
    const m = st.maskAt < 0 ? 1 : F[st.maskAt + st.mBase + b * st.mStride]!;
    const ao = st.aa + b * H4;
    const zo = st.za + b * H4;
    const yo = st.dyBase + b * st.dyStride;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const dhTotal = st.dy[yo + j]! + st.rec[st.recAt + k]! + dhc[k]!;
      const dhNew = m * dhTotal;
      const dcIn = dc[k]!;
      const dcNew = m * dcIn;
      const i = F[ao + j]!;
      const f = F[ao + H + j]!;
      const g = F[ao + 2 * H + j]!;
      const o = F[ao + 3 * H + j]!;
      const tv = F[st.ta + k]!;
      const dcTot = dcNew + dhNew * o * (1 - tv * tv);
      const dzi = dcTot * g * ds(i);
      const dzf = dcTot * F[st.ca + k]! * ds(f);
      const dzg = dcTot * i * (1 - g * g);
      const dzo = dhNew * tv * ds(o);
      F[zo + j] = dzi;
      F[zo + H + j] = dzf;
      F[zo + 2 * H + j] = dzg;
      F[zo + 3 * H + j] = dzo;
      dbAcc[j] += dzi;
      dbAcc[H + j] += dzf;
      dbAcc[2 * H + j] += dzg;
      dbAcc[3 * H + j] += dzo;
      dc[k] = dcTot * f + (dcIn - dcNew);
      dhc[k] = dhTotal - dhNew;
    }
  }
}

/**
 * The packed layout of the LSTM passes: the N real (unmasked) positions of a batch as rows in step order, step
 * t's rows starts[t] to starts[t + 1] - 1 (int32 [T + 1]), row k belonging to example rows[k] (int32 [N],
 * ascending within a step). Masked positions are not computed at all: their h and c are the carried ones.
 * Without a mask it is the time-major layout, row t B + b.
 */
function packing(w: KernelMemory, rows: TensorInfo, starts: TensorInfo): { R: Int32Array; S: Int32Array } {
  const ints = (t: TensorInfo): Int32Array => {
    const F = w.heap;
    return new Int32Array(F.buffer, F.byteOffset + w.base(t) * 4, sizeOf(t.shape)).slice();
  };
  return { R: ints(rows), S: ints(starts) };
}

/** Copies the rows of x [B, T, D] at the packed positions into heap rows at `to` + k * stride (see lstm.c's gatherSteps). */
function gatherSteps(F: Float32Array, T: number, D: number, xAt: number, R: Int32Array, S: Int32Array, to: number, stride: number): void {
  for (let t = 0; t < T; t++)
    for (let k = S[t]!; k < S[t + 1]!; k++) {
      const from = xAt + (R[k]! * T + t) * D;
      F.copyWithin(to + k * stride, from, from + D);
    }
}

/**
 * One LSTM direction's forward pass, in the order of `reverse`, on the packed layout. Inputs: x [B, T, F], w
 * [F, 4H], u [H, 4H] and bias [4H] (for sigmoid gates all three with the g columns doubled, so that one sigmoid
 * also yields g = 2 s(2 z_g) - 1 = tanh(z_g)), rows and starts. Outputs: y [B, T, H] (h at every step, the
 * carried h at masked steps), hp and cp [N, H] (h and c before each real step), act [N, 4H] (i, f, g, o) and
 * tc [N, H] (tanh of the new cell), which the backward pass reads. The input projection x w + bias of the real
 * positions is one product; per step the state of the step's examples is gathered into hp and cp, the step
 * runs on those rows, and the new h and c are scattered back into the state.
 */
function lstmSequenceForward(w: KernelMemory, inputs: Record<string, TensorInfo>, attrs: { reverse: boolean; hard: boolean }): TensorInfo[] {
  const byModule = lstmModule()?.forward(w, inputs, attrs.reverse, attrs.hard);
  if (byModule) return byModule;
  const { x, w: wx, u, bias, rows, starts } = inputs as Record<string, TensorInfo>;
  const [B, T, Fd] = x!.shape as [number, number, number];
  const H4 = bias!.shape[0]!;
  const H = H4 / 4;
  const { R, S } = packing(w, rows!, starts!);
  const N = S[T]!;
  const outs = [w.output([B, T, H]), w.output([N, H]), w.output([N, H]), w.output([N, H4]), w.output([N, H])];
  const temps = [w.output([B, H]), w.output([B, H]), w.output([N, Fd]), w.output([N, H4])];
  const [y, hp, cp, act, tc] = outs.map((o) => w.base(o)) as [number, number, number, number, number];
  const [hn, cn, xr, xwAt] = temps.map((o) => w.base(o)) as [number, number, number, number];
  const uId = w.id(u!);
  const hs = new Float32Array(B * H);
  const cs = new Float32Array(B * H);
  const cNew = new Float32Array(B * H);
  const views: number[] = [];
  try {
    gatherSteps(w.heap, T, Fd, w.base(x!), R, S, xr, Fd);
    if (N > 0) w.product(w.id(temps[2]!), w.id(wx!), w.id(temps[3]!), N, Fd, H4);
    {
      const F = w.heap;
      const bAt = w.base(bias!);
      for (let k = 0; k < N; k++) for (let c = 0; c < H4; c++) F[xwAt + k * H4 + c] += F[bAt + c]!;
    }
    for (let s = 0; s < T; s++) {
      const t = attrs.reverse ? T - 1 - s : s;
      const k0 = S[t]!;
      const n = S[t + 1]! - k0;
      let F = w.heap;
      for (let j = 0; j < n; j++) {
        const b = R[k0 + j]!;
        F.set(hs.subarray(b * H, b * H + H), hp + (k0 + j) * H);
        F.set(cs.subarray(b * H, b * H + H), cp + (k0 + j) * H);
      }
      if (n > 0) {
        const hIn = w.view(hp + k0 * H, n * H);
        const z = w.view(act + k0 * H4, n * H4);
        views.push(hIn, z);
        w.product(hIn, uId, z, n, H, H4);
        F = w.heap;
        const za = act + k0 * H4;
        const xa = xwAt + k0 * H4;
        for (let k = 0; k < n * H4; k++) F[za + k] += F[xa + k]!;
        const st = { za, zId: z, ca: cp + k0 * H, ha: hp + k0 * H, ta: tc + k0 * H, maskAt: -1, mBase: 0, mStride: 0 };
        sequenceCell(w, { ...st, yBase: hn, yStride: H, hNext: hn, cNext: cn }, n, H, attrs.hard, cNew);
        for (const v of views) w.release(v);
        views.length = 0;
        F = w.heap;
        for (let j = 0; j < n; j++) {
          const b = R[k0 + j]!;
          hs.set(F.subarray(hn + j * H, hn + j * H + H), b * H);
          cs.set(F.subarray(cn + j * H, cn + j * H + H), b * H);
        }
      }
      for (let b = 0; b < B; b++) F.set(hs.subarray(b * H, b * H + H), y + (b * T + t) * H);
    }
  } finally {
    for (const v of views) w.release(v);
    for (const t of temps) w.dispose(t);
  }
  return outs;
}

/**
 * One LSTM direction's backward pass on the packed layout, from the last step read to the first. Inputs: dy
 * [B, T, H], x, w and u (unscaled) as in the forward pass, act, tc, cp and hp as it wrote them, rows and
 * starts. Outputs: dx [B, T, F] (zero at masked positions), dw [F, 4H], du [H, 4H], db [4H]. The gradients of
 * each example's h and c start at zero; a masked step adds its output gradient to h's (its output is the
 * carried h); a real step runs the backward cell on its examples' rows, and dz [w; u]^T gives dx at its
 * positions and its h's gradient. After the loop dw and du are [x | hp]^T dz, one product.
 */
function lstmSequenceBackward(w: KernelMemory, inputs: Record<string, TensorInfo>, attrs: { reverse: boolean; hard: boolean }): TensorInfo[] {
  const byModule = lstmModule()?.backward(w, inputs, attrs.reverse, attrs.hard);
  if (byModule) return byModule;
  const { dy, x, act, tc, cp, hp, w: wx, u, rows, starts } = inputs as Record<string, TensorInfo>;
  const [B, T, Fd] = x!.shape as [number, number, number];
  const [N, H4] = act!.shape as [number, number];
  const H = H4 / 4;
  const G = Fd + H;
  const BH = B * H;
  const { R, S } = packing(w, rows!, starts!);
  const outs = [w.output([B, T, Fd]), w.output([Fd, H4]), w.output([H, H4]), w.output([H4])];
  const temps = [w.output([N, H4]), w.output([H4, G]), w.output([B, G]), w.output([G, N]), w.output([G, H4])];
  const [dx, dw, du, db] = outs.map((o) => w.base(o)) as [number, number, number, number];
  const [dz, wut, dxh, xhT, dwu] = temps.map((o) => w.base(o)) as [number, number, number, number, number];
  const [dyAt, actAt, tcAt, cpAt] = [dy!, act!, tc!, cp!].map((o) => w.base(o)) as [number, number, number, number];
  const dh = new Float32Array(BH);
  const dc = new Float32Array(BH);
  const dyr = new Float32Array(BH);
  const dhr = new Float32Array(BH);
  const dcr = new Float32Array(BH);
  const dhc = new Float32Array(BH);
  const dbAcc = new Float64Array(H4);
  try {
    {
      // [w; u]^T [4H, F + H], the right-hand operand of the step's product.
      const F = w.heap;
      const [wAt, uAt] = [w.base(wx!), w.base(u!)];
      for (let r = 0; r < G; r++) for (let c = 0; c < H4; c++) F[wut + c * G + r] = r < Fd ? F[wAt + r * H4 + c]! : F[uAt + (r - Fd) * H4 + c]!;
      F.fill(0, dx, dx + B * T * Fd);
    }
    const wutId = w.id(temps[1]!);
    const dxhId = w.id(temps[2]!);
    for (let s = T - 1; s >= 0; s--) {
      const t = attrs.reverse ? T - 1 - s : s;
      const k0 = S[t]!;
      const n = S[t + 1]! - k0;
      let F = w.heap;
      for (let b = 0, j = 0; b < B; b++) {
        const d = dyAt + (b * T + t) * H;
        if (j < n && R[k0 + j] === b) {
          dyr.set(F.subarray(d, d + H), j * H);
          dhr.set(dh.subarray(b * H, b * H + H), j * H);
          dcr.set(dc.subarray(b * H, b * H + H), j * H);
          dhc.fill(0, j * H, j * H + H);
          j++;
        } else for (let q = 0; q < H; q++) dh[b * H + q] += F[d + q]!;
      }
      if (n === 0) continue;
      const za = dz + k0 * H4;
      const st = { aa: actAt + k0 * H4, ta: tcAt + k0 * H, ca: cpAt + k0 * H, maskAt: -1, mBase: 0, mStride: 0, za };
      sequenceCellGrad(F, { ...st, dy: dyr, dyBase: 0, dyStride: H, rec: dhr, recAt: 0 }, n, H, attrs.hard, dcr, dhc, dbAcc);
      const zv = w.view(za, n * H4);
      try {
        w.product(zv, wutId, dxhId, n, H4, G);
      } finally {
        w.release(zv);
      }
      F = w.heap;
      for (let j = 0; j < n; j++) {
        const b = R[k0 + j]!;
        const o = dxh + j * G;
        F.copyWithin(dx + (b * T + t) * Fd, o, o + Fd);
        dh.set(F.subarray(o + Fd, o + G), b * H);
        dc.set(dcr.subarray(j * H, j * H + H), b * H);
      }
    }
    let F = w.heap;
    // [x | hp]^T [F + H, N]: the left operand of the weight gradients' product.
    const [xAt, hpAt] = [w.base(x!), w.base(hp!)];
    for (let t = 0; t < T; t++)
      for (let k = S[t]!; k < S[t + 1]!; k++) {
        const from = xAt + (R[k]! * T + t) * Fd;
        for (let q = 0; q < Fd; q++) F[xhT + q * N + k] = F[from + q]!;
        for (let q = 0; q < H; q++) F[xhT + (Fd + q) * N + k] = F[hpAt + k * H + q]!;
      }
    if (N > 0) w.product(w.id(temps[3]!), w.id(temps[0]!), w.id(temps[4]!), G, N, H4);
    else F.fill(0, dwu, dwu + G * H4);
    F = w.heap;
    F.copyWithin(dw, dwu, dwu + Fd * H4);
    F.copyWithin(du, dwu + Fd * H4, dwu + G * H4);
    for (let r = 0; r < H4; r++) F[db + r] = dbAcc[r]!;
  } finally {
    for (const t of temps) w.dispose(t);
  }
  return outs;
}

/** Where one example's additive attention reads and writes (see attend and attendGrad). */
interface Attention {
  /** T rows of A floats: s(2 pre) from the backend's sigmoid in, tanh(pre) = 2 s - 1 out. */
  uAt: number;
  vAt: number;
  A: number;
  T: number;
  /** Mask value of position i: heap[maskAt + i]; maskAt < 0 for no mask. */
  maskAt: number;
  /** The weights a_i go to aAt + i. */
  aAt: number;
  /** T value rows of D floats; their weighted sum goes to outAt. */
  valAt: number;
  D: number;
  outAt: number;
  /** A score bias per position: e_i += heap[biasAt + i]; absent or < 0 for none. */
  biasAt?: number;
}

/** One example's additive attention: e_i = v . u_i (+ bias_i), a = softmax over unmasked i (all masked: all 0), out = sum_i a_i value_i. */
function attend(F: Float32Array, at: Attention, e: Float64Array): void {
  const { uAt, vAt, A, T, maskAt, aAt, valAt, D, outAt } = at;
  const biasAt = at.biasAt ?? -1;
  let max = -Infinity;
  for (let i = 0; i < T; i++) {
    const o = uAt + i * A;
    let s = 0;
    for (let a = 0; a < A; a++) {
      const uu = 2 * F[o + a]! - 1;
      F[o + a] = uu;
      s += uu * F[vAt + a]!;
    }
    if (biasAt >= 0) s += F[biasAt + i]!;
    e[i] = s;
    if ((maskAt < 0 || F[maskAt + i]! !== 0) && s > max) max = s;
  }
  let sum = 0;
  for (let i = 0; i < T; i++) {
    const m = maskAt < 0 ? 1 : F[maskAt + i]!;
    const ex = m === 0 ? 0 : Math.exp(Math.min(e[i]! - max, 0)) * m;
    e[i] = ex;
    sum += ex;
  }
  const den = Math.max(sum, 1e-30);
  for (let d = 0; d < D; d++) F[outAt + d] = 0;
  for (let i = 0; i < T; i++) {
    const a = e[i]! / den;
    F[aAt + i] = a;
    if (a === 0) continue;
    const vo = valAt + i * D;
    for (let d = 0; d < D; d++) F[outAt + d] += a * F[vo + d]!;
  }
}

/** Where the derivatives of one example's attention come from and go (see attendGrad); the rest as in Attention. */
interface AttentionGrad {
  /** Gradient of the weighted sum (D floats) and of the weights themselves (T floats). */
  dOutAt: number;
  daAt: number;
  /** a_i dOut is added to the value rows' gradient; dpre_i = de_i v (1 - u_i^2) is added at dpreAt + i * A. */
  dValAt: number;
  dpreAt: number;
  /** When the scores have a bias per position: de_i is added to dBias[dBiasAt + i]. */
  dBias?: Float64Array;
  dBiasAt?: number;
}

/**
 * The derivatives of `attend` for one example (u, a as it left them): adds into the value rows' gradient and
 * dpre, adds de_i u_i into dv, and writes sum_i dpre_i into rowSum.
 */
function attendGrad(
  F: Float32Array,
  at: Omit<Attention, "maskAt" | "outAt">,
  g: AttentionGrad,
  da: Float64Array,
  dv: Float64Array,
  rowSum: Float64Array,
): void {
  const { uAt, vAt, A, T, aAt, valAt, D } = at;
  let s = 0;
  for (let i = 0; i < T; i++) {
    const a = F[aAt + i]!;
    const vo = valAt + i * D;
    const go = g.dValAt + i * D;
    let d = F[g.daAt + i]!;
    for (let k = 0; k < D; k++) {
      d += F[vo + k]! * F[g.dOutAt + k]!;
      F[go + k] += a * F[g.dOutAt + k]!;
    }
    da[i] = d;
    s += a * d;
  }
  rowSum.fill(0);
  for (let i = 0; i < T; i++) {
    const de = F[aAt + i]! * (da[i]! - s);
    if (de === 0) continue;
    if (g.dBias) g.dBias[g.dBiasAt! + i] += de;
    const uo = uAt + i * A;
    const po = g.dpreAt + i * A;
    for (let a = 0; a < A; a++) {
      const uu = F[uo + a]!;
      dv[a] += de * uu;
      const dpre = de * F[vAt + a]! * (1 - uu * uu);
      F[po + a] += dpre;
      rowSum[a] += dpre;
    }
  }
}

/*
 * The temporal-attention LSTM as whole-sequence kernels. At step t, over all T inputs of the window:
 *   p = h_{t-1} Wh; u_i = tanh(xw_i + p) (xw_i = x_i Wx + b_a, computed once); e_i = v . u_i (+ pos_{i-t+T-1});
 *   a = softmax over unmasked i; x~ = sum_i a_i x_i; z = [x~ | h_{t-1}] [W; U] + b (+ zx_t); then the LSTM cell.
 * zx_t (x_t W_x~ for the variant that feeds the cell [x_t ; x~_t]) and pos (a score bias per offset i - t) are
 * optional inputs, computed outside: zx once per sequence by the backend, pos a learned vector of 2T - 1.
 * Autodiff through the same steps as TensorFlow.js ops costs ~170 engine calls a step.
 */
export const TEMPORAL_LSTM = "AttncTemporalLstm";
export const TEMPORAL_LSTM_GRAD = "AttncTemporalLstmGrad";

/**
 * Inputs: x [B, T, F], xw [B, T, A], wh [H, A], v [A], wu [F + H, 4H] and bias [4H] (for sigmoid gates both with
 * the g columns doubled), optional mask [B, T], optional zx [T, B, 4H] (scaled like wu) and pos [2T - 1]. Outputs: out [B, T, H + T] (h_t, then the weights a_t over the
 * T inputs), xh [T, B, F + H] ([x~_t | h_{t-1}]), hp and cp [T, B, H] (h and c before each step), act [T, B, 4H],
 * tc [T, B, H], u [T, B, T, A] (the tanh values of each step).
 */
function temporalForward(w: KernelMemory, inputs: Record<string, TensorInfo>, attrs: { hard: boolean }): TensorInfo[] {
  const { x, xw, wh, v, wu, bias, mask, zx, pos } = inputs as Record<string, TensorInfo> as {
    x: TensorInfo;
    xw: TensorInfo;
    wh: TensorInfo;
    v: TensorInfo;
    wu: TensorInfo;
    bias: TensorInfo;
    mask?: TensorInfo;
    zx?: TensorInfo;
    pos?: TensorInfo;
  };
  const byModule = lstmModule()?.temporalForward(w, { x, xw, wh, v, wu, bias, mask, zx, pos }, attrs.hard);
  if (byModule) return byModule;
  const [B, T, Fd] = x.shape as [number, number, number];
  const A = v.shape[0]!;
  const H4 = bias.shape[0]!;
  const H = H4 / 4;
  const K = Fd + H;
  const BH = B * H;
  const BH4 = B * H4;
  const O = H + T;
  const outs = [
    w.output([B, T, O]),
    w.output([T, B, K]),
    w.output([T, B, H]),
    w.output([T, B, H]),
    w.output([T, B, H4]),
    w.output([T, B, H]),
    w.output([T, B, T, A]),
  ];
  const pT = w.output([B, A]);
  const [out, xh, hp, cp, act, tc, u] = outs.map((o) => w.base(o)) as [number, number, number, number, number, number, number];
  const p = w.base(pT);
  const [xAt, xwAt, vAt, bAt] = [x, xw, v, bias].map((o) => w.base(o)) as [number, number, number, number];
  const maskAt = mask ? w.base(mask) : -1;
  const zxAt = zx ? w.base(zx) : -1;
  const posAt = pos ? w.base(pos) : -1;
  const whId = w.id(wh);
  const wuId = w.id(wu);
  const pId = w.id(pT);
  const hard = attrs.hard;
  const BTA = B * T * A;
  const e = new Float64Array(T);
  const cNew = new Float32Array(BH);
  const views: number[] = [];
  try {
    w.heap.fill(0, hp, hp + BH);
    w.heap.fill(0, cp, cp + BH);
    for (let t = 0; t < T; t++) {
      const hIn = w.view(hp + t * BH, BH);
      views.push(hIn);
      w.product(hIn, whId, pId, B, H, A);
      let F = w.heap;
      const ub = u + t * BTA;
      for (let b = 0; b < B; b++) {
        const pb = p + b * A;
        for (let i = 0; i < T; i++) {
          const o = (b * T + i) * A;
          for (let a = 0; a < A; a++) F[ub + o + a] = 2 * (F[xwAt + o + a]! + F[pb + a]!);
        }
      }
      const uv = w.view(ub, BTA);
      views.push(uv);
      w.sigmoid(uv, uv);
      F = w.heap;
      const xt = xh + t * B * K;
      for (let b = 0; b < B; b++) {
        const row = xt + b * K;
        attend(
          F,
          {
            uAt: ub + b * T * A,
            vAt,
            A,
            T,
            maskAt: maskAt < 0 ? -1 : maskAt + b * T,
            aAt: out + (b * T + t) * O + H,
            valAt: xAt + b * T * Fd,
            D: Fd,
            outAt: row,
            biasAt: posAt < 0 ? -1 : posAt + T - 1 - t,
          },
          e,
        );
        const hb = hp + t * BH + b * H;
        for (let j = 0; j < H; j++) F[row + Fd + j] = F[hb + j]!;
      }
      const xv = w.view(xt, B * K);
      const z = w.view(act + t * BH4, BH4);
      views.push(xv, z);
      w.product(xv, wuId, z, B, K, H4);
      F = w.heap;
      const za = act + t * BH4;
      for (let b = 0; b < B; b++) for (let c = 0; c < H4; c++) F[za + b * H4 + c] += F[bAt + c]!;
      if (zxAt >= 0) for (let k = 0; k < BH4; k++) F[za + k] += F[zxAt + t * BH4 + k]!;
      sequenceCell(
        w,
        {
          za,
          zId: z,
          ca: cp + t * BH,
          ha: hp + t * BH,
          ta: tc + t * BH,
          maskAt,
          mBase: t,
          mStride: T,
          yBase: out + t * O,
          yStride: T * O,
          hNext: t + 1 < T ? hp + (t + 1) * BH : -1,
          cNext: t + 1 < T ? cp + (t + 1) * BH : -1,
        },
        B,
        H,
        hard,
        cNew,
      );
      for (const id of views) w.release(id);
      views.length = 0;
    }
  } finally {
    for (const id of views) w.release(id);
    w.dispose(pT);
  }
  return outs;
}

/**
 * Inputs: dout [B, T, H + T] (gradient of out), x, the forward pass's out, xh, cp, act, tc, u, v, wut
 * [4H, F + H] (unscaled, transposed), wht [A, H] (transposed), optional mask. Outputs: dz [T, B, 4H], db
 * [4H], dp [T, B, A] (gradient of p = h_{t-1} Wh), dxw [B, T, A], dx [B, T, F] (through the attention's
 * weighted sum only), dv [A], and with pos, dpos [2T - 1]. The gradient of zx is dz.
 */
function temporalBackward(w: KernelMemory, inputs: Record<string, TensorInfo>, attrs: { hard: boolean }): TensorInfo[] {
  const { dout, x, out, cp, act, tc, u, v, wut, wht, mask, pos } = inputs as Record<string, TensorInfo> as Record<string, TensorInfo> & {
    mask?: TensorInfo;
    pos?: TensorInfo;
  };
  const byModule = lstmModule()?.temporalBackward(w, { dout, x, out, cp, act, tc, u, v, wut, wht, mask, pos }, attrs.hard);
  if (byModule) return byModule;
  const [B, T, Fd] = x!.shape as [number, number, number];
  const A = v!.shape[0]!;
  const H4 = act!.shape[2]!;
  const H = H4 / 4;
  const K = Fd + H;
  const BH = B * H;
  const BH4 = B * H4;
  const O = H + T;
  const outs = [
    w.output([T, B, H4]),
    w.output([H4]),
    w.output([T, B, A]),
    w.output([B, T, A]),
    w.output([B, T, Fd]),
    w.output([A]),
    ...(pos ? [w.output([2 * T - 1])] : []),
  ];
  const temps = [w.output([B, K]), w.output([B, H])];
  const [dz, db, dp, dxw, dx, dv] = outs.map((o) => w.base(o)) as [number, number, number, number, number, number];
  const [dxhB, dhpB] = temps.map((o) => w.base(o)) as [number, number];
  const [dxhId, dhpId] = temps.map((o) => w.id(o)) as [number, number];
  const [doAt, xAt, outAt, cpAt, actAt, tcAt, uAt, vAt] = [dout, x, out, cp, act, tc, u, v].map((o) => w.base(o!)) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const maskAt = mask ? w.base(mask) : -1;
  const wutId = w.id(wut!);
  const whtId = w.id(wht!);
  const hard = attrs.hard;
  const BTA = B * T * A;
  const dc = new Float32Array(BH);
  const dhc = new Float32Array(BH);
  const dhRec = new Float32Array(BH);
  const dvAcc = new Float64Array(A);
  const dbAcc = new Float64Array(H4);
  const views: number[] = [];
  const da = new Float64Array(T);
  const rowSum = new Float64Array(A);
  const dPos = pos ? new Float64Array(2 * T - 1) : undefined;
  try {
    let F = w.heap;
    F.fill(0, dxw, dxw + BTA);
    F.fill(0, dx, dx + B * T * Fd);
    for (let t = T - 1; t >= 0; t--) {
      sequenceCellGrad(
        F,
        {
          aa: actAt + t * BH4,
          ta: tcAt + t * BH,
          ca: cpAt + t * BH,
          dy: F,
          dyBase: doAt + t * O,
          dyStride: T * O,
          rec: dhRec,
          recAt: 0,
          maskAt,
          mBase: t,
          mStride: T,
          za: dz + t * BH4,
        },
        B,
        H,
        hard,
        dc,
        dhc,
        dbAcc,
      );
      const dzv = w.view(dz + t * BH4, BH4);
      views.push(dzv);
      w.product(dzv, wutId, dxhId, B, H4, K);
      F = w.heap;
      const ub = uAt + t * BTA;
      for (let b = 0; b < B; b++) {
        const at = { uAt: ub + b * T * A, vAt, A, T, aAt: outAt + (b * T + t) * O + H, valAt: xAt + b * T * Fd, D: Fd };
        const g = { dOutAt: dxhB + b * K, daAt: doAt + (b * T + t) * O + H, dValAt: dx + b * T * Fd, dpreAt: dxw + b * T * A, dBias: dPos, dBiasAt: T - 1 - t };
        attendGrad(F, at, g, da, dvAcc, rowSum);
        const pb = dp + t * B * A + b * A;
        for (let a = 0; a < A; a++) F[pb + a] = rowSum[a]!;
      }
      const dpv = w.view(dp + t * B * A, B * A);
      views.push(dpv);
      w.product(dpv, whtId, dhpId, B, A, H);
      F = w.heap;
      for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) dhRec[b * H + j] = F[dxhB + b * K + Fd + j]! + F[dhpB + b * H + j]!;
      for (const id of views) w.release(id);
      views.length = 0;
    }
    F = w.heap;
    for (let r = 0; r < H4; r++) F[db + r] = dbAcc[r]!;
    for (let a = 0; a < A; a++) F[dv + a] = dvAcc[a]!;
    if (dPos) {
      const dp0 = w.base(outs[6]!);
      for (let k = 0; k < 2 * T - 1; k++) F[dp0 + k] = dPos[k]!;
    }
  } finally {
    for (const id of views) w.release(id);
    for (const t of temps) w.dispose(t);
  }
  return outs;
}

/*
 * Additive attention pooling as two kernels: u = tanh(pre + b) with pre = h W computed by the backend,
 * e = u v, a = softmax over unmasked steps, c = sum_t a_t h_t; and the backward pass of all but the products.
 * Autodiff through the same ops costs ~70 engine calls and ~8 ms at B = 32, T = 50, D = 128.
 */
export const ATTENTION_POOL = "AttncAttentionPool";
export const ATTENTION_POOL_GRAD = "AttncAttentionPoolGrad";

/**
 * Inputs: h [B, T, D], w [D, A], bias [A], v [A], optional mask [B, T]. Outputs: out [B, D + T] (c, then a), u
 * [B * T, A]. The scores' projection pre = h w is 0 at masked positions (their scores are dropped), as the
 * module computes it for the real positions only.
 */
function attentionPoolForward(w: KernelMemory, inputs: Record<string, TensorInfo>): TensorInfo[] {
  const {
    h,
    w: wa,
    bias,
    v,
    mask,
  } = inputs as Record<string, TensorInfo> as {
    h: TensorInfo;
    w: TensorInfo;
    bias: TensorInfo;
    v: TensorInfo;
    mask?: TensorInfo;
  };
  const byModule = lstmModule()?.attentionPoolForward(w, { h, w: wa, bias, v, mask });
  if (byModule) return byModule;
  const [B, T, D] = h.shape as [number, number, number];
  const A = v.shape[0]!;
  const O = D + T;
  const outs = [w.output([B, O]), w.output([B * T, A])];
  const [out, u] = outs.map((o) => w.base(o)) as [number, number];
  const [bAt, vAt, hAt] = [bias, v, h].map((o) => w.base(o)) as [number, number, number];
  const maskAt = mask ? w.base(mask) : -1;
  const preT = w.output([B * T, A]);
  const preAt = w.base(preT);
  w.product(w.id(h), w.id(wa), w.id(preT), B * T, D, A);
  let F = w.heap;
  for (let r = 0; r < B * T; r++)
    for (let a = 0; a < A; a++) F[u + r * A + a] = 2 * ((maskAt >= 0 && F[maskAt + r] === 0 ? 0 : F[preAt + r * A + a]!) + F[bAt + a]!);
  w.dispose(preT);
  const uv = w.view(u, B * T * A);
  try {
    w.sigmoid(uv, uv);
  } finally {
    w.release(uv);
  }
  F = w.heap;
  const e = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    attend(
      F,
      { uAt: u + b * T * A, vAt, A, T, maskAt: maskAt < 0 ? -1 : maskAt + b * T, aAt: out + b * O + D, valAt: hAt + b * T * D, D, outAt: out + b * O },
      e,
    );
  }
  return outs;
}

/**
 * Inputs: dout [B, D + T], out, u (as the forward pass wrote them), v [A], h [B, T, D], w [D, A], optional mask.
 * Outputs: dh [B, T, D] (through the weighted sum and the scores' projection), dw [D, A], dv [A], db [A].
 */
function attentionPoolBackward(w: KernelMemory, inputs: Record<string, TensorInfo>): TensorInfo[] {
  const {
    dout,
    out,
    u,
    v,
    h,
    w: wa,
    mask,
  } = inputs as Record<string, TensorInfo> as {
    dout: TensorInfo;
    out: TensorInfo;
    u: TensorInfo;
    v: TensorInfo;
    h: TensorInfo;
    w: TensorInfo;
    mask?: TensorInfo;
  };
  const byModule = lstmModule()?.attentionPoolBackward(w, { dout, out, u, v, h, w: wa, mask });
  if (byModule) return byModule;
  const [B, T, D] = h.shape as [number, number, number];
  const A = v.shape[0]!;
  const O = D + T;
  const outs = [w.output([B, T, D]), w.output([D, A]), w.output([A]), w.output([A])];
  // dpre [B T, A], w^T [A, D], dpre w^T [B T, D], h^T [D, B T].
  const temps = [w.output([B * T, A]), w.output([A, D]), w.output([B * T, D]), w.output([D, B * T])];
  const [dh, , dv, db] = outs.map((o) => w.base(o)) as [number, number, number, number];
  const [dpre, wt, dhp, ht] = temps.map((o) => w.base(o)) as [number, number, number, number];
  const [doAt, outAt, uAt, vAt, hAt] = [dout, out, u, v, h].map((o) => w.base(o)) as [number, number, number, number, number];
  const F = w.heap;
  F.fill(0, dh, dh + B * T * D);
  F.fill(0, dpre, dpre + B * T * A);
  const da = new Float64Array(T);
  const dvAcc = new Float64Array(A);
  const dbAcc = new Float64Array(A);
  const rowSum = new Float64Array(A);
  for (let b = 0; b < B; b++) {
    const at = { uAt: uAt + b * T * A, vAt, A, T, aAt: outAt + b * O + D, valAt: hAt + b * T * D, D };
    attendGrad(F, at, { dOutAt: doAt + b * O, daAt: doAt + b * O + D, dValAt: dh + b * T * D, dpreAt: dpre + b * T * A }, da, dvAcc, rowSum);
    for (let a = 0; a < A; a++) dbAcc[a] += rowSum[a]!;
  }
  for (let a = 0; a < A; a++) {
    F[dv + a] = dvAcc[a]!;
    F[db + a] = dbAcc[a]!;
  }
  const [waAt, hAt2] = [w.base(wa), w.base(h)];
  for (let d = 0; d < D; d++) for (let a = 0; a < A; a++) F[wt + a * D + d] = F[waAt + d * A + a]!;
  for (let r = 0; r < B * T; r++) for (let d = 0; d < D; d++) F[ht + d * B * T + r] = F[hAt2 + r * D + d]!;
  const [dpreId, wtId, dhpId, htId] = temps.map((t) => w.id(t)) as [number, number, number, number];
  w.product(dpreId, wtId, dhpId, B * T, A, D);
  w.product(htId, dpreId, w.id(outs[1]!), D, B * T, A);
  const G = w.heap;
  for (let k = 0; k < B * T * D; k++) G[dh + k] += G[dhp + k]!;
  for (const t of temps) w.dispose(t);
  return outs;
}

export const CONCAT_LAST = "AttncConcatLast";
export const SPLIT_LAST = "AttncSplitLast";

/**
 * out [..., Ha + Hb] = a [..., Ha] beside b [..., Hb] along the last axis (a BiLSTM's two directions), row by row;
 * the backend's Concat and its gradient's SplitV go through generic strided loops (0.5 and 1.1 ms at B = 32,
 * T = 50, H = 64, where these take a fifth of that). Float32 inputs of the same leading shape.
 */
function concatLastKernel(w: KernelMemory, inputs: Record<string, TensorInfo>): TensorInfo[] {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const lead = a.shape.slice(0, -1);
  const [Ha, Hb] = [a.shape[lead.length]!, b.shape[lead.length]!];
  const out = w.output([...lead, Ha + Hb]);
  const rows = sizeOf(lead);
  copyRows(w.heap, rows, Ha, w.base(a), Ha, w.base(out), Ha + Hb);
  copyRows(w.heap, rows, Hb, w.base(b), Hb, w.base(out) + Ha, Ha + Hb);
  return [out];
}

/** Its inverse (and gradient): x [..., H] into its first `first` columns and the rest, row by row. */
function splitLastKernel(w: KernelMemory, inputs: Record<string, TensorInfo>, attrs: { first: number }): TensorInfo[] {
  const { x } = inputs as { x: TensorInfo };
  const lead = x.shape.slice(0, -1);
  const H = x.shape[lead.length]!;
  const [Ha, Hb] = [attrs.first, H - attrs.first];
  const outs = [w.output([...lead, Ha]), w.output([...lead, Hb])];
  const rows = sizeOf(lead);
  copyRows(w.heap, rows, Ha, w.base(x), H, w.base(outs[0]!), Ha);
  copyRows(w.heap, rows, Hb, w.base(x) + Ha, H, w.base(outs[1]!), Hb);
  return outs;
}

/** `width` floats of each of `rows` rows, from rows `fromStride` apart at `from` to rows `toStride` apart at `to`. */
function copyRows(F: Float32Array, rows: number, width: number, from: number, fromStride: number, to: number, toStride: number): void {
  for (let r = 0; r < rows; r++) F.copyWithin(to + r * toStride, from + r * fromStride, from + r * fromStride + width);
}

/** [a, b] along the last axis, as tf.concat([a, b], -1) computes it, one kernel each way (wasm and cpu). */
export function concatLast(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return runKernel(CONCAT_LAST, { a, b }, { first: a.shape[a.rank - 1]! })[0]!;
}

/**
 * x [..., H] as its first `first` columns and the rest, as two tf.slice calls compute them, one kernel each way
 * (wasm and cpu): a kernel's outputs packed side by side, taken apart. The backend's Slice of a strided part and
 * its gradient's pad go through generic loops (1.8 ms a step for the forecaster's [64, 24, 88] output, where this
 * takes a tenth of that). An output the loss does not reach gets zeros as its gradient.
 */
export function splitLast(x: tf.Tensor, first: number): [tf.Tensor, tf.Tensor] {
  const [a, b] = runKernel(SPLIT_LAST, { x }, { first });
  return [a!, b!];
}

export const PRODUCT_TN = "AttncProductTN";

/**
 * c [M, N] = a^T b for a [K, M] and b [K, N]: a weight's gradient summed over K positions (the temporal LSTM's
 * dW, dU, dWh and dWx), with neither a nor c transposed through the engine. In the module's blocked product
 * (lstm.c's product_tn); else a transposed into a temporary and the backend's product.
 */
function productTN(w: KernelMemory, inputs: Record<string, TensorInfo>): TensorInfo[] {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const [K, M] = a.shape as [number, number];
  const N = b.shape[1]!;
  const byModule = lstmModule()?.productTN(w, a, b);
  if (byModule) return byModule;
  const out = w.output([M, N]);
  if (K === 0) {
    w.heap.fill(0, w.base(out), w.base(out) + M * N);
    return [out];
  }
  const aT = w.output([M, K]);
  const F = w.heap;
  const [from, to] = [w.base(a), w.base(aT)];
  for (let k = 0; k < K; k++) for (let i = 0; i < M; i++) F[to + i * K + k] = F[from + k * M + i]!;
  w.product(w.id(aT), w.id(b), w.id(out), M, K, N);
  w.dispose(aT);
  return [out];
}

export const ADAM_STEP = "AttncAdamStep";

/** The float32 constants of one Adam step (see adamStep). */
export interface AdamStepAttrs {
  beta1: number;
  beta2: number;
  /** 1 - beta1 and 1 - beta2, as tfjs' AdamOptimizer computes them (in float64, then rounded). */
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  /** 1 - beta1^t and 1 - beta2^t, from the optimizer's float32 running powers. */
  correction1: number;
  correction2: number;
  epsilon: number;
  /** -lr. */
  negLr: number;
}

/**
 * One Adam step of one variable in a single pass. Inputs value, g, m, v (float32, one shape); outputs the new
 * value, m and v. Every operation of tfjs' AdamOptimizer.applyGradients, in its order, each rounded to float32
 * as its ops round them (a float32 operation computed in float64 and rounded once is correctly rounded for
 * +, -, x, / and sqrt), so the result equals tf.train.adam's bit for bit on the wasm and cpu backends:
 *   m' = m b1 + g (1 - b1),  v' = v b2 + g^2 (1 - b2),
 *   value' = (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps) (-lr) + value.
 * It replaces some 16 engine ops per variable, each a pass over the variable: in the wasm module's SIMD code
 * (lstm-module.ts), else in JavaScript.
 */
function adamStep(w: KernelMemory, inputs: Record<string, TensorInfo>, attrs: AdamStepAttrs): TensorInfo[] {
  const { value, g, m, v } = inputs as { value: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo };
  const constants = [attrs.beta1, attrs.beta2, attrs.oneMinusBeta1, attrs.oneMinusBeta2, attrs.correction1, attrs.correction2, attrs.epsilon, attrs.negLr];
  const done = lstmModule()?.adam(w, value, g, m, v, constants);
  if (done) return done;
  // Without the module, the same operations in JavaScript (float32 rounding by Math.fround).
  const n = sizeOf(value.shape);
  const outs = [w.output(value.shape), w.output(value.shape), w.output(value.shape)];
  const [valueAt, gAt, mAt, vAt] = [value, g, m, v].map((t) => w.base(t)) as [number, number, number, number];
  const [valueOut, mOut, vOut] = outs.map((t) => w.base(t)) as [number, number, number];
  const F = w.heap;
  const f = Math.fround;
  const [b1, b2, c1, c2, o1, o2, eps, nlr] = constants.map(f) as [number, number, number, number, number, number, number, number];
  for (let k = 0; k < n; k++) {
    const gk = F[gAt + k]!;
    const mk = f(f(F[mAt + k]! * b1) + f(gk * c1));
    const vk = f(f(F[vAt + k]! * b2) + f(f(gk * gk) * c2));
    F[mOut + k] = mk;
    F[vOut + k] = vk;
    const den = f(f(Math.sqrt(f(vk / o2))) + eps);
    F[valueOut + k] = f(f(f(f(mk / o1) / den) * nlr) + F[valueAt + k]!);
  }
  return outs;
}

type KernelFn = (w: KernelMemory, inputs: Record<string, TensorInfo>, attrs: never) => TensorInfo[];
const KERNELS: [string, KernelFn][] = [
  [GATHER_ROWS, gatherRows as KernelFn],
  [LSTM_SEQUENCE, lstmSequenceForward as KernelFn],
  [LSTM_SEQUENCE_GRAD, lstmSequenceBackward as KernelFn],
  [TEMPORAL_LSTM, temporalForward as KernelFn],
  [TEMPORAL_LSTM_GRAD, temporalBackward as KernelFn],
  [ATTENTION_POOL, attentionPoolForward as KernelFn],
  [ATTENTION_POOL_GRAD, attentionPoolBackward as KernelFn],
  [ADAM_STEP, adamStep as KernelFn],
  [PRODUCT_TN, productTN as KernelFn],
  [CONCAT_LAST, concatLastKernel as KernelFn],
  [SPLIT_LAST, splitLastKernel as KernelFn],
];
/** The backends the kernels run on: wasm on its own heap and SIMD products, cpu in an arena per call. */
const KERNEL_BACKENDS = ["wasm", "cpu"];

let kernelsRegistered = false;
/** Registers the kernels for the wasm and cpu backends (idempotent). */
export function registerKernels(): void {
  if (kernelsRegistered) return;
  for (const backendName of KERNEL_BACKENDS) {
    for (const [kernelName, fn] of KERNELS) {
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: ({ inputs, attrs, backend }) => {
          const infos = inputs as unknown as Record<string, TensorInfo>;
          const w = kernelMemory(backendName, backend, Object.values(infos));
          return w.finish(fn(w, infos, attrs as never)) as never;
        },
      });
    }
  }
  // Each of the two is the other's gradient (the concatenation's `first` is its first input's width).
  tf.registerGradient({
    kernelName: CONCAT_LAST,
    gradFunc: (dy, _saved, attrs) => {
      // Both parts at once, as tfjs' Concat's gradient.
      const [a, b] = splitLast(dy as tf.Tensor, (attrs as { first: number }).first);
      return { a: () => a, b: () => b };
    },
  });
  tf.registerGradient({
    kernelName: SPLIT_LAST,
    gradFunc: (dys) => {
      const [da, db] = dys as tf.Tensor[];
      return { x: () => concatLast(da!, db!) };
    },
  });
  shareIdentity();
  kernelsRegistered = true;
}

/**
 * True when the active backend runs the kernels: wasm or cpu, on the TensorFlow.js release they are made for,
 * unless ATTNC_NO_FUSED_KERNELS or ATTNC_NO_SEQUENCE_KERNELS is 1 (then the op tier runs, as on the native backend).
 */
export function sequenceKernelsAvailable(): boolean {
  registerKernels();
  return (
    KERNEL_BACKENDS.includes(tf.getBackend()) &&
    envSetting("ATTNC_NO_FUSED_KERNELS") !== "1" &&
    envSetting("ATTNC_NO_SEQUENCE_KERNELS") !== "1" &&
    internalsUsable()
  );
}
