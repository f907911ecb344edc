/**
 * Every use of TensorFlow.js backends' private internals, in one place: the wasm backend's heap, its
 * WebAssembly.Memory and allocator (_malloc, _free), tensor ids, data map and its exported C functions
 * (BatchMatMul, Sigmoid), and the cpu backend's data map. They are not
 * part of TensorFlow.js' API and change between releases, so the kernels use them only on the release this
 * runtime is made for (TFJS_VERSION) and where they have the expected form; elsewhere the kernels fall back to
 * the op-based path (slower, the same equations) after one warning.
 */
import * as tf from "@tensorflow/tfjs";
import { TFJS_VERSION, tfjsVersionProblem } from "./backend.js";

export type TensorInfo = { dataId: object; shape: number[]; dtype: string };

interface WasmModule {
  HEAPU8: Uint8Array;
  /** The instance's exports: its WebAssembly.Memory among them (not in the threaded build, which imports it). */
  asm: { memory?: object };
  _malloc(bytes: number): number;
  _free(at: number): void;
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

/**
 * What the kernels use of a backend's memory: one float heap holding their inputs and outputs, tensor ids for
 * views into it, and the backend's product and sigmoid on those ids.
 */
export interface KernelMemory {
  /** The whole heap as floats; an allocation may replace it, so it is read again after one. */
  readonly heap: Float32Array;
  /** Float index of a tensor's first element in `heap`. */
  base(t: TensorInfo): number;
  id(t: TensorInfo): number;
  /** Registers `size` floats from float index `at` as a tensor id (a view; release it with `release`). */
  view(at: number, size: number): number;
  release(id: number): void;
  /** out [M, N] = a [M, K] @ b [K, N], by tensor id. */
  product(a: number, b: number, out: number, M: number, K: number, N: number): void;
  sigmoid(x: number, out: number): void;
  output(shape: number[]): TensorInfo;
  dispose(t: TensorInfo): void;
  /** The kernel's outputs as the backend's tensors. */
  finish(outs: TensorInfo[]): TensorInfo[];
}

/** Direct calls into the wasm backend: products, sigmoids and views by byte offset. */
export class WasmDirect implements KernelMemory {
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
    this.matMul(a, this.shape(M, K), 3, b, this.shape(K, N), 3, 0, 0, out);
  }
  private readonly shapes = new Map<number, Uint8Array>();
  /** [1, r, c] as the bytes the backend's product takes; kept, as a step loop asks for the same few. */
  private shape(r: number, c: number): Uint8Array {
    const key = r * 0x100000 + c;
    let bytes = this.shapes.get(key);
    if (!bytes) this.shapes.set(key, (bytes = new Uint8Array(new Int32Array([1, r, c]).buffer)));
    return bytes;
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
  finish(outs: TensorInfo[]): TensorInfo[] {
    return outs;
  }
  /**
   * The backend's WebAssembly.Memory, which attnc's module can run on (lstm-module.ts); null where it is not
   * exported or is shared between threads (the threaded build), which the module cannot import.
   */
  get memory(): object | null {
    const memory = this.be.wasm.asm.memory as { buffer?: unknown } | undefined;
    return memory && memory.buffer instanceof ArrayBuffer ? memory : null;
  }
  /** `bytes` of the backend's heap outside any tensor (byte address; 0 where it cannot grow so far), until `free`. */
  allocate(bytes: number): number {
    // The allocator returns a signed 32-bit address: above 2 GiB it reads as negative.
    return this.be.wasm._malloc(bytes) >>> 0;
  }
  free(at: number): void {
    this.be.wasm._free(at);
  }
}

interface CpuBackend {
  data: { get(dataId: object): { values: Float32Array | Int32Array } };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): TensorInfo;
}

/** The number of elements of a shape. */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * The kernels' memory on the cpu backend, for one kernel call: an arena that the inputs are copied into and
 * the outputs are made in (copied out into the backend's tensors by `finish`), with products and sigmoids in
 * JavaScript.
 */
export class CpuArena implements KernelMemory {
  private buf = new Float32Array(4096);
  private used = 0;
  private readonly placed = new Map<object, number>();
  private readonly spans: { at: number; size: number }[] = [];
  private row = new Float64Array(0);
  constructor(
    private readonly be: CpuBackend,
    inputs: TensorInfo[],
  ) {
    for (const t of inputs) {
      if (this.placed.has(t.dataId)) continue;
      const values = be.data.get(t.dataId).values;
      const at = this.alloc(values.length);
      if (values instanceof Int32Array) new Int32Array(this.buf.buffer, at * 4, values.length).set(values);
      else this.buf.set(values, at);
      this.placed.set(t.dataId, at);
    }
  }
  private alloc(size: number): number {
    if (this.used + size > this.buf.length) {
      const grown = new Float32Array(Math.max(2 * this.buf.length, this.used + size));
      grown.set(this.buf.subarray(0, this.used));
      this.buf = grown;
    }
    const at = this.used;
    this.used += size;
    return at;
  }
  get heap(): Float32Array {
    return this.buf;
  }
  base(t: TensorInfo): number {
    const at = this.placed.get(t.dataId);
    if (at === undefined) throw new Error("a kernel read a tensor that is not among its inputs or outputs");
    return at;
  }
  id(t: TensorInfo): number {
    return this.view(this.base(t), sizeOf(t.shape));
  }
  view(at: number, size: number): number {
    return this.spans.push({ at, size }) - 1;
  }
  release(): void {}
  product(a: number, b: number, out: number, M: number, K: number, N: number): void {
    const F = this.buf;
    const A = this.spans[a]!.at;
    const Bm = this.spans[b]!.at;
    const O = this.spans[out]!.at;
    if (this.row.length < N) this.row = new Float64Array(N);
    const row = this.row;
    for (let i = 0; i < M; i++) {
      row.fill(0, 0, N);
      for (let k = 0; k < K; k++) {
        const aik = F[A + i * K + k]!;
        if (aik === 0) continue;
        const bo = Bm + k * N;
        for (let j = 0; j < N; j++) row[j] += aik * F[bo + j]!;
      }
      for (let j = 0; j < N; j++) F[O + i * N + j] = row[j]!;
    }
  }
  sigmoid(x: number, out: number): void {
    const F = this.buf;
    const { at, size } = this.spans[x]!;
    const o = this.spans[out]!.at;
    for (let k = 0; k < size; k++) F[o + k] = 1 / (1 + Math.exp(-F[at + k]!));
  }
  output(shape: number[]): TensorInfo {
    const t = { dataId: {}, shape, dtype: "float32" };
    this.placed.set(t.dataId, this.alloc(sizeOf(shape)));
    return t;
  }
  dispose(): void {}
  finish(outs: TensorInfo[]): TensorInfo[] {
    return outs.map((t) => {
      const at = this.base(t);
      return this.be.makeTensorInfo(t.shape, "float32", this.buf.slice(at, at + sizeOf(t.shape)));
    });
  }
}

const directs = new WeakMap<object, WasmDirect>();

/** A float32 tensor's values as a view of the wasm backend's memory (valid until the next allocation), or null on other backends. */
export function wasmValues(t: tf.Tensor): Float32Array | null {
  if (tf.getBackend() !== "wasm" || !internalsUsable()) return null;
  const w = direct(tf.backend());
  const at = w.base(t as unknown as TensorInfo);
  return w.heap.subarray(at, at + t.size);
}
/** The kernels' memory for one call on `backend` ("wasm" or "cpu"), with the call's inputs. */
export function kernelMemory(backendName: string, backend: unknown, inputs: TensorInfo[]): KernelMemory {
  return backendName === "wasm" ? direct(backend) : new CpuArena(backend as CpuBackend, inputs);
}
export function direct(backend: unknown): WasmDirect {
  let d = directs.get(backend as object);
  if (!d) directs.set(backend as object, (d = new WasmDirect(backend as WasmBackend)));
  return d;
}

/** Node's process, or undefined in a web page (the layers and kernels also run in a browser, through attnc/runtime). */
const nodeProcess = (globalThis as { process?: { env?: Record<string, string | undefined>; stderr?: { write(s: string): unknown } } }).process;

/** An environment variable's value in Node; undefined in a web page, which has no environment. */
export function envSetting(name: string): string | undefined {
  return nodeProcess?.env?.[name];
}

let internalsVerdict: boolean | undefined;
/**
 * Whether the kernels may use the backends' internals: the installed TensorFlow.js is the release they were
 * written for. Decided once; a mismatch is reported once on stderr.
 */
export function internalsUsable(): boolean {
  if (internalsVerdict === undefined) {
    const problem = tfjsVersionProblem();
    internalsVerdict = problem === undefined;
    if (problem !== undefined) {
      const warning = `warning: TensorFlow.js ${tf.version_core} is not ${TFJS_VERSION}, the release attnc's kernels are made for; training uses the slower op-based path`;
      if (nodeProcess?.stderr) nodeProcess.stderr.write(`${warning}\n`);
      else console.warn(warning);
    }
  }
  return internalsVerdict;
}
