/**
 * Every use of TensorFlow.js backends' private internals, in one place: the wasm backend's heap, tensor ids,
 * data map and its exported C functions (BatchMatMul, Sigmoid). They are not part of TensorFlow.js' API and
 * change between releases, so the kernels use them only on the release this runtime is made for (TFJS_VERSION)
 * and where they have the expected form; elsewhere the kernels fall back to the op-based path (slower, the same
 * equations) after one warning.
 */
import * as tf from "@tensorflow/tfjs";
import { TFJS_VERSION, tfjsVersionProblem } from "./backend.js";

export type TensorInfo = { dataId: object; shape: number[]; dtype: string };

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
export class WasmDirect {
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
}

const directs = new WeakMap<object, WasmDirect>();

/** A float32 tensor's values as a view of the wasm backend's memory (valid until the next allocation), or null on other backends. */
export function wasmValues(t: tf.Tensor): Float32Array | null {
  if (tf.getBackend() !== "wasm" || !internalsUsable()) return null;
  const w = direct(tf.backend());
  const at = w.base(t as unknown as TensorInfo);
  return w.heap.subarray(at, at + t.size);
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
