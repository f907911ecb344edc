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

const KERNELS: [string, (mem: Memory, inputs: Record<string, TensorInfo>, attrs: never) => TensorInfo[]][] = [
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
