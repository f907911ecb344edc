/**
 * attnc's own wasm module for the kernels of kernels.ts: one call runs all T steps of an LSTM direction or of
 * the temporal-attention LSTM, forward or backward, products included; the attention pooling's two passes; one
 * variable's Adam step (src/runtime/wasm/lstm.c, wasm SIMD, checked in as lstm-wasm.generated.ts by
 * scripts/build-wasm.sh). The module has its own memory: a call copies its inputs in and its outputs out,
 * O(T B 4H) beside the products' O(T B H 4H).
 *
 * Node compiles it synchronously at first use. A web page's main thread refuses a synchronous compile of more
 * than 4 KB, so there it is used only after `prepareLstmModule()` (browser.ts' loadModel awaits it); until then,
 * and wherever the engine lacks wasm SIMD, the kernels run their JavaScript step loop on the backend's products.
 * ATTNC_LSTM_KERNEL=js selects that loop everywhere (for comparison).
 */
import { envSetting, sizeOf, type KernelMemory, type TensorInfo } from "./backend-internals.js";
import { LSTM_WASM_BASE64 } from "./lstm-wasm.generated.js";

/** What the module uses of the engine's WebAssembly API (not in the runtime's TypeScript library settings). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => WasmInstance;
  instantiate(bytes: Uint8Array): Promise<{ instance: WasmInstance }>;
}
interface WasmInstance {
  exports: unknown;
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface LstmExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  __heap_base: { value: unknown };
  lstm_forward(...args: number[]): void;
  lstm_backward(...args: number[]): void;
  adam_step(...args: number[]): void;
  temporal_forward(...args: number[]): void;
  temporal_backward(...args: number[]): void;
  attention_pool_forward(...args: number[]): void;
  attention_pool_backward(...args: number[]): void;
  product(...args: number[]): void;
  product_tn(...args: number[]): void;
}

/** The module's bytes. */
function lstmWasmBytes(): Uint8Array {
  const text = atob(LSTM_WASM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const FLOAT = 4;

/** An input of a module call: a tensor, or absent. */
type Input = TensorInfo | undefined;
const PAGE = 65536;
/** wasm32's address space. */
const MAX_BYTES = 2 ** 32;

/** One instance of the module and the layout of a call in its memory. */
export class LstmModule {
  private readonly ex: LstmExports;
  private readonly start: number;
  private floats: Float32Array;
  constructor(instance: WasmInstance) {
    this.ex = instance.exports as unknown as LstmExports;
    this.start = Math.ceil(Number(this.ex.__heap_base.value) / 16) * 16;
    this.floats = new Float32Array(this.ex.memory.buffer);
  }

  /**
   * Float offsets for blocks of the given sizes (each 16-byte aligned), the memory grown to hold them; null
   * where it cannot grow so far (wasm32's 4 GiB, or the engine's limit), for the JavaScript loop to run instead.
   */
  private layout(sizes: number[]): number[] | null {
    let at = this.start / FLOAT;
    const offsets = sizes.map((n) => {
      const o = at;
      at += Math.ceil(n / 4) * 4;
      return o;
    });
    const need = at * FLOAT - this.ex.memory.buffer.byteLength;
    if (at * FLOAT > MAX_BYTES) return null;
    if (need > 0) {
      try {
        this.ex.memory.grow(Math.ceil(need / PAGE));
      } catch {
        return null;
      }
    }
    if (this.floats.buffer !== this.ex.memory.buffer) this.floats = new Float32Array(this.ex.memory.buffer);
    return offsets;
  }

  /**
   * One call of the module: a block for each input (its size from its shape; none for an absent one), output and
   * scratch size, in that order; the inputs copied in; `invoke` with every block's byte address (0 for an absent
   * input); the outputs copied out to new backend tensors. Null where the memory cannot hold the blocks (the
   * caller's JavaScript loop runs instead).
   */
  private call(w: KernelMemory, inputs: Input[], outShapes: number[][], scratch: number[], invoke: (addr: number[]) => void): TensorInfo[] | null {
    const sizes = [...inputs.map((i) => (i ? sizeOf(i.shape) : 0)), ...outShapes.map(sizeOf), ...scratch];
    const at = this.layout(sizes);
    if (!at) return null;
    const outs = outShapes.map((sh) => w.output(sh));
    const F = w.heap;
    const M = this.floats;
    inputs.forEach((t, k) => {
      if (!t) return;
      const from = w.base(t);
      M.set(F.subarray(from, from + sizes[k]!), at[k]!);
    });
    invoke(at.map((o, k) => (k < inputs.length && !inputs[k] ? 0 : o * FLOAT)));
    const heap = w.heap;
    outs.forEach((o, k) => {
      const b = inputs.length + k;
      heap.set(M.subarray(at[b]!, at[b]! + sizes[b]!), w.base(o));
    });
    return outs;
  }

  /** lstmSequenceForward's contract (kernels.ts): inputs x, w, u, bias (scaled as there), rows, starts; outputs y, hp, cp, act, tc. */
  forward(w: KernelMemory, ins: Record<string, TensorInfo>, reverse: boolean, hard: boolean): TensorInfo[] | null {
    const { x, w: wx, u, bias, rows, starts } = ins as Record<string, TensorInfo>;
    const [B, T, F] = x!.shape as [number, number, number];
    const [N] = rows!.shape as [number];
    const H4 = bias!.shape[0]!;
    const H = H4 / 4;
    const outShapes = [
      [B, T, H],
      [N, H],
      [N, H],
      [N, H4],
      [N, H],
    ];
    return this.call(w, [x, wx, u, bias, rows, starts], outShapes, [4 * B * H + N * F], (a) =>
      this.ex.lstm_forward(T, B, H, F, reverse ? 1 : 0, hard ? 1 : 0, ...a),
    );
  }

  /** lstmSequenceBackward's contract (kernels.ts): inputs dy, x, act, tc, cp, hp, w, u (unscaled), rows, starts; outputs dx, dw, du, db. */
  backward(w: KernelMemory, ins: Record<string, TensorInfo>, reverse: boolean, hard: boolean): TensorInfo[] | null {
    const { dy, x, act, tc, cp, hp, w: wx, u, rows, starts } = ins as Record<string, TensorInfo>;
    const [B, T, F] = x!.shape as [number, number, number];
    const [N, H4] = act!.shape as [number, number];
    const H = H4 / 4;
    const G = F + H;
    const G4 = Math.ceil(G / 4) * 4;
    const work = 6 * B * H + B * G4 + N * H4 + N * G + H4 * G4 + G * H4;
    return this.call(w, [dy, x, act, tc, cp, hp, wx, u, rows, starts], [[B, T, F], [F, H4], [H, H4], [H4]], [work, 2 * H4], (a) =>
      this.ex.lstm_backward(T, B, H, F, reverse ? 1 : 0, hard ? 1 : 0, ...a),
    );
  }

  /**
   * kernels.ts' temporalForward (its contract: inputs x, xw, wh, v, wu, bias, optional mask, zx and pos; outputs
   * out, xh, hp, cp, act, tc, u) in one call of the module.
   */
  temporalForward(w: KernelMemory, ins: Record<string, TensorInfo | undefined>, hard: boolean): TensorInfo[] | null {
    const { x, xw, wh, v, wu, bias, mask, zx, pos } = ins;
    const [B, T, Fd] = x!.shape as [number, number, number];
    const A = v!.shape[0]!;
    const H4 = bias!.shape[0]!;
    const H = H4 / 4;
    const outShapes = [
      [B, T, H + T],
      [T, B, Fd + H],
      [T, B, H],
      [T, B, H],
      [T, B, H4],
      [T, B, H],
      [T, B, T, A],
    ];
    return this.call(w, [x, xw, wh, v, wu, bias, mask, zx, pos], outShapes, [B * A, B * Math.max(A, H4)], (a) =>
      this.ex.temporal_forward(T, B, Fd, H, A, hard ? 1 : 0, ...a),
    );
  }

  /**
   * kernels.ts' temporalBackward (its contract: inputs dout, x, out, cp, act, tc, u, v, wut [4H, K] unscaled (the
   * module takes wu [K, 4H]), wht [A, H], optional mask and pos; outputs dz, db, dp, dxw, dx, dv and, with pos,
   * dpos) in one call.
   */
  temporalBackward(w: KernelMemory, ins: Record<string, TensorInfo | undefined>, hard: boolean): TensorInfo[] | null {
    const { dout, x, out, cp, act, tc, u, v, wut, wht, mask, pos } = ins;
    const [B, T, Fd] = x!.shape as [number, number, number];
    const A = v!.shape[0]!;
    const H4 = act!.shape[2]!;
    const H = H4 / 4;
    const P = 2 * T - 1;
    const outShapes = [[T, B, H4], [H4], [T, B, A], [B, T, A], [B, T, Fd], [A], ...(pos ? [[P]] : [])];
    // Without pos the module's dpos block is scratch; the doubles' block (acc) is 8-byte aligned as every block.
    const K4 = Math.ceil((Fd + H) / 4) * 4;
    const work = 3 * B * H + B * K4 + B * H + B * Math.max(A, H) + A + H4 * K4;
    const scratch = [...(pos ? [] : [P]), work, 2 * (H4 + A + P)];
    const inputs = [dout, x, out, cp, act, tc, u, v, wut, wht, mask];
    return this.call(w, inputs, outShapes, scratch, (a) =>
      this.ex.temporal_backward(T, B, Fd, H, A, hard ? 1 : 0, ...a.slice(0, 11), pos ? 1 : 0, ...a.slice(11)),
    );
  }

  /** kernels.ts' attentionPoolForward (inputs h, w, bias, v, optional mask; outputs out, u) in one call. */
  attentionPoolForward(w: KernelMemory, ins: Record<string, TensorInfo | undefined>): TensorInfo[] | null {
    const { h, w: wa, bias, v, mask } = ins;
    const [B, T, D] = h!.shape as [number, number, number];
    const A = v!.shape[0]!;
    const A4 = Math.ceil(A / 4) * 4;
    const outShapes = [
      [B, D + T],
      [B * T, A],
    ];
    return this.call(w, [h, wa, bias, v, mask], outShapes, [B * T * (D + A4 + A) + D * A4], (a) => this.ex.attention_pool_forward(B, T, D, A, ...a));
  }

  /** kernels.ts' attentionPoolBackward (inputs dout, out, u, v, h, w, optional mask; outputs dh, dw, dv, db) in one call. */
  attentionPoolBackward(w: KernelMemory, ins: Record<string, TensorInfo | undefined>): TensorInfo[] | null {
    const { dout, out, u, v, h, w: wa, mask } = ins;
    const [B, T, D] = h!.shape as [number, number, number];
    const A = v!.shape[0]!;
    const A4 = Math.ceil(A / 4) * 4;
    const D4 = Math.ceil(D / 4) * 4;
    const work = 2 * A + T + B * T * (A + A4 + D + D4) + A4 * D4 + D * A4;
    return this.call(w, [dout, out, u, v, h, wa, mask], [[B, T, D], [D, A], [A], [A]], [work, 4 * A], (a) => this.ex.attention_pool_backward(B, T, D, A, ...a));
  }

  /** kernels.ts' productTN: c [M, N] = a^T b for a [K, M], b [K, N]. */
  productTN(w: KernelMemory, a: TensorInfo, b: TensorInfo): TensorInfo[] | null {
    const [K, M] = a.shape as [number, number];
    const N = b.shape[1]!;
    const N4 = Math.ceil(N / 4) * 4;
    return this.call(w, [a, b], [[M, N]], [N4 === N ? 0 : (K + M) * N4], (x) => this.ex.product_tn(K, M, N, ...x));
  }

  /** See moduleProduct. */
  productCall(M: number, K: number, N: number): ModuleProduct | null {
    const at = this.layout([M * K, K * N, M * N]);
    if (!at) return null;
    const F = this.floats;
    let seed = 1;
    for (let q = at[0]!; q < at[2]!; q++) F[q] = ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const [a, b, c] = at.map((o) => o * FLOAT) as [number, number, number];
    const view = (o: number, n: number) => F.subarray(o, o + n);
    return { run: () => this.ex.product(M, K, N, a, b, c), a: view(at[0]!, M * K), b: view(at[1]!, K * N), c: view(at[2]!, M * N) };
  }

  /** kernels.ts' adamStep (its contract: inputs value, g, m, v; outputs the new value, m and v) in the module's SIMD code. */
  adam(w: KernelMemory, value: TensorInfo, g: TensorInfo, m: TensorInfo, v: TensorInfo, c: readonly number[]): TensorInfo[] | null {
    const n = sizeOf(value.shape);
    return this.call(w, [value, g, m, v], [value.shape, value.shape, value.shape], [], (a) => this.ex.adam_step(n, ...a, ...c));
  }
}

/**
 * The module's product C [M, K] x [K, N] on random operands in its own memory, for the bench's limit (npm run
 * bench): `run` computes it into `c`; the views hold until the module's next call. Null where N is not a
 * multiple of 4 (the module's products have N = 4H or a padded width) or the memory cannot hold it.
 */
export function moduleProduct(M: number, K: number, N: number): ModuleProduct | null {
  const m = lstmModule();
  return m && N % 4 === 0 ? m.productCall(M, K, N) : null;
}
export interface ModuleProduct {
  run(): void;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
}

/** The module once made; null where it cannot be (no wasm SIMD, or a page's main thread before prepareLstmModule). */
let lstmModuleMade: LstmModule | null | undefined;
/** Whether a synchronous compile was tried (once: a refusal is not retried at every call). */
let lstmModuleTried = false;

/**
 * The module for the LSTM kernels, or null for their JavaScript step loop: ATTNC_LSTM_KERNEL=js, or where the
 * module cannot be compiled synchronously here and has not been prepared.
 */
export function lstmModule(): LstmModule | null {
  if (envSetting("ATTNC_LSTM_KERNEL") === "js") return null;
  if (lstmModuleMade === undefined && !lstmModuleTried) {
    lstmModuleTried = true;
    try {
      lstmModuleMade = new LstmModule(new wasmApi!.Instance(new wasmApi!.Module(lstmWasmBytes())));
    } catch {
      // A page's main thread (more than 4 KB) or an engine without wasm SIMD: the JavaScript loop, unless the
      // page prepares the module asynchronously.
    }
  }
  return lstmModuleMade ?? null;
}

/** Compiles the module asynchronously (allowed on a web page's main thread), so that the kernels use it from then on. */
export async function prepareLstmModule(): Promise<void> {
  if (lstmModuleMade) return;
  try {
    const { instance } = await wasmApi!.instantiate(lstmWasmBytes());
    lstmModuleMade = new LstmModule(instance);
  } catch {
    lstmModuleMade = null;
  }
}
