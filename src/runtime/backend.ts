import * as tf from "@tensorflow/tfjs";

export type BackendChoice = "auto" | "node" | "wasm" | "cpu";
export const BACKENDS: readonly BackendChoice[] = ["auto", "node", "wasm", "cpu"];

/**
 * The TensorFlow.js release this runtime is made and tested for; package.json pins it, and the build checks that
 * the two agree. The kernels reach into the wasm backend's internals, which change between releases.
 */
export const TFJS_VERSION = "4.22.0";

/** Why the installed TensorFlow.js is not the one this runtime is made for, or undefined when it is. */
export function tfjsVersionProblem(installed: string = tf.version_core): string | undefined {
  if (installed === TFJS_VERSION) return undefined;
  return `this program is made for @tensorflow/tfjs ${TFJS_VERSION}, but ${installed} is installed; run: npm install @tensorflow/tfjs@${TFJS_VERSION} @tensorflow/tfjs-backend-wasm@${TFJS_VERSION}`;
}

/** Why a backend could not be used, for the message when it was asked for by name. */
export class BackendError extends Error {}

async function tryNode(): Promise<boolean> {
  try {
    // Optional dependency: present only where its native library could be installed.
    await import("@tensorflow/tfjs-node" as string);
    return await tf.setBackend("tensorflow");
  } catch {
    return false;
  }
}

/**
 * The engine clones every tensor a gradient saves (tf.customGrad's and the ops' saved inputs) through the
 * Identity kernel, and the wasm backend's Identity copies the data: some 30 copies a training step, 1.3 ms of
 * the forecaster's. Tensors are immutable, so the clone can share the data, as the backend's Reshape and the cpu
 * backend's Identity do (the backend counts the references): the same kernel without the copy. Strings keep
 * the stock kernel. Idempotent; called by kernels.ts' registerKernels and again once the wasm backend's module
 * has registered its own kernels (tryWasm), whichever comes last.
 */
export function shareIdentity(): void {
  const stock = tf.getKernel(tf.Identity, "wasm");
  if (!stock || stock.kernelFunc === sharedIdentity) return;
  stockIdentity = stock.kernelFunc;
  tf.unregisterKernel(tf.Identity, "wasm");
  tf.registerKernel({ ...stock, kernelFunc: sharedIdentity });
}
let stockIdentity: tf.KernelFunc | null = null;
const sharedIdentity: tf.KernelFunc = (args) => {
  const x = (args.inputs as { x: { dataId: object; shape: number[]; dtype: string } }).x;
  if (x.dtype === "string") return stockIdentity!(args);
  (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as never;
};

async function tryWasm(): Promise<boolean> {
  try {
    await import("@tensorflow/tfjs-backend-wasm");
    shareIdentity();
    return await tf.setBackend("wasm");
  } catch {
    return false;
  }
}

/**
 * Selects the TensorFlow.js backend. `auto` takes the native one where it loads, else wasm, else cpu.
 * Returns the name of the backend in use ("tensorflow", "wasm" or "cpu").
 */
export async function selectBackend(choice: BackendChoice): Promise<string> {
  // The cpu backend greets Node users once (advice to install a backend that does not install here); keep the
  // command's output to what it says itself.
  const warn = console.warn;
  const log = console.log;
  console.warn = () => undefined;
  console.log = () => undefined;
  try {
    let ok = false;
    if (choice === "node" || choice === "auto") ok = await tryNode();
    if (!ok && choice === "node")
      throw new BackendError("the node backend (@tensorflow/tfjs-node) is not installed or does not load on this machine; use --backend wasm");
    if (!ok && (choice === "wasm" || choice === "auto")) ok = await tryWasm();
    if (!ok && choice === "wasm") throw new BackendError("the wasm backend (@tensorflow/tfjs-backend-wasm) did not load");
    if (!ok) ok = await tf.setBackend("cpu");
    await tf.ready();
    // The cpu backend greets on its first tensor write, not when it is set: make that write here, muted.
    tf.tensor1d([0]).dispose();
    return tf.getBackend();
  } finally {
    console.warn = warn;
    console.log = log;
  }
}
