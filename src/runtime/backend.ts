import * as tf from "@tensorflow/tfjs";

export type BackendChoice = "auto" | "node" | "wasm" | "cpu";
export const BACKENDS: readonly BackendChoice[] = ["auto", "node", "wasm", "cpu"];

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

async function tryWasm(): Promise<boolean> {
  try {
    await import("@tensorflow/tfjs-backend-wasm");
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
  // The cpu backend greets Node users on stdout once; keep the command's output to what it says itself.
  const warn = console.warn;
  const log = console.log;
  console.warn = () => undefined;
  console.log = () => undefined;
  try {
    let ok = false;
    if (choice === "node" || choice === "auto") ok = await tryNode();
    if (!ok && choice === "node") throw new BackendError("the node backend (@tensorflow/tfjs-node) is not installed or does not load on this machine; use --backend wasm");
    if (!ok && (choice === "wasm" || choice === "auto")) ok = await tryWasm();
    if (!ok && choice === "wasm") throw new BackendError("the wasm backend (@tensorflow/tfjs-backend-wasm) did not load");
    if (!ok) ok = await tf.setBackend("cpu");
    await tf.ready();
    return tf.getBackend();
  } finally {
    console.warn = warn;
    console.log = log;
  }
}
