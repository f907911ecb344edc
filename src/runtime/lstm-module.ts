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
import { envSetting, type KernelMemory, type TensorInfo } from "./backend-internals.js";
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
}

/** The module's bytes. */
function lstmWasmBytes(): Uint8Array {
  const text = atob(LSTM_WASM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const FLOAT = 4;
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

  /** lstmSequenceForward's contract (kernels.ts): inputs xw, u (scaled as there), optional mask; outputs y, hp, cp, act, tc. */
  forward(w: KernelMemory, xw: TensorInfo, u: TensorInfo, mask: TensorInfo | undefined, reverse: boolean, hard: boolean): TensorInfo[] | null {
    const [T, B, H4] = xw.shape as [number, number, number];
    const H = H4 / 4;
    const n = T * B * H;
    const sizes = [4 * n, H * H4, mask ? T * B : 0];
    const outSizes = [n, n, n, 4 * n, n];
    const at = this.layout([...sizes, ...outSizes]);
    if (!at) return null;
    const outs = [w.output([B, T, H]), w.output([T, B, H]), w.output([T, B, H]), w.output([T, B, H4]), w.output([T, B, H])];
    this.copyIn(w, [xw, u, mask], sizes, at);
    const addr = (k: number): number => at[k]! * FLOAT;
    this.ex.lstm_forward(T, B, H, reverse ? 1 : 0, hard ? 1 : 0, addr(0), addr(1), mask ? addr(2) : 0, ...[3, 4, 5, 6, 7].map(addr));
    this.copyOut(w, outs, outSizes, at.slice(3));
    return outs;
  }

  /** lstmSequenceBackward's contract (kernels.ts): inputs dy, act, tc, cp, ut ([4H, H], unscaled), optional mask; outputs dz, db. */
  backward(
    w: KernelMemory,
    dy: TensorInfo,
    act: TensorInfo,
    tc: TensorInfo,
    cp: TensorInfo,
    ut: TensorInfo,
    mask: TensorInfo | undefined,
    reverse: boolean,
    hard: boolean,
  ): TensorInfo[] | null {
    const [T, B, H4] = act.shape as [number, number, number];
    const H = H4 / 4;
    const n = T * B * H;
    const sizes = [n, 4 * n, n, n, H * H4, mask ? T * B : 0];
    const outSizes = [4 * n, H4];
    const at = this.layout([...sizes, ...outSizes, 3 * B * H, 2 * H4]);
    if (!at) return null;
    const outs = [w.output([T, B, H4]), w.output([H4])];
    this.copyIn(w, [dy, act, tc, cp, undefined, mask], sizes, at);
    // U [H, 4H] from ut [4H, H]: the module's backward product takes dot products of rows.
    this.transposeIn(w, ut, H4, H, at[4]!);
    const addr = (k: number): number => at[k]! * FLOAT;
    this.ex.lstm_backward(T, B, H, reverse ? 1 : 0, hard ? 1 : 0, ...[0, 1, 2, 3, 4].map(addr), mask ? addr(5) : 0, ...[6, 7, 8, 9].map(addr));
    this.copyOut(w, outs, outSizes, at.slice(6));
    return outs;
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
    const K = Fd + H;
    const O = H + T;
    const sizes = [B * T * Fd, B * T * A, H * A, A, K * H4, H4, mask ? B * T : 0, zx ? T * B * H4 : 0, pos ? 2 * T - 1 : 0];
    const outShapes = [
      [B, T, O],
      [T, B, K],
      [T, B, H],
      [T, B, H],
      [T, B, H4],
      [T, B, H],
      [T, B, T, A],
    ];
    const outSizes = outShapes.map((sh) => sh.reduce((a, b) => a * b, 1));
    const at = this.layout([...sizes, ...outSizes, B * A, B * Math.max(A, H4)]);
    if (!at) return null;
    const outs = outShapes.map((sh) => w.output(sh));
    this.copyIn(w, [x, xw, wh, v, wu, bias, mask, zx, pos], sizes, at);
    const addr = (k: number, present = true): number => (present ? at[k]! * FLOAT : 0);
    this.ex.temporal_forward(
      T,
      B,
      Fd,
      H,
      A,
      hard ? 1 : 0,
      ...[0, 1, 2, 3, 4, 5].map((k) => addr(k)),
      addr(6, mask !== undefined),
      addr(7, zx !== undefined),
      addr(8, pos !== undefined),
      ...[9, 10, 11, 12, 13, 14, 15, 16, 17].map((k) => addr(k)),
    );
    this.copyOut(w, outs, outSizes, at.slice(9));
    return outs;
  }

  /**
   * kernels.ts' temporalBackward (its contract: inputs dout, x, out, cp, act, tc, u, v, wut [4H, K] unscaled,
   * wht [A, H], optional mask and pos; outputs dz, db, dp, dxw, dx, dv and, with pos, dpos) in one call.
   */
  temporalBackward(w: KernelMemory, ins: Record<string, TensorInfo | undefined>, hard: boolean): TensorInfo[] | null {
    const { dout, x, out, cp, act, tc, u, v, wut, wht, mask, pos } = ins;
    const [B, T, Fd] = x!.shape as [number, number, number];
    const A = v!.shape[0]!;
    const H4 = act!.shape[2]!;
    const H = H4 / 4;
    const K = Fd + H;
    const O = H + T;
    const P = 2 * T - 1;
    const inputs = [dout, x, out, cp, act, tc, u, v, wht, mask];
    const sizes = [B * T * O, B * T * Fd, B * T * O, T * B * H, T * B * H4, T * B * H, T * B * T * A, A, A * H, mask ? B * T : 0];
    const outShapes = [[T, B, H4], [H4], [T, B, A], [B, T, A], [B, T, Fd], [A], [P]];
    const outSizes = outShapes.map((sh) => sh.reduce((a, b) => a * b, 1));
    const work = 3 * B * H + B * K + B * H + B * Math.max(A, H) + A;
    // The doubles' block (acc) comes last, 8-byte aligned as every block is 16-byte aligned.
    const at = this.layout([...sizes, K * H4, ...outSizes, work, 2 * (H4 + A + P)]);
    if (!at) return null;
    const outs = outShapes.slice(0, pos ? 7 : 6).map((sh) => w.output(sh));
    this.copyIn(w, inputs, sizes, at);
    // wu [K, 4H] from wut [4H, K]: the module's product of dz takes dot products of rows.
    this.transposeIn(w, wut!, H4, K, at[10]!);
    const addr = (k: number): number => at[k]! * FLOAT;
    this.ex.temporal_backward(
      T,
      B,
      Fd,
      H,
      A,
      hard ? 1 : 0,
      ...[0, 1, 2, 3, 4, 5, 6, 7, 10, 8].map(addr),
      mask ? addr(9) : 0,
      pos ? 1 : 0,
      ...[11, 12, 13, 14, 15, 16, 17, 18, 19].map(addr),
    );
    this.copyOut(w, outs, outSizes, at.slice(11));
    return outs;
  }

  /** kernels.ts' attentionPoolForward (inputs pre, bias, v, h, optional mask; outputs out, u) in one call. */
  attentionPoolForward(w: KernelMemory, ins: Record<string, TensorInfo | undefined>): TensorInfo[] | null {
    const { pre, bias, v, h, mask } = ins;
    const [B, T, D] = h!.shape as [number, number, number];
    const A = v!.shape[0]!;
    const inputs = [pre, bias, v, h, mask];
    const sizes = [B * T * A, A, A, B * T * D, mask ? B * T : 0];
    const outShapes = [
      [B, D + T],
      [B * T, A],
    ];
    const outSizes = outShapes.map((sh) => sh.reduce((a, b) => a * b, 1));
    const at = this.layout([...sizes, ...outSizes]);
    if (!at) return null;
    const outs = outShapes.map((sh) => w.output(sh));
    this.copyIn(w, inputs, sizes, at);
    const addr = (k: number): number => at[k]! * FLOAT;
    this.ex.attention_pool_forward(B, T, D, A, ...[0, 1, 2, 3].map(addr), mask ? addr(4) : 0, addr(5), addr(6));
    this.copyOut(w, outs, outSizes, at.slice(5));
    return outs;
  }

  /** kernels.ts' attentionPoolBackward (inputs dout, out, u, v, h; outputs dh, dpre, dv, db) in one call. */
  attentionPoolBackward(w: KernelMemory, ins: Record<string, TensorInfo | undefined>): TensorInfo[] | null {
    const { dout, out, u, v, h } = ins;
    const [B, T, D] = h!.shape as [number, number, number];
    const A = v!.shape[0]!;
    const inputs = [dout, out, u, v, h];
    const sizes = [B * (D + T), B * (D + T), B * T * A, A, B * T * D];
    const outShapes = [[B, T, D], [B * T, A], [A], [A]];
    const outSizes = outShapes.map((sh) => sh.reduce((a, b) => a * b, 1));
    const at = this.layout([...sizes, ...outSizes, 2 * A + T, 4 * A]);
    if (!at) return null;
    const outs = outShapes.map((sh) => w.output(sh));
    this.copyIn(w, inputs, sizes, at);
    this.ex.attention_pool_backward(B, T, D, A, ...at.map((o) => o * FLOAT));
    this.copyOut(w, outs, outSizes, at.slice(5));
    return outs;
  }

  /** Copies the present inputs from the backend's heap to their blocks. */
  private copyIn(w: KernelMemory, inputs: (TensorInfo | undefined)[], sizes: number[], at: number[]): void {
    const F = w.heap;
    inputs.forEach((t, k) => {
      if (t) this.floats.set(F.subarray(w.base(t), w.base(t) + sizes[k]!), at[k]!);
    });
  }

  /** Writes `t` [R, C] transposed, as [C, R], to the block at float offset `to`. */
  private transposeIn(w: KernelMemory, t: TensorInfo, R: number, C: number, to: number): void {
    const F = w.heap;
    const M = this.floats;
    const from = w.base(t);
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) M[to + c * R + r] = F[from + r * C + c]!;
  }

  /** Copies the outputs from their blocks to the backend's tensors. */
  private copyOut(w: KernelMemory, outs: TensorInfo[], sizes: number[], at: number[]): void {
    const F = w.heap;
    outs.forEach((o, k) => F.set(this.floats.subarray(at[k]!, at[k]! + sizes[k]!), w.base(o)));
  }

  /**
   * kernels.ts' adamStep (its contract: inputs value, g, m, v; outputs the new value, m and v) in the module's
   * SIMD code: the inputs copied in, the step in place, the three results copied out.
   */
  adam(w: KernelMemory, value: TensorInfo, g: TensorInfo, m: TensorInfo, v: TensorInfo, c: readonly number[]): TensorInfo[] | null {
    const n = value.shape.reduce((a, b) => a * b, 1);
    const at = this.layout([n, n, n, n]);
    if (!at) return null;
    const outs = [w.output(value.shape), w.output(value.shape), w.output(value.shape)];
    this.copyIn(w, [value, g, m, v], [n, n, n, n], at);
    this.ex.adam_step(n, ...at.map((o) => o * FLOAT), ...c);
    this.copyOut(w, outs, [n, n, n], [at[0]!, at[2]!, at[3]!]);
    return outs;
  }
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
