/**
 * Fused LSTM step kernels, registered for the wasm and cpu backends. One call does a step's whole
 * elementwise work (gates, cell, output, mask carry; or all of their derivatives) in one pass over plain
 * Float32Arrays, where the same work as TensorFlow.js ops takes 15 to 25 kernel calls of 10 to 40 us each.
 * Matrix products stay with the backend (wasm's SIMD matmul). Backends without direct memory access (the
 * native one) use the op-based path in ops.ts instead.
 */
import * as tf from "@tensorflow/tfjs";

type TensorInfo = { dataId: object; shape: number[]; dtype: string };
/** What a kernel needs of a backend: its inputs' values and fresh outputs. */
interface Memory {
  /** Allocates the outputs first: on wasm an allocation may grow the heap and detach earlier views. */
  outputs(shapes: number[][]): TensorInfo[];
  view(t: TensorInfo): Float32Array;
}

function wasmMemory(backend: unknown): Memory {
  const be = backend as { makeOutput(s: number[], d: string): TensorInfo; typedArrayFromHeap(t: TensorInfo): Float32Array };
  return { outputs: (shapes) => shapes.map((s) => be.makeOutput(s, "float32")), view: (t) => be.typedArrayFromHeap(t) };
}

function cpuMemory(backend: unknown): Memory {
  const be = backend as { makeTensorInfo(s: number[], d: string, v?: Float32Array): TensorInfo; data: { get(id: object): { values: Float32Array } } };
  return {
    outputs: (shapes) => shapes.map((s) => be.makeTensorInfo(s, "float32", new Float32Array(s.reduce((a, b) => a * b, 1)))),
    view: (t) => be.data.get(t.dataId).values,
  };
}

export const ADD_STEP = "AttncAddStep";
export const CELL_FORWARD = "AttncLstmCellForward";
export const LSTM_STEP_BACKWARD = "AttncLstmStepBackward";
export const STACK_STEPS = "AttncStackSteps";
export const GATHER_ROWS = "AttncGatherRows";

const hardSigmoidValue = (z: number): number => (z <= -2.5 ? 0 : z >= 2.5 ? 1 : 0.2 * z + 0.5);

/** Step t of xw [T, B, 4H] plus zr [B, 4H]: the gate pre-activations, without slicing xw. */
function addStep(mem: Memory, inputs: Record<string, TensorInfo>, attrs: { t: number }): TensorInfo[] {
  const { xw, zr } = inputs as { xw: TensorInfo; zr: TensorInfo };
  const [B, H4] = zr.shape as [number, number];
  const outs = mem.outputs([[B, H4]]);
  const O = mem.view(outs[0]!);
  const X = mem.view(xw);
  const Z = mem.view(zr);
  const base = attrs.t * B * H4;
  for (let k = 0; k < B * H4; k++) O[k] = X[base + k]! + Z[k]!;
  return outs;
}

/**
 * The cell at step t. Input `a` [B, 4H] is, for sigmoid gates, s(z) computed by the backend with the g columns
 * of z doubled (so g = 2 s(2 z_g) - 1 = tanh(z_g)); for hard_sigmoid gates it is z itself. Also c, h [B, H] and
 * an optional mask [T, B]. Outputs: h_t, c_t [B, H] (carried over where masked), act [B, 4H] (i, f, g, o) and
 * tc = tanh(c_new) [B, H], which the backward step needs.
 */
function cellForward(mem: Memory, inputs: Record<string, TensorInfo>, attrs: { t: number; hard: boolean }): TensorInfo[] {
  const { a, c, h, mask } = inputs as { a: TensorInfo; c: TensorInfo; h: TensorInfo; mask?: TensorInfo };
  const [B, H4] = a.shape as [number, number];
  const H = H4 / 4;
  const outs = mem.outputs([[B, H], [B, H], [B, H4], [B, H]]);
  const [hO, cO, aO, tcO] = outs.map((o) => mem.view(o)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const A = mem.view(a);
  const C = mem.view(c);
  const Hp = mem.view(h);
  const M = mask ? mem.view(mask) : null;
  const hard = attrs.hard;
  for (let b = 0; b < B; b++) {
    const m = M === null ? 1 : M[attrs.t * B + b]!;
    const ao = b * H4;
    const ko = b * H;
    for (let j = 0; j < H; j++) {
      let i: number, f: number, g: number, o: number;
      if (hard) {
        i = hardSigmoidValue(A[ao + j]!);
        f = hardSigmoidValue(A[ao + H + j]!);
        g = Math.tanh(A[ao + 2 * H + j]!);
        o = hardSigmoidValue(A[ao + 3 * H + j]!);
      } else {
        i = A[ao + j]!;
        f = A[ao + H + j]!;
        g = 2 * A[ao + 2 * H + j]! - 1;
        o = A[ao + 3 * H + j]!;
      }
      const k = ko + j;
      const cPrev = C[k]!;
      const cNew = f * cPrev + i * g;
      const tc = Math.tanh(cNew);
      const hNew = o * tc;
      aO[ao + j] = i;
      aO[ao + H + j] = f;
      aO[ao + 2 * H + j] = g;
      aO[ao + 3 * H + j] = o;
      tcO[k] = tc;
      cO[k] = m === 1 ? cNew : cPrev + m * (cNew - cPrev);
      hO[k] = m === 1 ? hNew : Hp[k]! + m * (hNew - Hp[k]!);
    }
  }
  return outs;
}

/**
 * Backward step t. Inputs: dy [T, B, H] (output gradient, time-major), dhr [B, H] (dz_{t+1} U^T), dhc [B, H]
 * (gradient carried past masked steps), dc [B, H], act [B, 4H], tc [B, H], cPrev [B, H], optional mask [T, B].
 * Outputs: dz [B, 4H] (gradient of the gate pre-activations), dcPrev [B, H], dhCarry [B, H].
 */
function lstmStepBackward(mem: Memory, inputs: Record<string, TensorInfo>, attrs: { t: number; hard: boolean }): TensorInfo[] {
  const { dy, dhr, dhc, dc, act, tc, cPrev, mask } = inputs as Record<string, TensorInfo | undefined> as {
    dy: TensorInfo;
    dhr: TensorInfo;
    dhc: TensorInfo;
    dc: TensorInfo;
    act: TensorInfo;
    tc: TensorInfo;
    cPrev: TensorInfo;
    mask?: TensorInfo;
  };
  const [B, H4] = act.shape as [number, number];
  const H = H4 / 4;
  const outs = mem.outputs([[B, H4], [B, H], [B, H]]);
  const [dzO, dcO, dhO] = outs.map((o) => mem.view(o)) as [Float32Array, Float32Array, Float32Array];
  const DY = mem.view(dy);
  const DHR = mem.view(dhr);
  const DHC = mem.view(dhc);
  const DC = mem.view(dc);
  const ACT = mem.view(act);
  const TC = mem.view(tc);
  const CP = mem.view(cPrev);
  const M = mask ? mem.view(mask) : null;
  const hard = attrs.hard;
  const ds = (a: number): number => (hard ? (a > 0 && a < 1 ? 0.2 : 0) : a * (1 - a));
  const yBase = attrs.t * B * H;
  for (let b = 0; b < B; b++) {
    const m = M ? M[attrs.t * B + b]! : 1;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const a = b * H4 + j;
      const dhTotal = DY[yBase + k]! + DHR[k]! + DHC[k]!;
      const dhNew = m * dhTotal;
      const dcIn = DC[k]!;
      const dcNew = m * dcIn;
      const i = ACT[a]!;
      const f = ACT[a + H]!;
      const g = ACT[a + 2 * H]!;
      const o = ACT[a + 3 * H]!;
      const t = TC[k]!;
      const dcTot = dcNew + dhNew * o * (1 - t * t);
      dzO[a] = dcTot * g * ds(i);
      dzO[a + H] = dcTot * CP[k]! * ds(f);
      dzO[a + 2 * H] = dcTot * i * (1 - g * g);
      dzO[a + 3 * H] = dhNew * t * ds(o);
      dcO[k] = dcTot * f + (dcIn - dcNew);
      dhO[k] = dhTotal - dhNew;
    }
  }
  return outs;
}

/**
 * Stacks T step tensors [B, K] (inputs "0".."T-1") into one tensor: batch-major [B, T, K] (attrs.batchMajor)
 * or time-major [T * B, K].
 */
function stackSteps(mem: Memory, inputs: Record<string, TensorInfo>, attrs: { batchMajor: boolean }): TensorInfo[] {
  const T = Object.keys(inputs).length;
  const [B, K] = inputs["0"]!.shape as [number, number];
  const [out] = mem.outputs([attrs.batchMajor ? [B, T, K] : [T * B, K]]) as [TensorInfo];
  const O = mem.view(out);
  for (let t = 0; t < T; t++) {
    const src = mem.view(inputs[String(t)]!);
    if (!attrs.batchMajor) O.set(src, t * B * K);
    else for (let b = 0; b < B; b++) O.set(src.subarray(b * K, (b + 1) * K), (b * T + t) * K);
  }
  return [out];
}

/**
 * Rows of table [V, E] at ids [n] (int32): [n, E]. The wasm backend's GatherV2 takes ~3.5 ms for 1,600 rows of
 * 64; copying the rows takes ~0.1 ms.
 */
function gatherRows(mem: Memory, inputs: Record<string, TensorInfo>): TensorInfo[] {
  const { table, ids } = inputs as { table: TensorInfo; ids: TensorInfo };
  const [V, E] = table.shape as [number, number];
  const n = ids.shape[0]!;
  const [out] = mem.outputs([[n, E]]) as [TensorInfo];
  const O = mem.view(out);
  const Tb = mem.view(table);
  const I = mem.view(ids) as unknown as Int32Array;
  for (let r = 0; r < n; r++) {
    const id = I[r]!;
    if (!(id >= 0 && id < V)) throw new Error(`embedding id ${id} is outside the table's ${V} rows`);
    O.set(Tb.subarray(id * E, id * E + E), r * E);
  }
  return [out];
}

const KERNELS: [string, (mem: Memory, inputs: Record<string, TensorInfo>, attrs: never) => TensorInfo[]][] = [
  [GATHER_ROWS, gatherRows as never],
  [ADD_STEP, addStep as never],
  [CELL_FORWARD, cellForward as never],
  [LSTM_STEP_BACKWARD, lstmStepBackward as never],
  [STACK_STEPS, stackSteps as never],
];

const MEMORY: Record<string, (backend: unknown) => Memory> = { wasm: wasmMemory, cpu: cpuMemory };

let kernelsRegistered = false;
/** Registers the fused kernels for the backends that expose memory (idempotent). */
export function registerKernels(): void {
  if (kernelsRegistered) return;
  for (const [backendName, memory] of Object.entries(MEMORY)) {
    for (const [kernelName, fn] of KERNELS) {
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: ({ inputs, attrs, backend }) => fn(memory(backend), inputs as unknown as Record<string, TensorInfo>, attrs as never) as never,
      });
    }
  }
  kernelsRegistered = true;
}

/** True when the active backend runs the fused kernels; false means the op-based fallback. */
export function fusedKernelsAvailable(): boolean {
  registerKernels();
  return tf.getBackend() in MEMORY && process.env["ATTNC_NO_FUSED_KERNELS"] !== "1";
}

export function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number | boolean>): tf.Tensor[] {
  return tf.engine().runKernel(name, inputs as never, attrs as never) as unknown as tf.Tensor[];
}

/*
 * Whole-sequence LSTM kernels for the wasm backend. One kernel call runs all T steps: the recurrent product
 * of each step goes straight to the backend's SIMD matrix multiply (XNNPACK) and sigmoid on the backend's own
 * memory, through tensor ids registered as views into the sequence buffers, so a step costs its arithmetic
 * and no engine bookkeeping (the per-step kernels above cost 4 to 6 engine calls of 10 to 40 us each).
 * Only the right-hand operand of a product is cached (packed) by the backend, keyed by its id, so views are
 * only ever left-hand operands and outputs.
 */
export const LSTM_SEQUENCE = "AttncLstmSequence";
export const LSTM_SEQUENCE_GRAD = "AttncLstmSequenceGrad";

interface WasmModule {
  HEAPU8: Uint8Array;
  cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
  tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
}
interface WasmBackend {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  makeOutput(shape: number[], dtype: string): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Direct calls into the wasm backend: products, sigmoids and views by byte offset. */
class WasmDirect {
  private readonly matMul: (...a: unknown[]) => void;
  private readonly sigmoidFn: (...a: unknown[]) => void;
  private heapView: Float32Array;
  constructor(private readonly be: WasmBackend) {
    this.matMul = be.wasm.cwrap("BatchMatMul", null, ["number", "array", "number", "number", "array", "number", "number", "number", "number"]);
    this.sigmoidFn = be.wasm.cwrap("Sigmoid", null, ["number", "number"]);
    this.heapView = new Float32Array(be.wasm.HEAPU8.buffer);
  }
  /** The whole heap as floats; a backend call may grow the heap, which detaches earlier views. */
  get heap(): Float32Array {
    if (this.heapView.buffer !== this.be.wasm.HEAPU8.buffer) this.heapView = new Float32Array(this.be.wasm.HEAPU8.buffer);
    return this.heapView;
  }
  /** Float index of a tensor's first element in `heap`. */
  base(t: TensorInfo): number {
    return this.be.dataIdMap.get(t.dataId).memoryOffset / 4;
  }
  id(t: TensorInfo): number {
    return this.be.dataIdMap.get(t.dataId).id;
  }
  /** Registers `size` floats from float index `at` as a tensor id (a view; release it with `release`). */
  view(at: number, size: number): number {
    const id = this.be.dataIdNextNumber++;
    this.be.wasm.tfjs.registerTensor(id, size, at * 4);
    return id;
  }
  release(id: number): void {
    this.be.wasm.tfjs.disposeData(id);
  }
  /** out [M, N] = a [M, K] @ b [K, N]; b must be a real tensor (the backend caches its packed form by id). */
  product(a: number, b: number, out: number, M: number, K: number, N: number): void {
    const aShape = new Uint8Array(new Int32Array([1, M, K]).buffer);
    const bShape = new Uint8Array(new Int32Array([1, K, N]).buffer);
    this.matMul(a, aShape, 3, b, bShape, 3, 0, 0, out);
  }
  sigmoid(x: number, out: number): void {
    this.sigmoidFn(x, out);
  }
  output(shape: number[]): TensorInfo {
    return this.be.makeOutput(shape, "float32");
  }
  dispose(t: TensorInfo): void {
    this.be.disposeData(t.dataId, true);
  }
}

const directs = new WeakMap<object, WasmDirect>();
function direct(backend: unknown): WasmDirect {
  let d = directs.get(backend as object);
  if (!d) directs.set(backend as object, (d = new WasmDirect(backend as WasmBackend)));
  return d;
}

/**
 * The forward pass over all steps, in the order of `reverse`. Inputs: xw [T, B, 4H] (x W + b per step), u
 * [H, 4H] (for sigmoid gates both with the g columns doubled, so that one sigmoid also yields
 * g = 2 s(2 z_g) - 1 = tanh(z_g)), optional mask [T, B]. Outputs: y [B, T, H] (h at every step, carried over
 * masked steps), hp and cp [T, B, H] (h and c before each step), act [T, B, 4H] (i, f, g, o) and tc [T, B, H]
 * (tanh of the new cell before the mask carry), which the backward pass reads.
 */
function lstmSequenceForward(backend: unknown, inputs: Record<string, TensorInfo>, attrs: { reverse: boolean; hard: boolean }): TensorInfo[] {
  const w = direct(backend);
  const { xw, u, mask } = inputs as { xw: TensorInfo; u: TensorInfo; mask?: TensorInfo };
  const [T, B, H4] = xw.shape as [number, number, number];
  const H = H4 / 4;
  const BH = B * H;
  const BH4 = B * H4;
  const outs = [w.output([B, T, H]), w.output([T, B, H]), w.output([T, B, H]), w.output([T, B, H4]), w.output([T, B, H])];
  const [y, hp, cp, act, tc] = outs.map((o) => w.base(o)) as [number, number, number, number, number];
  const xwAt = w.base(xw);
  const maskAt = mask ? w.base(mask) : -1;
  const uId = w.id(u);
  const hard = attrs.hard;
  const order = (s: number): number => (attrs.reverse ? T - 1 - s : s);
  const cNew = new Float32Array(BH);
  const views: number[] = [];
  try {
    {
      const t0 = order(0);
      w.heap.fill(0, hp + t0 * BH, hp + (t0 + 1) * BH);
      w.heap.fill(0, cp + t0 * BH, cp + (t0 + 1) * BH);
    }
    for (let s = 0; s < T; s++) {
      const t = order(s);
      const hIn = w.view(hp + t * BH, BH);
      const z = w.view(act + t * BH4, BH4);
      views.push(hIn, z);
      w.product(hIn, uId, z, B, H, H4);
      let F = w.heap;
      const za = act + t * BH4;
      const xa = xwAt + t * BH4;
      for (let k = 0; k < BH4; k++) F[za + k] += F[xa + k]!;
      if (!hard) w.sigmoid(z, z);
      F = w.heap;
      const ta = tc + t * BH;
      const ca = cp + t * BH;
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
        views.push(tcv);
        w.sigmoid(tcv, tcv);
        F = w.heap;
      }
      const next = s + 1 < T ? order(s + 1) : -1;
      const ha = hp + t * BH;
      for (let b = 0; b < B; b++) {
        const m = maskAt < 0 ? 1 : F[maskAt + t * B + b]!;
        const ao = za + b * H4;
        const yo = y + (b * T + t) * H;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const tv = hard ? F[ta + k]! : 2 * F[ta + k]! - 1;
          F[ta + k] = tv;
          const hNew = F[ao + 3 * H + j]! * tv;
          const hPrev = F[ha + k]!;
          const cPrev = F[ca + k]!;
          const h = m === 1 ? hNew : hPrev + m * (hNew - hPrev);
          F[yo + j] = h;
          if (next >= 0) {
            F[hp + next * BH + k] = h;
            F[cp + next * BH + k] = m === 1 ? cNew[k]! : cPrev + m * (cNew[k]! - cPrev);
          }
        }
      }
      for (const v of views) w.release(v);
      views.length = 0;
    }
  } finally {
    for (const v of views) w.release(v);
  }
  return outs;
}

/**
 * The backward pass, from the last step read to the first. Inputs: dy [B, T, H], act, tc, cp as the forward
 * pass wrote them, ut [4H, H] (U transposed, unscaled), optional mask [T, B]. Outputs: dz [T, B, 4H] (gradient
 * of the pre-activations z = x W + h U + b), dzT [4H, T * B] (the same, transposed: the left operand of the
 * weight gradients, so that the backend packs the smaller operand), db [4H].
 */
function lstmSequenceBackward(backend: unknown, inputs: Record<string, TensorInfo>, attrs: { reverse: boolean; hard: boolean }): TensorInfo[] {
  const w = direct(backend);
  const { dy, act, tc, cp, ut, mask } = inputs as { dy: TensorInfo; act: TensorInfo; tc: TensorInfo; cp: TensorInfo; ut: TensorInfo; mask?: TensorInfo };
  const [T, B, H4] = act.shape as [number, number, number];
  const H = H4 / 4;
  const BH = B * H;
  const BH4 = B * H4;
  const TB = T * B;
  const outs = [w.output([T, B, H4]), w.output([H4, TB]), w.output([H4])];
  const dhrT = w.output([B, H]);
  const [dz, dzT, db, dhr] = [...outs, dhrT].map((o) => w.base(o)) as [number, number, number, number];
  const [dyAt, actAt, tcAt, cpAt] = [dy, act, tc, cp].map((o) => w.base(o)) as [number, number, number, number];
  const maskAt = mask ? w.base(mask) : -1;
  const utId = w.id(ut);
  const dhrId = w.id(dhrT);
  const hard = attrs.hard;
  const ds = (a: number): number => (hard ? (a > 0 && a < 1 ? 0.2 : 0) : a * (1 - a));
  const order = (s: number): number => (attrs.reverse ? T - 1 - s : s);
  const dc = new Float32Array(BH);
  const dhc = new Float32Array(BH);
  const dbAcc = new Float64Array(H4);
  let F = w.heap;
  F.fill(0, dhr, dhr + BH);
  for (let s = T - 1; s >= 0; s--) {
    const t = order(s);
    const za = dz + t * BH4;
    for (let b = 0; b < B; b++) {
      const m = maskAt < 0 ? 1 : F[maskAt + t * B + b]!;
      const ao = actAt + t * BH4 + b * H4;
      const zo = za + b * H4;
      const yo = dyAt + (b * T + t) * H;
      const col = t * B + b;
      for (let j = 0; j < H; j++) {
        const k = b * H + j;
        const kt = t * BH + k;
        const dhTotal = F[yo + j]! + F[dhr + k]! + dhc[k]!;
        const dhNew = m * dhTotal;
        const dcIn = dc[k]!;
        const dcNew = m * dcIn;
        const i = F[ao + j]!;
        const f = F[ao + H + j]!;
        const g = F[ao + 2 * H + j]!;
        const o = F[ao + 3 * H + j]!;
        const tv = F[tcAt + kt]!;
        const dcTot = dcNew + dhNew * o * (1 - tv * tv);
        const dzi = dcTot * g * ds(i);
        const dzf = dcTot * F[cpAt + kt]! * ds(f);
        const dzg = dcTot * i * (1 - g * g);
        const dzo = dhNew * tv * ds(o);
        F[zo + j] = dzi;
        F[zo + H + j] = dzf;
        F[zo + 2 * H + j] = dzg;
        F[zo + 3 * H + j] = dzo;
        F[dzT + j * TB + col] = dzi;
        F[dzT + (H + j) * TB + col] = dzf;
        F[dzT + (2 * H + j) * TB + col] = dzg;
        F[dzT + (3 * H + j) * TB + col] = dzo;
        dc[k] = dcTot * f + (dcIn - dcNew);
        dhc[k] = dhTotal - dhNew;
      }
    }
    if (s > 0) {
      const zv = w.view(za, BH4);
      try {
        w.product(zv, utId, dhrId, B, H4, H);
      } finally {
        w.release(zv);
      }
      F = w.heap;
    }
  }
  for (let r = 0; r < H4; r++) {
    let acc = 0;
    const ro = dzT + r * TB;
    for (let c = 0; c < TB; c++) acc += F[ro + c]!;
    dbAcc[r] = acc;
  }
  for (let r = 0; r < H4; r++) F[db + r] = dbAcc[r]!;
  w.dispose(dhrT);
  return outs;
}

let sequenceKernelsRegistered = false;
/** Registers the whole-sequence kernels for the wasm backend (idempotent). */
export function registerSequenceKernels(): void {
  if (sequenceKernelsRegistered) return;
  tf.registerKernel({ kernelName: LSTM_SEQUENCE, backendName: "wasm", kernelFunc: ({ inputs, attrs, backend }) => lstmSequenceForward(backend, inputs as never, attrs as never) as never });
  tf.registerKernel({ kernelName: LSTM_SEQUENCE_GRAD, backendName: "wasm", kernelFunc: ({ inputs, attrs, backend }) => lstmSequenceBackward(backend, inputs as never, attrs as never) as never });
  sequenceKernelsRegistered = true;
}

/** True when the active backend runs the whole-sequence kernels (wasm). */
export function sequenceKernelsAvailable(): boolean {
  registerSequenceKernels();
  return tf.getBackend() === "wasm" && process.env["ATTNC_NO_FUSED_KERNELS"] !== "1" && process.env["ATTNC_NO_SEQUENCE_KERNELS"] !== "1";
}
