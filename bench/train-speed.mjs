// npm run bench [-- --json] [-- --backend wasm|cpu] [-- --lengths 50,200] [-- --no-torch]
//                [-- --only training|limit|inference[,...]] [-- --smoke]
// Three sections, all by default (--only picks some; --smoke: tiny repetition counts, for a test of the output's shape):
// training: training speed, side by side in one run:
// - the text classifier (embedding -> bilstm -> attention_pool -> dense, B=32, V=5000, E=64, H=64, A=64) at
//   T=50 and T=200: the attnc model on 1 and on 2 threads (attnc train's default here: each batch split
//   with a worker thread), the same network from stock tfjs-layers layers (its embedding made trainable) on
//   the same backend, and PyTorch with 1 and 2 threads;
// - the temporal-input-attention forecaster (T=24, F=4, H=64, A=32, B=64): attnc and PyTorch.
// PyTorch runs where the interpreter named by ATTNC_BENCH_PYTHON (else .venv/bin/python, else python3) imports torch: the hand-written
// networks of bench/torch_bench.py, and the same networks as `attnc build --target pytorch` writes them, trained as
// the generated programs train (bench/torch_generated_bench.py).
// limit: the product throughput (GFLOP/s, this thread alone) of the backend and of attnc's wasm module, the faster
// of the two, for each matrix-product shape one training step of the text classifier at the first length uses,
// and for a 512^3 product; the FLOP count of the step's products; from them the samples/s that products alone
// would allow on one core, and the one-thread training figure as a percentage of it.
// inference: predict latency for one request (median and p95) and samples/s for batches of 64, attnc's model as
// `attnc predict` runs it (model.predict, then the output's data) and PyTorch eager under torch.inference_mode()
// at its best thread count.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emitPytorchProgram } from "../dist/codegen/pytorch.js";
import { compile } from "../dist/compile.js";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../dist/runtime/backend.js";
import { direct, internalsUsable } from "../dist/runtime/backend-internals.js";
import { registerKernels } from "../dist/runtime/kernels.js";
import { AttentionPool, BiLstm, Dense, Embedding, Lstm, Reduce, registerLayers } from "../dist/runtime/layers.js";
import { DataParallel } from "../dist/runtime/parallel.js";
import { localGradients, makeOptimizer } from "../dist/runtime/train.js";
import { moduleProduct } from "../dist/runtime/lstm-module.js";

const args = process.argv.slice(2);
const flag = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : d;
};
const json = args.includes("--json");
const backendChoice = flag("--backend", "wasm");
const lengths = flag("--lengths", "50,200").split(",").map(Number);
const sectionNames = ["training", "limit", "inference"];
const sections = new Set(flag("--only", sectionNames.join(",")).split(","));
for (const name of sections)
  if (!sectionNames.includes(name)) {
    console.error(`bench: --only takes ${sectionNames.join(", ")} (comma-separated), not "${name}"`);
    process.exit(2);
  }
const smoke = args.includes("--smoke");
/** Seconds per training measurement; calls, warm-up calls and seconds for inference; seconds per product shape. */
const trainSeconds = smoke ? 0.3 : 8;
const inferCalls = smoke ? 5 : 200;
const inferWarmup = smoke ? 2 : 20;
const inferSeconds = smoke ? 0.3 : 4;
const productSeconds = smoke ? 0.05 : 0.5;
const B = 32,
  BATCH = B,
  V = 5000,
  E = 64,
  H = 64,
  A = 64;

registerLayers();
registerKernels();
const backend = await selectBackend(backendChoice);

if (backend === "wasm") {
  // Stock tf.layers.embedding's gradient needs UnsortedSegmentSum, which the wasm backend lacks;
  // this plain JavaScript kernel makes the stock network trainable for the comparison.
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend: be }) => {
      const { x, segmentIds } = inputs;
      const xv = be.readSync(x.dataId);
      const ids = be.readSync(segmentIds.dataId);
      const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
      const out = be.makeOutput([attrs.numSegments, ...x.shape.slice(1)], "float32");
      const o = be.typedArrayFromHeap(out);
      o.fill(0);
      for (let i = 0; i < ids.length; i++) for (let j = 0; j < inner; j++) o[ids[i] * inner + j] += xv[i * inner + j];
      return out;
    },
  });
}

function attncModel(T) {
  const x = tf.input({ shape: [T], dtype: "int32" });
  let y = new Embedding({ vocab: V, dim: E, maskZero: true, seed: 1 }).apply(x);
  y = new BiLstm({ units: H, seed: 2 }).apply(y);
  y = new AttentionPool({ units: A, seed: 3 }).apply(y)[0];
  y = new Dense({ units: 2, activation: "softmax", seed: 4 }).apply(y);
  return tf.model({ inputs: x, outputs: y });
}

function stockModel(T) {
  const x = tf.input({ shape: [T], dtype: "int32" });
  let y = tf.layers.embedding({ inputDim: V, outputDim: E, maskZero: true }).apply(x);
  y = tf.layers.bidirectional({ layer: tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: "sigmoid" }), mergeMode: "concat" }).apply(y);
  // tfjs-layers has no attention pooling; both networks use the same one, so the comparison is of the rest.
  y = new AttentionPool({ units: A, seed: 3 }).apply(y)[0];
  y = tf.layers.dense({ units: 2, activation: "softmax" }).apply(y);
  return tf.model({ inputs: x, outputs: y });
}

function forecaster() {
  const x = tf.input({ shape: [24, 4], dtype: "float32" });
  let y = new Lstm({ units: 64, inputAttention: { kind: "temporal", units: 32 }, seed: 1 }).apply(x)[0];
  y = new Reduce({ mode: "last" }).apply(y);
  y = new Dense({ units: 1, seed: 2 }).apply(y);
  return tf.model({ inputs: x, outputs: y });
}

/** PyTorch's samples/s by (model, T, threads), with its version and BLAS, or null where torch is missing. */
function torchRuns() {
  if (args.includes("--no-torch") || !(sections.has("training") || sections.has("inference"))) return null;
  const python = process.env.ATTNC_BENCH_PYTHON ?? (existsSync(".venv/bin/python") ? ".venv/bin/python" : "python3");
  const r = spawnSync(
    python,
    [
      new URL("torch_bench.py", import.meta.url).pathname,
      "--lengths",
      lengths.join(","),
      "--threads",
      "1,2",
      "--seconds",
      String(trainSeconds),
      "--forecaster",
      "--sections",
      ["training", "inference"].filter((n) => sections.has(n)).join(","),
      "--calls",
      String(inferCalls),
      "--warmup",
      String(inferWarmup),
      "--inference-seconds",
      String(inferSeconds),
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) {
    console.error(`(PyTorch not measured: ${python} could not run bench/torch_bench.py${r.stderr ? `: ${r.stderr.trim().split("\n").pop()}` : ""})`);
    return null;
  }
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const info = lines[0];
  const blas = /BLAS_INFO=(\S+)|LAPACK_INFO=(\S+)/.exec(info.config);
  return { version: info.torch, blas: blas ? (blas[1] ?? blas[2]).replace(/,$/, "") : "unknown", python, runs: lines.slice(1) };
}

function batch(T, B = BATCH) {
  return tf.tidy(() => {
    const len = tf.randomUniform([B], Math.floor(T / 4), T + 1, "int32", 7);
    const ids = tf.randomUniform([B, T], 1, V, "int32", 8);
    const x = tf.mul(ids, tf.less(tf.range(0, T).reshape([1, T]), len.reshape([B, 1])).toInt());
    const y = tf.oneHot(tf.randomUniform([B], 0, 2, "int32", 9), 2).toFloat();
    return { x, y };
  });
}

/**
 * Samples per second of attnc's training step as `attnc train` runs it (gradients of the batch, from this
 * thread alone or split with a worker thread; Adam), after warm-up steps.
 */
async function measureAttnc(model, T, seconds, threads, data = batch(T), loss = "cross_entropy", kind = "text") {
  const { x, y } = data;
  const labels = kind === "text" ? tf.argMax(y, 1) : y.reshape([-1]);
  const opt = makeOptimizer({ kind: "adam", lr: 1e-3 });
  const vars = model.trainableWeights.map((w) => w.read());
  const source = threads === 2 ? DataParallel.start(model, vars, { backend, loss, kind }) : localGradients(model, vars, loss, kind);
  const step = async () => {
    const r = await source.compute(x, labels);
    tf.tidy(() => opt.applyGradients(r.grads));
    tf.dispose(Object.values(r.grads));
  };
  await step();
  await step();
  let n = 0;
  const t0 = performance.now();
  while (n < 3 || (performance.now() - t0) / 1000 < seconds) {
    await step();
    n++;
  }
  const dt = (performance.now() - t0) / 1000;
  await source.close?.();
  tf.dispose([x, y, labels]);
  return (n * x.shape[0]) / dt;
}

/** Samples per second of full training steps (forward, backward, Adam) of a stock model, after warm-up steps. */
function measure(model, T, seconds, data = batch(T), loss = tf.losses.softmaxCrossEntropy) {
  const { x, y } = data;
  const opt = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read());
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => loss(y, model.apply(x, { training: true })), vars);
      opt.applyGradients(grads);
      return value.dataSync()[0];
    });
  step();
  step();
  let n = 0;
  const t0 = performance.now();
  while (n < 3 || (performance.now() - t0) / 1000 < seconds) {
    step();
    n++;
  }
  const dt = (performance.now() - t0) / 1000;
  tf.dispose([x, y]);
  return (n * x.shape[0]) / dt;
}

/** The generated PyTorch programs' samples/s by (model, T, threads), or null where torch is missing. */
async function generatedRuns() {
  if (args.includes("--no-torch") || !sections.has("training")) return null;
  const python = process.env.ATTNC_BENCH_PYTHON ?? (existsSync(".venv/bin/python") ? ".venv/bin/python" : "python3");
  const dir = mkdtempSync(join(tmpdir(), "attnc-bench-py-"));
  try {
    const specs = [
      ...lengths.map(
        (T) =>
          `model BenchText${T} {\n  input tokens: int[T = ${T}]\n  tokens -> embedding(${V}, ${E}, mask_zero: true) -> bilstm(${H}) -> attention_pool(${A}) -> dense(2, activation: softmax)\n}\n`,
      ),
      "model BenchForecast {\n  input w: float[T = 24, F = 4]\n  w -> lstm(64, input_attention: temporal(32, feed: replace, position: none)) -> last -> dense(1)\n}\n",
    ];
    for (const text of specs) {
      const r = await compile({ name: "bench.attn", text });
      if (!r.ok) throw new Error(`bench spec does not compile: ${r.diagnostics.map((d) => d.message).join("; ")}`);
      const ir = r.models[0];
      writeFileSync(join(dir, `${ir.model}.py`), emitPytorchProgram(ir, { specPath: "bench.attn", specHash: "-", dataPath: "-" }));
    }
    copyFileSync(new URL("../dist/attnc_runtime.py", import.meta.url), join(dir, "attnc_runtime.py"));
    const r = spawnSync(
      python,
      [
        new URL("torch_generated_bench.py", import.meta.url).pathname,
        "--programs",
        dir,
        "--lengths",
        lengths.join(","),
        "--threads",
        "1,2",
        "--seconds",
        String(trainSeconds),
        "--forecaster",
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) {
      console.error(`(generated PyTorch programs not measured${r.stderr ? `: ${r.stderr.trim().split("\n").pop()}` : ""})`);
      return null;
    }
    return r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const torch = torchRuns();
const generated = await generatedRuns();
const generatedBest = (model, T) => {
  const rs = (generated ?? []).filter((r) => r.model === model && r.T === T);
  return rs.length === 0 ? null : rs.reduce((a, b) => (b.samples_per_s > a.samples_per_s ? b : a));
};
const best = (model, T) => {
  const rs = (torch?.runs ?? []).filter((r) => r.model === model && r.T === T && r.section === undefined);
  if (rs.length === 0) return null;
  return rs.reduce((a, b) => (b.samples_per_s > a.samples_per_s ? b : a));
};
const of = (model, T, threads) =>
  torch?.runs.find((r) => r.model === model && r.T === T && r.threads === threads && r.section === undefined)?.samples_per_s ?? null;
const round = (v, d = 1) => (v === null ? null : Math.round(v * 10 ** d) / 10 ** d);
const torchFields = (model, T, ours) => {
  const b = best(model, T);
  return torch
    ? {
        torch_1_thread: of(model, T, 1),
        torch_2_threads: of(model, T, 2),
        torch_best_threads: b?.threads ?? null,
        ratio_vs_torch: b ? round(ours / b.samples_per_s, 3) : null,
        torch_version: torch.version,
        torch_blas: torch.blas,
      }
    : { ratio_vs_torch: null };
};
/** The hand-written text classifier with its padding masked by packed sequences, as the generated programs mask it. */
const packedFields = (T, g) => {
  const p = best("text-classifier-packed", T);
  return { torch_packed_samples_per_s: p?.samples_per_s ?? null, generated_vs_torch_packed: g && p ? round(g.samples_per_s / p.samples_per_s, 3) : null };
};
const generatedFields = (model, T) => {
  const g = generatedBest(model, T);
  const b = best(model, T);
  return {
    generated_torch_samples_per_s: g?.samples_per_s ?? null,
    generated_torch_threads: g?.threads ?? null,
    generated_vs_torch: g && b ? round(g.samples_per_s / b.samples_per_s, 3) : null,
    ...(model === "text-classifier" ? packedFields(T, g) : {}),
  };
};

const rows = [];
for (const T of sections.has("training") ? lengths : []) {
  const one = await measureAttnc(attncModel(T), T, trainSeconds, 1);
  const ours = await measureAttnc(attncModel(T), T, trainSeconds, 2);
  const stock = measure(stockModel(T), T, trainSeconds);
  rows.push({
    section: "training",
    model: "text-classifier",
    T,
    B,
    V,
    E,
    H,
    A,
    backend,
    threads: 2,
    samples_per_s: round(ours),
    samples_per_s_1_thread: round(one),
    stock_samples_per_s: round(stock),
    ratio_vs_stock: round(ours / stock, 2),
    ...torchFields("text-classifier", T, ours),
    ...generatedFields("text-classifier", T),
  });
}
if (sections.has("training")) {
  const data = () => tf.tidy(() => ({ x: tf.randomNormal([64, 24, 4], 0, 1, "float32", 3), y: tf.randomNormal([64, 1], 0, 1, "float32", 4) }));
  const one = await measureAttnc(forecaster(), 24, trainSeconds, 1, data(), "mse", "series");
  const ours = await measureAttnc(forecaster(), 24, trainSeconds, 2, data(), "mse", "series");
  rows.push({
    section: "training",
    model: "temporal-forecaster",
    T: 24,
    B: 64,
    F: 4,
    H: 64,
    A: 32,
    backend,
    threads: 2,
    samples_per_s: round(ours),
    samples_per_s_1_thread: round(one),
    stock_samples_per_s: null,
    ratio_vs_stock: null,
    ...torchFields("temporal-forecaster", 24, ours),
    ...generatedFields("temporal-forecaster", 24),
  });
}

/**
 * The matrix products of one training step of the text classifier at length T (B, E, H, A as above), as
 * src/runtime/ops.ts calls them on the wasm backend: [M, K] x [K, N], `count` times per step. Per direction of the
 * BiLSTM: the input projection of the whole sequence, T recurrent products, T - 1 recurrent products of the
 * backward pass, and dX, dW, dU as one product each; the attention pooling's score projection and its two
 * gradient products; the dense layer's product and its two gradient products. The embedding's lookup and
 * gradient are gathers and scatters, no products. `packed`: products attnc runs on the batch's real (unmasked)
 * positions only (ops.ts' lstmSequenceWhole), N of the B T.
 */
function stepProducts(T) {
  const BT = B * T,
    H4 = 4 * H;
  return [
    { name: "lstm x W (whole sequence)", M: BT, K: E, N: H4, count: 2, packed: true },
    { name: "lstm h U (per step)", M: B, K: H, N: H4, count: 2 * T, packed: true },
    { name: "lstm dz U^T (per step)", M: B, K: H4, N: H, count: 2 * (T - 1), packed: true },
    { name: "lstm dX = dz W^T", M: BT, K: H4, N: E, count: 2, packed: true },
    { name: "lstm dW = dz^T x", M: H4, K: BT, N: E, count: 2, packed: true },
    { name: "lstm dU = dz^T h", M: H4, K: BT, N: H, count: 2, packed: true },
    { name: "attention h W", M: BT, K: 2 * H, N: A, count: 1 },
    { name: "attention dh = dpre W^T", M: BT, K: A, N: 2 * H, count: 1 },
    { name: "attention dW = h^T dpre", M: 2 * H, K: BT, N: A, count: 1 },
    { name: "dense x W", M: B, K: 2 * H, N: 2, count: 1 },
    { name: "dense dx = dy W^T", M: B, K: 2, N: 2 * H, count: 1 },
    { name: "dense dW = x^T dy", M: 2 * H, K: B, N: 2, count: 1 },
  ];
}

/**
 * Seconds per [M, K] x [K, N] product on this thread: through tf.matMul (engine bookkeeping included); on wasm,
 * the backend's product called directly (null elsewhere); and attnc's module's own product (lstm.c's gemmAcc,
 * which the LSTM and pooling kernels run; null where N is not a multiple of 4). The right-hand operand stays the
 * same, so the backend packs it once: the best case, as a limit should be. `best`: the fastest of the three.
 */
function timeProduct(M, K, N) {
  const a = tf.randomNormal([M, K], 0, 1, "float32", 1);
  const b = tf.randomNormal([K, N], 0, 1, "float32", 2);
  const out = tf.zeros([M, N]);
  const time = (call) => {
    for (let i = 0; i < 3; i++) call();
    let n = 0;
    const t0 = performance.now();
    while (n < 5 || (performance.now() - t0) / 1000 < productSeconds) {
      call();
      n++;
    }
    return (performance.now() - t0) / 1000 / n;
  };
  const viaTf = time(() => tf.matMul(a, b).dispose());
  let viaDirect = null;
  if (backend === "wasm" && internalsUsable()) {
    const w = direct(tf.backend());
    const [ai, bi, oi] = [a, b, out].map((t) => w.id(t));
    viaDirect = time(() => w.product(ai, bi, oi, M, K, N));
  }
  tf.dispose([a, b, out]);
  const call = moduleProduct(M, K, N);
  const viaModule = call ? time(call.run) : null;
  return { viaTf, viaDirect, viaModule, best: Math.min(viaTf, viaDirect ?? Infinity, viaModule ?? Infinity) };
}

const limitRows = [];
let limitSummary = null;
if (sections.has("limit")) {
  const T = lengths[0];
  const gflops = (flop, s) => (s === null ? null : round(flop / s / 1e9, 2));
  // The bench batch's real positions: attnc computes the LSTM's products on those only.
  const real = tf.tidy(() => tf.sum(tf.notEqual(batch(T).x, 0)).dataSync()[0]) / (B * T);
  let stepFlop = 0,
    stepSeconds = 0,
    stepSecondsTf = 0,
    realFlop = 0,
    realSeconds = 0;
  for (const p of stepProducts(T)) {
    const flop = 2 * p.M * p.K * p.N;
    const { viaTf, viaDirect, viaModule, best } = timeProduct(p.M, p.K, p.N);
    stepFlop += p.count * flop;
    stepSeconds += p.count * best;
    // At the real positions, the same speed assumed (smaller products are no faster): a limit no lower than the real one.
    realFlop += p.count * flop * (p.packed ? real : 1);
    realSeconds += p.count * best * (p.packed ? real : 1);
    stepSecondsTf += p.count * viaTf;
    limitRows.push({
      section: "limit",
      product: p.name,
      M: p.M,
      K: p.K,
      N: p.N,
      count: p.count,
      flop_per_step: p.count * flop,
      gflops_direct: gflops(flop, viaDirect),
      gflops_tfjs: gflops(flop, viaTf),
      gflops_module: gflops(flop, viaModule),
      us_per_call_direct: viaDirect === null ? null : round(viaDirect * 1e6, 1),
      us_per_call_tfjs: round(viaTf * 1e6, 1),
      us_per_call_module: viaModule === null ? null : round(viaModule * 1e6, 1),
    });
  }
  const L = smoke ? 128 : 512;
  const large = timeProduct(L, L, L);
  const largeGflops = gflops(2 * L ** 3, large.best);
  limitRows.push({
    section: "limit",
    product: `square ${L}^3 (best case)`,
    M: L,
    K: L,
    N: L,
    count: 0,
    flop_per_step: 0,
    gflops_direct: gflops(2 * L ** 3, large.viaDirect),
    gflops_tfjs: gflops(2 * L ** 3, large.viaTf),
    gflops_module: gflops(2 * L ** 3, large.viaModule),
    us_per_call_direct: large.viaDirect === null ? null : round(large.viaDirect * 1e6, 1),
    us_per_call_tfjs: round(large.viaTf * 1e6, 1),
    us_per_call_module: large.viaModule === null ? null : round(large.viaModule * 1e6, 1),
  });
  const oneThread = rows.find((r) => r.model === "text-classifier" && r.T === T)?.samples_per_s_1_thread ?? null;
  const atLarge = (B * largeGflops * 1e9) / stepFlop;
  const atShapes = B / stepSeconds;
  const pct = (v, limit) => (v === null ? null : round((100 * v) / limit, 1));
  limitSummary = {
    section: "limit-summary",
    model: "text-classifier",
    T,
    B,
    backend,
    step_flop: stepFlop,
    flop_per_sample: Math.round(stepFlop / B),
    step_gflops_at_shapes: round(stepFlop / stepSeconds / 1e9, 2),
    step_gflops_at_shapes_tfjs: round(stepFlop / stepSecondsTf / 1e9, 2),
    large_gflops: largeGflops,
    limit_samples_per_s_large: round(atLarge),
    limit_samples_per_s_shapes: round(atShapes),
    attnc_samples_per_s_1_thread: oneThread,
    percent_of_limit_large: pct(oneThread, atLarge),
    percent_of_limit_shapes: pct(oneThread, atShapes),
    real_fraction: round(real, 3),
    real_step_flop: Math.round(realFlop),
    limit_samples_per_s_real: round(B / realSeconds),
    percent_of_limit_real: pct(oneThread, B / realSeconds),
  };
}

/** Milliseconds per call: the median and the 95th percentile. */
function quantiles(times) {
  const t = [...times].sort((a, b) => a - b);
  const m = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
  return { median: m, p95: t[Math.min(t.length - 1, Math.floor(0.95 * t.length))] };
}

/** Predict latency for one request and samples/s for batches of `many`, as AttncModel.answer runs the model. */
async function measureInference(model, one, many) {
  const call = async (x) => {
    const p = model.predict(x);
    await p.data();
    p.dispose();
  };
  for (let i = 0; i < inferWarmup; i++) {
    await call(one);
    await call(many);
  }
  const times = [];
  for (let i = 0; i < inferCalls; i++) {
    const t0 = performance.now();
    await call(one);
    times.push(performance.now() - t0);
  }
  let n = 0;
  const t0 = performance.now();
  while (n < 3 || (performance.now() - t0) / 1000 < inferSeconds) {
    await call(many);
    n++;
  }
  const sps = (n * many.shape[0]) / ((performance.now() - t0) / 1000);
  tf.dispose([one, many]);
  return { ...quantiles(times), sps };
}

const inferenceRows = [];
if (sections.has("inference")) {
  const inputs = (T) => {
    const [a, b] = [batch(T, 1), batch(T, 64)];
    tf.dispose([a.y, b.y]);
    return [a.x, b.x];
  };
  const runs = [
    ...lengths.map((T) => ({ model: "text-classifier", T, net: () => attncModel(T), xs: () => inputs(T) })),
    {
      model: "temporal-forecaster",
      T: 24,
      net: forecaster,
      xs: () => [tf.randomNormal([1, 24, 4], 0, 1, "float32", 5), tf.randomNormal([64, 24, 4], 0, 1, "float32", 6)],
    },
  ];
  for (const r of runs) {
    const m = await measureInference(r.net(), ...r.xs());
    const tr = (torch?.runs ?? []).filter((t) => t.section === "inference" && t.model === r.model && t.T === r.T);
    const fastest = tr.length ? tr.reduce((a, b) => (b.latency_ms_median < a.latency_ms_median ? b : a)) : null;
    const most = tr.length ? tr.reduce((a, b) => (b.samples_per_s > a.samples_per_s ? b : a)) : null;
    inferenceRows.push({
      section: "inference",
      model: r.model,
      T: r.T,
      backend,
      batch: 64,
      latency_ms_median: round(m.median, 3),
      latency_ms_p95: round(m.p95, 3),
      samples_per_s: round(m.sps),
      torch_latency_ms_median: fastest?.latency_ms_median ?? null,
      torch_latency_ms_p95: fastest?.latency_ms_p95 ?? null,
      torch_latency_threads: fastest?.threads ?? null,
      torch_samples_per_s: most?.samples_per_s ?? null,
      torch_samples_per_s_threads: most?.threads ?? null,
      latency_ratio_vs_torch: fastest ? round(m.median / fastest.latency_ms_median, 3) : null,
      throughput_ratio_vs_torch: most ? round(m.sps / most.samples_per_s, 3) : null,
    });
  }
}

const f = (v, w) => String(v ?? "-").padStart(w);
if (json) for (const r of [...rows, ...limitRows, ...(limitSummary ? [limitSummary] : []), ...inferenceRows]) console.log(JSON.stringify(r));
else {
  const torchName = torch ? `PyTorch ${torch.version} (${torch.blas}) via ${torch.python}` : "PyTorch not measured";
  if (rows.length > 0) {
    console.log(`training samples/s, backend ${backend}; ${torchName}`);
    console.log(
      "model                T    attnc 1 thr  attnc 2 thr  stock tfjs  attnc/stock  torch 1 thr  torch 2 thr  attnc/torch best  generated torch  generated/torch  torch packed  generated/packed",
    );
    for (const r of rows)
      console.log(
        `${r.model.padEnd(20)} ${String(r.T).padEnd(4)} ${f(r.samples_per_s_1_thread, 11)}  ${f(r.samples_per_s, 11)}  ${f(r.stock_samples_per_s, 10)}  ${f(r.ratio_vs_stock, 11)}  ${f(r.torch_1_thread, 11)}  ${f(r.torch_2_threads, 11)}  ${f(r.ratio_vs_torch, 16)}  ${f(r.generated_torch_samples_per_s, 15)}  ${f(r.generated_vs_torch, 15)}  ${f(r.torch_packed_samples_per_s ?? null, 12)}  ${f(r.generated_vs_torch_packed ?? null, 16)}`,
      );
    console.log(
      "attnc/stock and attnc/torch take attnc on 2 threads (as attnc train runs here), stock tfjs-layers on 1 (it has no other way), PyTorch at its best thread count; generated torch: the same networks from attnc build --target pytorch, at their best thread count; torch packed: the hand-written classifier with its padding masked by packed sequences (the torch column's runs both directions over the padding).",
    );
  }
  if (limitSummary) {
    const l = limitSummary;
    console.log(`\nthe ${backend} limit: matrix products of one training step of the text classifier at T = ${l.T} (B = ${l.B}), one thread`);
    console.log(
      "product                        M      K      N  per step  MFLOP/step  us/call direct  GFLOP/s direct  us/call tf.matMul  GFLOP/s tf.matMul  us/call module  GFLOP/s module",
    );
    for (const r of limitRows)
      console.log(
        `${r.product.padEnd(26)} ${f(r.M, 5)}  ${f(r.K, 5)}  ${f(r.N, 5)}  ${f(r.count, 8)}  ${f(round(r.flop_per_step / 1e6, 1), 10)}  ${f(r.us_per_call_direct, 14)}  ${f(r.gflops_direct, 14)}  ${f(r.us_per_call_tfjs, 17)}  ${f(r.gflops_tfjs, 17)}  ${f(r.us_per_call_module, 14)}  ${f(r.gflops_module, 14)}`,
      );
    console.log(
      `step: ${round(l.step_flop / 1e9, 3)} GFLOP of products per batch (${round(l.flop_per_sample / 1e6, 1)} MFLOP per sample); at the step's shapes ${l.step_gflops_at_shapes} GFLOP/s (the fastest of the three per shape; ${l.step_gflops_at_shapes_tfjs} through tf.matMul) -> limit ${l.limit_samples_per_s_shapes} samples/s per core; at the square product's ${l.large_gflops} GFLOP/s -> ${l.limit_samples_per_s_large} samples/s per core`,
    );
    console.log(
      `attnc on 1 thread: ${l.attnc_samples_per_s_1_thread ?? "- (training not run)"} samples/s = ${l.percent_of_limit_shapes ?? "-"}% of the limit at the step's shapes, ${l.percent_of_limit_large ?? "-"}% of the square-product limit`,
    );
    console.log(
      `the batch's real positions: ${round(100 * l.real_fraction, 1)}% of B T (the rest padding); attnc runs the LSTM's products on those only, ${round(l.real_step_flop / 1e9, 3)} GFLOP a step -> limit ${l.limit_samples_per_s_real} samples/s per core at the step's shapes; attnc on 1 thread = ${l.percent_of_limit_real ?? "-"}% of it (the figure to judge by)`,
    );
    console.log(
      "direct: the backend's product called without the engine, the right-hand operand packed once (best case); module: attnc's wasm module's own product, which its LSTM and pooling kernels run (N a multiple of 4).",
    );
  }
  if (inferenceRows.length > 0) {
    console.log(`\ninference, backend ${backend}; ${torchName}`);
    console.log(
      "model                T    attnc ms median  attnc ms p95  torch ms median  torch ms p95  latency attnc/torch  attnc samples/s (64)  torch samples/s (64)  throughput attnc/torch",
    );
    for (const r of inferenceRows)
      console.log(
        `${r.model.padEnd(20)} ${String(r.T).padEnd(4)} ${f(r.latency_ms_median, 15)}  ${f(r.latency_ms_p95, 12)}  ${f(r.torch_latency_ms_median, 15)}  ${f(r.torch_latency_ms_p95, 12)}  ${f(r.latency_ratio_vs_torch, 19)}  ${f(r.samples_per_s, 20)}  ${f(r.torch_samples_per_s, 19)}  ${f(r.throughput_ratio_vs_torch, 22)}`,
      );
    console.log(
      `latency: one request (batch 1), ${inferCalls} calls after ${inferWarmup} warm-up calls (lower is better); throughput: batches of 64 for ${inferSeconds} s (higher is better); attnc as attnc predict runs the model (model.predict, then its data), one thread; PyTorch eager under torch.inference_mode() at its best thread count (1 or 2) for each figure.`,
    );
  }
}
