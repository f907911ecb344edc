/**
 * attnc's own wasm module for the kernels of kernels.ts: one call runs all T steps of an LSTM direction or of
 * the temporal-attention LSTM, forward or backward, products included; the attention pooling's two passes; one
 * variable's Adam step (src/runtime/wasm/lstm.c, wasm SIMD, checked in as lstm-wasm.generated.ts by
 * scripts/build-wasm.sh). The module imports its memory. On the wasm backend it runs on the backend's own
 * memory: a call passes the tensors' addresses, the outputs are the backend's new tensors, and its stack and
 * scratch are blocks of the backend's heap (no copies: they were 0.9 ms of the text classifier's 14 ms step).
 * Elsewhere (the cpu backend, a backend whose memory is shared between threads) it runs on a memory of its
 * own: a call copies its inputs in and its outputs out, and checks that nothing was written past an output.
 *
 * Node compiles it synchronously at first use. A web page's main thread refuses a synchronous compile or
 * instantiation of more than 4 KB, so there it is used only after `prepareLstmModule()` (browser.ts' loadModel
 * awaits it); until then, and wherever the engine lacks wasm SIMD, the kernels run their JavaScript step loop on
 * the backend's products. ATTNC_LSTM_KERNEL=js selects that loop everywhere (for comparison).
 */
import * as tf from "@tensorflow/tfjs";
import { direct, envSetting, internalsUsable, sizeOf, WasmDirect, type KernelMemory, type TensorInfo } from "./backend-internals.js";
import { LSTM_WASM_BASE64 } from "./lstm-wasm.generated.js";

/** What the module uses of the engine's WebAssembly API (not in the runtime's TypeScript library settings). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<WasmInstance>;
}
interface WasmInstance {
  exports: unknown;
}
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface LstmExports {
  /** The stack's top, which the caller places (the module has no memory of its own to place it in). */
  __stack_pointer: { value: number };
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
const PAGE = 65536;
/** wasm32's address space. */
const MAX_BYTES = 2 ** 32;
/** The module's stack in bytes: the linker's default size, which its kernels' frames fit in many times over. */
const STACK = 65536;
/** Floats after each block the module writes, in its own memory, that must hold GUARD_BITS after a call. */
const GUARD = 4;
/** A NaN's bits that no arithmetic produces. */
const GUARD_BITS = 0x7fc0a77c;

/** Inputs up to this many floats (weights, not sequences) are given to the module 16-byte aligned. */
const ALIGN_BELOW = 65536;

/** An input of a module call: a tensor, or absent. */
type Input = TensorInfo | undefined;
/** Runs one of the module's functions on the blocks' byte addresses. */
type Invoke = (ex: LstmExports, addr: number[]) => void;

/** The module on the wasm backend's memory, with its scratch block there (16-byte aligned, grown as needed). */
interface Bound {
  ex: LstmExports;
  scratch: number;
  scratchBytes: number;
}

/** Offsets (in floats from 0) of blocks of the given sizes, each 16-byte aligned and followed by `gap` floats; and their end. */
function blocks(sizes: number[], gap: number): { at: number[]; end: number } {
  let end = 0;
  const at = sizes.map((n) => {
    const o = end;
    end += Math.ceil(n / 4) * 4 + gap;
    return o;
  });
  return { at, end };
}

/** The compiled module, its instance on a memory of its own, and its instances on wasm backends' memories. */
export class LstmModule {
  private readonly own: LstmExports;
  private floats: Float32Array;
  private bits: Uint32Array;
  private readonly bound = new WeakMap<object, Bound | null>();

  private constructor(
    private readonly compiled: object,
    instance: WasmInstance,
    private readonly memory: WasmMemory,
  ) {
    this.own = instance.exports as LstmExports;
    // Its own memory: the stack below STACK, the blocks of a call from there.
    this.own.__stack_pointer.value = STACK;
    this.floats = new Float32Array(memory.buffer);
    this.bits = new Uint32Array(memory.buffer);
  }

  /** The module's own memory for a start (the first call grows it). */
  private static ownMemory(): WasmMemory {
    return new wasmApi!.Memory({ initial: STACK / PAGE + 1 });
  }

  /** Compiled and instantiated synchronously (Node; a page's main thread refuses). */
  static make(): LstmModule {
    const compiled = new wasmApi!.Module(lstmWasmBytes());
    const memory = LstmModule.ownMemory();
    return new LstmModule(compiled, new wasmApi!.Instance(compiled, { env: { memory } }), memory);
  }

  /** Compiled and instantiated asynchronously (allowed on a page's main thread). */
  static async made(): Promise<LstmModule> {
    const compiled = await wasmApi!.compile(lstmWasmBytes());
    const memory = LstmModule.ownMemory();
    return new LstmModule(compiled, await wasmApi!.instantiate(compiled, { env: { memory } }), memory);
  }

  /** An instance on `w`'s memory, its stack placed in the backend's heap; null where it cannot be. */
  private bind(w: WasmDirect, instance: WasmInstance): Bound | null {
    const ex = instance.exports as LstmExports;
    const stack = w.allocate(STACK + 16);
    if (!stack) return null;
    ex.__stack_pointer.value = Math.floor((stack + STACK + 16) / 16) * 16;
    return { ex, scratch: 0, scratchBytes: 0 };
  }

  /**
   * The instance on `w`'s memory, made at its first use; null where it cannot be: a memory shared between
   * threads (the backend's threaded build), a page's main thread before prepareLstmModule bound it, a full heap.
   */
  private boundTo(w: WasmDirect): Bound | null {
    const memory = w.memory;
    if (!memory) return null;
    let b = this.bound.get(memory);
    if (b === undefined) {
      try {
        b = this.bind(w, new wasmApi!.Instance(this.compiled, { env: { memory } }));
      } catch {
        b = null;
      }
      this.bound.set(memory, b);
    }
    return b;
  }

  /** Binds the module to `w`'s memory asynchronously (a page's main thread), unless it is bound (a refused synchronous binding is tried again). */
  async bindAsync(w: WasmDirect): Promise<void> {
    const memory = w.memory;
    if (!memory || this.bound.get(memory)) return;
    let b: Bound | null = null;
    try {
      const instance = await wasmApi!.instantiate(this.compiled, { env: { memory } });
      // Bound meanwhile (two loads at once): keep that one, whose stack is already placed.
      if (this.bound.get(memory)) return;
      b = this.bind(w, instance);
    } catch {
      b = null;
    }
    this.bound.set(memory, b);
  }

  /**
   * Float offsets in the module's own memory for blocks of the given sizes (each followed by GUARD floats), the
   * memory grown to hold them; null where it cannot grow so far (wasm32's 4 GiB, or the engine's limit), for the
   * JavaScript loop to run instead.
   */
  private layout(sizes: number[]): number[] | null {
    const { at, end } = blocks(sizes, GUARD);
    const first = STACK / FLOAT;
    const bytes = (first + end) * FLOAT;
    if (bytes > MAX_BYTES) return null;
    const need = bytes - this.memory.buffer.byteLength;
    if (need > 0) {
      try {
        this.memory.grow(Math.ceil(need / PAGE));
      } catch {
        return null;
      }
    }
    if (this.floats.buffer !== this.memory.buffer) {
      this.floats = new Float32Array(this.memory.buffer);
      this.bits = new Uint32Array(this.memory.buffer);
    }
    return at.map((o) => first + o);
  }

  /**
   * One call of the module: a block for each input (its size from its shape; none for an absent one), output and
   * scratch size, in that order; `invoke` with every block's byte address (0 for an absent input). On the wasm
   * backend's memory the inputs' and outputs' blocks are the tensors themselves; elsewhere the inputs are
   * copied in and the outputs out. Null where the memory cannot hold the blocks (the caller's JavaScript loop
   * runs instead).
   */
  private call(w: KernelMemory, inputs: Input[], outShapes: number[][], scratch: number[], invoke: Invoke): TensorInfo[] | null {
    const b = w instanceof WasmDirect ? this.boundTo(w) : null;
    // An empty tensor may have no address of its own (0, which the module reads as absent): those calls copy.
    const empty = inputs.some((t) => t && sizeOf(t.shape) === 0) || outShapes.some((sh) => sizeOf(sh) === 0);
    if (b && !empty) {
      // The backend's tensors are 8-byte aligned; the module's products read their right operand (a weight) in
      // 16-byte vectors, 7% slower off 16-byte alignment. So the small inputs that are off it (the weights) are
      // copied into the scratch block, ahead of the call's own scratch.
      const bases = inputs.map((t) => (t ? w.base(t) : 0));
      const moved = inputs.map((t, k) => (t && sizeOf(t.shape) <= ALIGN_BELOW && bases[k]! % 4 !== 0 ? sizeOf(t.shape) : 0));
      const { at, end } = blocks([...moved, ...scratch], 0);
      const base = this.scratchIn(b, w as WasmDirect, end * FLOAT);
      if (base !== null) {
        const outs = outShapes.map((sh) => w.output(sh));
        // The backend does not check its allocator: an output at address 0 is one it could not place.
        if (outs.some((o) => w.base(o) === 0)) {
          outs.forEach((o) => w.dispose(o));
          throw new Error("the wasm backend's memory is full: a smaller batch or a shorter sequence length may fit");
        }
        const heap = w.heap;
        const addr = bases.map((from, k) => {
          if (!moved[k]) return from * FLOAT;
          const to = base / FLOAT + at[k]!;
          heap.copyWithin(to, from, from + moved[k]!);
          return to * FLOAT;
        });
        invoke(b.ex, [...addr, ...outs.map((o) => w.base(o) * FLOAT), ...at.slice(inputs.length).map((o) => base + o * FLOAT)]);
        return outs;
      }
    }
    return this.copied(w, inputs, outShapes, scratch, invoke);
  }

  /** The byte address of `bytes` of scratch in the backend's heap (16-byte aligned), or null where it cannot grow so far. */
  private scratchIn(b: Bound, w: WasmDirect, bytes: number): number | null {
    if (bytes === 0) return 0;
    if (bytes > b.scratchBytes) {
      if (b.scratch) w.free(b.scratch);
      const size = Math.max(bytes, Math.ceil(b.scratchBytes * 1.5));
      b.scratch = w.allocate(size + 16);
      b.scratchBytes = b.scratch ? size : 0;
      if (!b.scratch) return null;
    }
    return Math.ceil(b.scratch / 16) * 16;
  }

  /** A call on the module's own memory: the inputs copied in, the outputs out, the guards after what it writes checked. */
  private copied(w: KernelMemory, inputs: Input[], outShapes: number[][], scratch: number[], invoke: Invoke): TensorInfo[] | null {
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
    // After each block the module writes: its rounding to 4 floats and the guard.
    const guarded = (k: number) => [at[k]! + sizes[k]!, at[k]! + Math.ceil(sizes[k]! / 4) * 4 + GUARD] as const;
    for (let k = inputs.length; k < sizes.length; k++) this.bits.fill(GUARD_BITS, ...guarded(k));
    invoke(
      this.own,
      at.map((o, k) => (k < inputs.length && !inputs[k] ? 0 : o * FLOAT)),
    );
    for (let k = inputs.length; k < sizes.length; k++) {
      const [from, to] = guarded(k);
      for (let q = from; q < to; q++)
        if (this.bits[q] !== GUARD_BITS)
          throw new Error(`attnc's wasm module wrote past the end of a block (block ${k} of ${sizes.length}): a bug in src/runtime/wasm/lstm.c`);
    }
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
    return this.call(w, [x, wx, u, bias, rows, starts], outShapes, [4 * B * H + N * F], (ex, a) =>
      ex.lstm_forward(T, B, H, F, reverse ? 1 : 0, hard ? 1 : 0, ...a),
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
    return this.call(w, [dy, x, act, tc, cp, hp, wx, u, rows, starts], [[B, T, F], [F, H4], [H, H4], [H4]], [work, 2 * H4], (ex, a) =>
      ex.lstm_backward(T, B, H, F, reverse ? 1 : 0, hard ? 1 : 0, ...a),
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
    return this.call(w, [x, xw, wh, v, wu, bias, mask, zx, pos], outShapes, [B * A, B * Math.max(A, H4)], (ex, a) =>
      ex.temporal_forward(T, B, Fd, H, A, hard ? 1 : 0, ...a),
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
    return this.call(w, inputs, outShapes, scratch, (ex, a) =>
      ex.temporal_backward(T, B, Fd, H, A, hard ? 1 : 0, ...a.slice(0, 11), pos ? 1 : 0, ...a.slice(11)),
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
    return this.call(w, [h, wa, bias, v, mask], outShapes, [B * T * (D + A4 + A) + D * A4], (ex, a) => ex.attention_pool_forward(B, T, D, A, ...a));
  }

  /** kernels.ts' attentionPoolBackward (inputs dout, out, u, v, h, w, optional mask; outputs dh, dw, dv, db) in one call. */
  attentionPoolBackward(w: KernelMemory, ins: Record<string, TensorInfo | undefined>): TensorInfo[] | null {
    const { dout, out, u, v, h, w: wa, mask } = ins;
    const [B, T, D] = h!.shape as [number, number, number];
    const A = v!.shape[0]!;
    const A4 = Math.ceil(A / 4) * 4;
    const D4 = Math.ceil(D / 4) * 4;
    const work = 2 * A + T + B * T * (A + A4 + D + D4) + A4 * D4 + D * A4;
    return this.call(w, [dout, out, u, v, h, wa, mask], [[B, T, D], [D, A], [A], [A]], [work, 4 * A], (ex, a) => ex.attention_pool_backward(B, T, D, A, ...a));
  }

  /** kernels.ts' productTN: c [M, N] = a^T b for a [K, M], b [K, N]. */
  productTN(w: KernelMemory, a: TensorInfo, b: TensorInfo): TensorInfo[] | null {
    const [K, M] = a.shape as [number, number];
    const N = b.shape[1]!;
    const N4 = Math.ceil(N / 4) * 4;
    return this.call(w, [a, b], [[M, N]], [N4 === N ? 0 : (K + M) * N4], (ex, x) => ex.product_tn(K, M, N, ...x));
  }

  /** See moduleProduct. */
  productCall(M: number, K: number, N: number): ModuleProduct | null {
    const at = this.layout([M * K, K * N, M * N]);
    if (!at) return null;
    const ex = this.own;
    const F = this.floats;
    let seed = 1;
    for (let q = at[0]!; q < at[2]!; q++) F[q] = ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const [a, b, c] = at.map((o) => o * FLOAT) as [number, number, number];
    const view = (o: number, n: number) => F.subarray(o, o + n);
    return { run: () => ex.product(M, K, N, a, b, c), a: view(at[0]!, M * K), b: view(at[1]!, K * N), c: view(at[2]!, M * N) };
  }

  /** kernels.ts' adamStep (its contract: inputs value, g, m, v; outputs the new value, m and v) in the module's SIMD code. */
  adam(w: KernelMemory, value: TensorInfo, g: TensorInfo, m: TensorInfo, v: TensorInfo, c: readonly number[]): TensorInfo[] | null {
    const n = sizeOf(value.shape);
    return this.call(w, [value, g, m, v], [value.shape, value.shape, value.shape], [], (ex, a) => ex.adam_step(n, ...a, ...c));
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
      lstmModuleMade = LstmModule.make();
    } catch {
      // A page's main thread (more than 4 KB) or an engine without wasm SIMD: the JavaScript loop, unless the
      // page prepares the module asynchronously.
    }
  }
  return lstmModuleMade ?? null;
}

/**
 * Compiles the module asynchronously (allowed on a web page's main thread), so that the kernels use it from then
 * on, and binds it to the wasm backend's memory if that is the backend now (a page's main thread cannot do that
 * at the first call either).
 */
export async function prepareLstmModule(): Promise<void> {
  if (!lstmModuleMade) {
    try {
      lstmModuleMade = await LstmModule.made();
    } catch {
      lstmModuleMade = null;
      return;
    }
  }
  if (tf.getBackend() === "wasm" && internalsUsable()) await lstmModuleMade.bindAsync(direct(tf.backend()));
}
