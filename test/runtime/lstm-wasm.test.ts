// attnc's LSTM step-loop module (src/runtime/wasm/lstm.c): it rebuilds to the checked-in bytes, it is what the
// kernels run in Node unless ATTNC_LSTM_KERNEL=js, and its forward and backward passes equal the op tier and the
// JavaScript step loop on shapes its vector code treats apart (B and H not multiples of 4, H = 1).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../src/runtime/backend.js";
import { kernelMemory, WasmDirect } from "../../src/runtime/backend-internals.js";
import { concatLast, PRODUCT_TN, registerKernels, runKernel, sequenceKernelsAvailable, splitLast } from "../../src/runtime/kernels.js";
import { lstmModule, moduleProduct } from "../../src/runtime/lstm-module.js";
import { LSTM_WASM_BASE64, LSTM_WASM_CLANG } from "../../src/runtime/lstm-wasm.generated.js";
import { lstmSequence, type RecurrentActivation } from "../../src/runtime/ops.js";

const root = new URL("../..", import.meta.url).pathname;
const GENERATED = join(root, "src/runtime/lstm-wasm.generated.ts");

/** clang's major version, or null where there is no clang. */
function clangMajor(): number | null {
  const r = spawnSync("clang", ["-dumpversion"], { encoding: "utf8" });
  return r.status === 0 ? Number(r.stdout.trim().split(".")[0]) : null;
}
const clang = clangMajor();
const canRebuild = clang === LSTM_WASM_CLANG && spawnSync("wasm-ld", ["--version"]).status === 0;
if (!canRebuild)
  console.warn(
    `test/runtime/lstm-wasm.test.ts: ${clang === null ? "no clang" : `clang ${clang}, not ${LSTM_WASM_CLANG}`}${clang !== null ? " (or no wasm-ld)" : ""}: the rebuild of the LSTM module is SKIPPED, not passed (apt-get install clang lld)`,
  );

describe("the LSTM module's build", () => {
  it.skipIf(!canRebuild)("scripts/build-wasm.sh rebuilds src/runtime/lstm-wasm.generated.ts byte for byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-wasm-"));
    try {
      const out = join(dir, "lstm-wasm.generated.ts");
      const r = spawnSync("bash", [join(root, "scripts/build-wasm.sh"), out], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(readFileSync(out, "utf8")).toBe(readFileSync(GENERATED, "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The engine's WebAssembly API, as far as these tests use it (not in the TypeScript library settings). */
const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: (new (bytes: Uint8Array) => object) & {
        imports(m: object): { module: string; name: string; kind: string }[];
        exports(m: object): { name: string; kind: string }[];
      };
    };
  }
).WebAssembly;

/** The ids of a wasm binary's sections, in order, and the names of what it imports. */
function sections(bytes: Uint8Array): { ids: number[]; imports: string[] } {
  let at = 8;
  const leb = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
  };
  const ids: number[] = [];
  while (at < bytes.length) {
    ids.push(bytes[at++]!);
    const size = leb();
    at += size;
  }
  const m = new Wasm.Module(bytes);
  return { ids, imports: Wasm.Module.imports(m).map((i) => `${i.module}.${i.name} (${i.kind})`) };
}

describe("the LSTM module's form", () => {
  it("imports only its memory, exports its stack pointer, and has no data segments (instantiating it writes nothing)", () => {
    const bytes = Uint8Array.from(atob(LSTM_WASM_BASE64), (c) => c.charCodeAt(0));
    const { ids, imports } = sections(bytes);
    expect(imports).toEqual(["env.memory (memory)"]);
    expect(ids).not.toContain(11); // data
    expect(ids).not.toContain(12); // data count
    const exports = Wasm.Module.exports(new Wasm.Module(bytes));
    expect(exports).toContainEqual({ name: "__stack_pointer", kind: "global" });
    expect(exports.some((e) => e.kind === "memory")).toBe(false);
  });

  it("leaves a backend memory it cannot import (not exported, or shared between threads) to the copying path", () => {
    const api = (globalThis as unknown as { WebAssembly: { Memory: new (d: object) => object } }).WebAssembly;
    const on = (memory: unknown) => new WasmDirect({ wasm: { HEAPU8: new Uint8Array(16), cwrap: () => () => undefined, asm: { memory } } } as never);
    expect(on(undefined).memory).toBeNull();
    expect(on(new api.Memory({ initial: 1, maximum: 1, shared: true })).memory).toBeNull();
    const plain = new api.Memory({ initial: 1 });
    expect(on(plain).memory).toBe(plain);
  });
});

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
}

interface Shape {
  B: number;
  T: number;
  F: number;
  H: number;
}

/** Post-padded lengths T, T - 2, ..., at least 1, and a sequence masked from its first step on. */
function paddedMask({ B, T }: Shape): tf.Tensor2D {
  const rows = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b === B - 1 ? 0 : t < Math.max(1, T - 2 * b) ? 1 : 0)));
  return tf.tensor2d(rows);
}

/**
 * Real steps anywhere: a scattered pattern, step 1 masked in every sequence, the first sequence pre-padded (its
 * first two steps masked), the last masked throughout.
 */
function holedMask({ B, T }: Shape): tf.Tensor2D {
  const real = (b: number, t: number): boolean => b < B - 1 && t !== 1 && !(b === 0 && t < 2) && (5 * b + 3 * t) % 4 !== 0;
  return tf.tensor2d(Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (real(b, t) ? 1 : 0))));
}

type MaskKind = boolean | "holes" | "none real";
const maskOf = (kind: MaskKind, s: Shape): tf.Tensor2D | null =>
  kind === "holes" ? holedMask(s) : kind === "none real" ? tf.zeros([s.B, s.T]) : kind ? paddedMask(s) : null;

/** lstmSequence's output and the gradients of sum(output * R) for x, W, U and b. */
function run(s: Shape, masked: MaskKind, reverse: boolean, act: RecurrentActivation): tf.Tensor[] {
  const seed = 7 * s.B + 3 * s.H + s.T;
  const x = tf.randomNormal([s.B, s.T, s.F], 0, 1, "float32", seed) as tf.Tensor3D;
  const W = tf.randomNormal([s.F, 4 * s.H], 0, 0.5, "float32", seed + 1) as tf.Tensor2D;
  const U = tf.randomNormal([s.H, 4 * s.H], 0, 0.5, "float32", seed + 2) as tf.Tensor2D;
  const b = tf.randomNormal([4 * s.H], 0, 0.5, "float32", seed + 3) as tf.Tensor1D;
  const R = tf.randomNormal([s.B, s.T, s.H], 0, 1, "float32", seed + 4);
  const m = maskOf(masked, s);
  const fn = (xs: tf.Tensor, ws: tf.Tensor, us: tf.Tensor, bs: tf.Tensor) =>
    lstmSequence(xs as tf.Tensor3D, ws as tf.Tensor2D, us as tf.Tensor2D, bs as tf.Tensor1D, m, { reverse, recurrentActivation: act });
  return [fn(x, W, U, b), ...tf.grads((a, c, d, e) => tf.sum(tf.mul(fn(a!, c!, d!, e!), R)))([x, W, U, b])];
}

/** The same run with env settings set for its duration. */
function withEnv(env: Record<string, string>, f: () => tf.Tensor[]): tf.Tensor[] {
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  try {
    return f();
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
}

const SHAPES: Shape[] = [
  { B: 3, T: 7, F: 5, H: 4 },
  { B: 5, T: 6, F: 3, H: 3 },
  { B: 6, T: 9, F: 4, H: 7 },
  { B: 2, T: 5, F: 2, H: 1 },
  { B: 9, T: 4, F: 6, H: 13 },
];
const CASES = [
  [false, false, "sigmoid"],
  [true, false, "sigmoid"],
  [true, true, "sigmoid"],
  [false, true, "hard_sigmoid"],
  [true, false, "hard_sigmoid"],
  [true, true, "hard_sigmoid"],
] as const;
const NAMES = ["output", "dx", "dW", "dU", "db"];

describe("the wasm backend's Identity (the engine's clone of each tensor a gradient saves)", () => {
  it("shares the data instead of copying it, and frees it when the last of the two goes", async () => {
    await selectBackend("wasm");
    registerKernels();
    const ids = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const before = ids();
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    expect(ids() - before).toBe(1); // one buffer, not two
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(ids()).toBe(before);
    // And through a gradient that saves its input (the engine clones it for the backward pass).
    const x = tf.tensor1d([0.5, -1, 2]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(t, t)))(x);
    expect(Array.from(g.dataSync())).toEqual([1, -2, 4]);
    tf.dispose([x, g]);
    expect(ids()).toBe(before);
  });
});

describe("the module's product alone (the bench's limit)", () => {
  it("computes A B for any M and K, N a multiple of 4, and declines other N", () => {
    for (const [M, K, N] of [
      [1, 1, 4],
      [5, 3, 12],
      [9, 70, 36],
    ] as const) {
      const p = moduleProduct(M, K, N)!;
      p.c.fill(Number.NaN);
      p.run();
      let worst = 0;
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let sum = 0;
          for (let k = 0; k < K; k++) sum += p.a[i * K + k]! * p.b[k * N + j]!;
          worst = Math.max(worst, Math.abs(p.c[i * N + j]! - sum));
        }
      expect(worst, `${M}x${K}x${N}`).toBeLessThan(1e-5);
    }
    expect(moduleProduct(4, 4, 2)).toBeNull();
  });
});

describe.each(["wasm", "cpu"] as const)("the LSTM module on %s", (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
    for (const k of ["ATTNC_NO_FUSED_KERNELS", "ATTNC_NO_SEQUENCE_KERNELS", "ATTNC_LSTM_KERNEL"]) delete process.env[k];
  });
  afterAll(() => {
    delete process.env["ATTNC_LSTM_KERNEL"];
  });

  it(
    backend === "wasm"
      ? "runs on the backend's own memory, its tensors read and written in place"
      : "runs on a memory of its own, and a write past an output's end is caught",
    () => {
      registerKernels();
      const a = tf.randomNormal([6, 5], 0, 1, "float32", 1);
      const b = tf.randomNormal([6, 8], 0, 1, "float32", 2);
      const infos = [a, b].map((t) => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }));
      const w = kernelMemory(backend, tf.backend(), infos);
      const m = lstmModule()! as unknown as {
        bound: WeakMap<object, unknown>;
        copied(
          w: unknown,
          inputs: unknown[],
          outShapes: number[][],
          scratch: number[],
          invoke: (ex: { product_tn(...a: number[]): void }, addr: number[]) => void,
        ): unknown;
      };
      const ref = tf.matMul(a, b, true, false);
      const out = runKernel(PRODUCT_TN, { a, b }, {});
      expect(maxDiff(out[0]!, ref)).toBeLessThan(1e-5);
      if (backend === "wasm") {
        expect(w).toBeInstanceOf(WasmDirect);
        expect(m.bound.get((w as WasmDirect).memory!)).toBeTruthy();
      } else {
        // a^T b is [5, 8]: given a block of 39 floats, the module writes past it.
        expect(() => m.copied(w, infos, [[39]], [0], (ex, addr) => ex.product_tn(6, 5, 8, ...addr))).toThrow(/wrote past the end of a block/);
        expect(() => m.copied(w, infos, [[40]], [0], (ex, addr) => ex.product_tn(6, 5, 8, ...addr))).not.toThrow();
      }
      tf.dispose([a, b, ref, ...out]);
    },
  );

  it("is what the kernels run in Node; ATTNC_LSTM_KERNEL=js selects the JavaScript step loop", () => {
    expect(sequenceKernelsAvailable()).toBe(true);
    expect(lstmModule()).not.toBeNull();
    process.env["ATTNC_LSTM_KERNEL"] = "js";
    try {
      expect(lstmModule()).toBeNull();
      expect(sequenceKernelsAvailable()).toBe(true);
    } finally {
      delete process.env["ATTNC_LSTM_KERNEL"];
    }
  });

  it.each([
    [
      [3, 4, 5],
      [3, 4, 2],
    ],
    [
      [6, 7],
      [6, 7],
    ],
    [
      [2, 3, 1],
      [2, 3, 0],
    ],
  ])("concatLast of %j and %j equals tf.concat along the last axis, and its gradient tf.concat's", (sa, sb) => {
    registerKernels();
    const a = tf.randomNormal(sa, 0, 1, "float32", 3);
    const b = tf.randomNormal(sb, 0, 1, "float32", 4);
    const R = tf.randomNormal([...sa.slice(0, -1), sa[sa.length - 1]! + sb[sb.length - 1]!], 0, 1, "float32", 5);
    const ours = concatLast(a, b);
    const ref = tf.concat([a, b], -1);
    expect(ours.shape).toEqual(ref.shape);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync()));
    const [ga, gb] = tf.grads((x, y) => tf.sum(tf.mul(concatLast(x!, y!), R)))([a, b]);
    const [ra, rb] = tf.grads((x, y) => tf.sum(tf.mul(tf.concat([x!, y!], -1), R)))([a, b]);
    expect(Array.from(ga!.dataSync())).toEqual(Array.from(ra!.dataSync()));
    expect(Array.from(gb!.dataSync())).toEqual(Array.from(rb!.dataSync()));
    tf.dispose([a, b, R, ours, ref, ga!, gb!, ra!, rb!]);
  });

  it.each([
    [[3, 4, 7], 5],
    [[6, 9], 6],
    [[2, 3, 4], 0],
  ])("splitLast of a %j tensor at column %i equals two tf.slice calls, and its gradient theirs, an unused part's too", (shape, first) => {
    registerKernels();
    const x = tf.randomNormal(shape, 0, 1, "float32", 6);
    const lead = shape.slice(0, -1);
    const H = shape[shape.length - 1]!;
    const [a, b] = splitLast(x, first);
    const ra = tf.slice(x, [...lead.map(() => 0), 0], [...lead, first]);
    const rb = tf.slice(x, [...lead.map(() => 0), first], [...lead, H - first]);
    expect(a.shape).toEqual(ra.shape);
    expect(b.shape).toEqual(rb.shape);
    expect(Array.from(a.dataSync())).toEqual(Array.from(ra.dataSync()));
    expect(Array.from(b.dataSync())).toEqual(Array.from(rb.dataSync()));
    const Ra = tf.randomNormal(ra.shape, 0, 1, "float32", 7);
    const Rb = tf.randomNormal(rb.shape, 0, 1, "float32", 8);
    const ours = tf.grad((t) => {
      const [p, q] = splitLast(t, first);
      return tf.add(tf.sum(tf.mul(p!, Ra)), tf.sum(tf.mul(q!, Rb)));
    })(x);
    const ref = tf.grad((t) =>
      tf.add(
        tf.sum(tf.mul(tf.slice(t, [...lead.map(() => 0), 0], [...lead, first]), Ra)),
        tf.sum(tf.mul(tf.slice(t, [...lead.map(() => 0), first], [...lead, H - first]), Rb)),
      ),
    )(x);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync()));
    // Only the first part reaches the loss (a layer's attention weights, say): the second's gradient is zeros.
    const onlyFirst = tf.grad((t) => tf.sum(tf.mul(splitLast(t, first)[0], Ra)))(x);
    const onlyRef = tf.grad((t) => tf.sum(tf.mul(tf.slice(t, [...lead.map(() => 0), 0], [...lead, first]), Ra)))(x);
    expect(Array.from(onlyFirst.dataSync())).toEqual(Array.from(onlyRef.dataSync()));
    tf.dispose([x, a, b, ra, rb, Ra, Rb, ours, ref, onlyFirst, onlyRef]);
  });

  it.each([
    [7, 5, 8],
    [40, 9, 6],
    [33, 4, 3],
    [1, 1, 1],
  ])("a^T b (the weights' gradients) of a [%i, %i] and b [K, %i] equals tf.matMul's, module and JavaScript", (K, M, N) => {
    registerKernels();
    const a = tf.randomNormal([K, M], 0, 1, "float32", K + 1);
    const b = tf.randomNormal([K, N], 0, 1, "float32", N + 2);
    const ref = tf.matMul(a, b, true, false);
    const module = runKernel(PRODUCT_TN, { a, b }, {});
    const js = withEnv({ ATTNC_LSTM_KERNEL: "js" }, () => runKernel(PRODUCT_TN, { a, b }, {}));
    expect(module[0]!.shape).toEqual([M, N]);
    expect(maxDiff(module[0]!, ref)).toBeLessThan(1e-5);
    expect(maxDiff(js[0]!, ref)).toBeLessThan(1e-5);
    tf.dispose([a, b, ref, ...module, ...js]);
  });

  describe.each(SHAPES)("B $B, T $T, F $F, H $H", (shape) => {
    it.each(CASES)(
      "outputs and every gradient equal the op tier's and the JavaScript loop's within 1e-5 (masked %s, reverse %s, %s gates)",
      (masked, reverse, act) => {
        const module = run(shape, masked, reverse, act);
        const ops = withEnv({ ATTNC_NO_SEQUENCE_KERNELS: "1" }, () => run(shape, masked, reverse, act));
        const js = withEnv({ ATTNC_LSTM_KERNEL: "js" }, () => run(shape, masked, reverse, act));
        module.forEach((m, i) => {
          expect(maxDiff(m, ops[i]!), `${NAMES[i]} against the op tier`).toBeLessThan(1e-5);
          expect(maxDiff(m, js[i]!), `${NAMES[i]} against the JavaScript loop`).toBeLessThan(1e-5);
        });
        // Not all zero: the comparison compares something.
        expect(tf.max(tf.abs(module[0]!)).dataSync()[0]).toBeGreaterThan(0.01);
      },
    );
  });

  describe.each([SHAPES[0]!, SHAPES[2]!, SHAPES[4]!])("B $B, T $T, F $F, H $H, real steps anywhere", (shape) => {
    it.each([
      [false, "sigmoid"],
      [true, "sigmoid"],
      [true, "hard_sigmoid"],
    ] as const)("a mask with holes (reverse %s, %s gates): equal to the op tier and the JavaScript loop within 1e-5", (reverse, act) => {
      const module = run(shape, "holes", reverse, act);
      const ops = withEnv({ ATTNC_NO_SEQUENCE_KERNELS: "1" }, () => run(shape, "holes", reverse, act));
      const js = withEnv({ ATTNC_LSTM_KERNEL: "js" }, () => run(shape, "holes", reverse, act));
      module.forEach((m, i) => {
        expect(maxDiff(m, ops[i]!), `${NAMES[i]} against the op tier`).toBeLessThan(1e-5);
        expect(maxDiff(m, js[i]!), `${NAMES[i]} against the JavaScript loop`).toBeLessThan(1e-5);
      });
      expect(tf.max(tf.abs(module[1]!)).dataSync()[0], "dx").toBeGreaterThan(0.01);
    });

    it.each([false, true])("a batch with no real step (reverse %s): zero outputs and gradients, as the op tier", (reverse) => {
      const module = run(shape, "none real", reverse, "sigmoid");
      const ops = withEnv({ ATTNC_NO_SEQUENCE_KERNELS: "1" }, () => run(shape, "none real", reverse, "sigmoid"));
      module.forEach((m, i) => {
        expect(maxDiff(m, ops[i]!), `${NAMES[i]} against the op tier`).toBe(0);
        expect(tf.max(tf.abs(m)).dataSync()[0], NAMES[i]).toBe(0);
      });
    });
  });
});
