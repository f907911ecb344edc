/**
 * train, evaluate, predict, explain: the commands that load TensorFlow.js. main.ts imports this module only
 * when one of them runs, so that check/build/fmt/inspect start fast.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { compile } from "../compile.js";
import type { IrModel } from "../ir/types.js";
import { renderDiagnostics } from "../diagnostics/render.js";
import { attentionOutputs, buildModel, explainModel, type AttentionOutput } from "../engine/build-model.js";
import { selectBackend, BackendError, type BackendChoice } from "../runtime/backend.js";
import { DataError } from "../runtime/csv.js";
import { encodeText, fit, scaleWindow, tokenize, unscaleTarget, type DataConfig, type DataFile, type Prep, type Split } from "../runtime/data.js";
import { registerKernels } from "../runtime/kernels.js";
import { registerLayers } from "../runtime/layers.js";
import { loadModelDir, loadOptimizerState, ModelDirError, readManifest, writeFileAtomic, type TrainState } from "../runtime/modeldir.js";
import { heatmapSvg, historySvg } from "../runtime/plots.js";
import { Progress, formatRecord } from "../runtime/progress.js";
import { classesOf, evaluateSplit, makeOptimizer, trainLoop, type SplitReport, type TrainConfig } from "../runtime/train.js";
import { CliError, displayPath, readText, type CliIo } from "./io.js";

/** attnc.json: what a model directory says about itself. */
export interface ModelMeta {
  format: 1;
  model: string;
  task: "text" | "series";
  seed: number;
  /** The data file, relative to the model directory. */
  dataPath: string;
  ir: IrModel;
  data: DataConfig;
  train: TrainConfig;
  prep: Prep;
}

async function backend(io: CliIo, choice: string | undefined): Promise<string> {
  try {
    registerLayers();
    registerKernels();
    const name = await selectBackend((choice ?? "auto") as BackendChoice);
    io.stderr.write(`attnc: using the ${name === "tensorflow" ? "node (native TensorFlow)" : name} backend\n`);
    return name;
  } catch (e) {
    if (e instanceof BackendError) throw new CliError(e.message);
    throw e;
  }
}

function dataError(e: unknown): never {
  if (e instanceof DataError) throw new CliError(e.message, 1);
  if (e instanceof ModelDirError) throw new CliError(e.message, 2);
  throw e;
}

/** Paths a spec names must stay inside the project (the working directory) unless the user allows otherwise. */
function inside(io: CliIo, path: string, allowOutside: boolean, what: string): string {
  const abs = resolve(io.cwd, path);
  const rel = relative(io.cwd, abs);
  if (!allowOutside && (rel.startsWith(`..${sep}`) || rel === ".." || resolve(rel) === rel)) {
    throw new CliError(`${what} ${displayPath(io, path)} is outside the project directory; pass --allow-outside to use it`);
  }
  return abs;
}

export interface TrainOptions {
  model?: string;
  data?: string;
  out?: string;
  epochs?: string;
  seed?: string;
  backend?: string;
  resume?: boolean;
  allowOutside?: boolean;
}

function int(v: string | undefined, flag: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag} must be a whole number >= ${min}, not ${JSON.stringify(v)}`);
  return n;
}

export async function trainCommand(io: CliIo, specPath: string, opts: TrainOptions): Promise<number> {
  const epochsOverride = int(opts.epochs, "--epochs", 1);
  const seedOverride = int(opts.seed, "--seed", 0);
  const name = displayPath(io, specPath);
  const text = readText(io, specPath);
  const r = await compile({ name, text });
  if (!r.ok) {
    io.stderr.write(renderDiagnostics(r.diagnostics, io.stderr.isTTY ? "pretty" : "plain", new Map([[name, text]]), { color: false }));
    return 1;
  }
  const trainable = r.models.filter((m) => m.data && m.train);
  const ir = opts.model ? r.models.find((m) => m.model === opts.model) : trainable.length === 1 ? trainable[0] : undefined;
  if (!ir) {
    if (opts.model) throw new CliError(`${name} has no model ${opts.model}; it has ${r.models.map((m) => m.model).join(", ")}`);
    throw new CliError(trainable.length === 0 ? `${name} has no model with both a data and a train block` : `${name} has several trainable models (${trainable.map((m) => m.model).join(", ")}); choose one with --model`);
  }
  if (!ir.data || !ir.train) throw new CliError(`model ${ir.model} needs a data block and a train block to be trained`);
  const data = ir.data as unknown as DataConfig;
  const train = { ...(ir.train as unknown as TrainConfig) };
  if (seedOverride !== undefined) train.seed = seedOverride;
  const dataPath = opts.data !== undefined ? inside(io, opts.data, opts.allowOutside === true, "the data file") : inside(io, join(dirname(resolve(io.cwd, specPath)), data.source.path), opts.allowOutside === true, "the data file");
  const file: DataFile = { path: dataPath, display: displayPath(io, dataPath) };
  if (!existsSync(dataPath)) throw new CliError(`cannot read ${file.display}: no such file`, 1);
  const out = inside(io, opts.out ?? join("runs", ir.model), opts.allowOutside === true, "the output directory");
  const manifest = readManifest(out);
  if (manifest && !opts.resume) throw new CliError(`${displayPath(io, out)} already holds a model; pass --resume to continue it or --out for a new directory`);
  if (!manifest && opts.resume && existsSync(out)) throw new CliError(`${displayPath(io, out)} has no complete checkpoint to resume from`);
  await backend(io, opts.backend);

  let model: tf.LayersModel;
  let meta: ModelMeta;
  let state: TrainState;
  const optimizer = makeOptimizer(train.optimizer);
  try {
    if (manifest && opts.resume) {
      const loaded = await loadModelDir(out);
      model = loaded.model;
      meta = loaded.meta as unknown as ModelMeta;
      state = loaded.state;
      const target = epochsOverride ?? train.epochs;
      if (state.done && (state.stopReason !== undefined || state.epoch >= target)) {
        io.stderr.write(`attnc: ${displayPath(io, out)} finished training already (epoch ${state.epoch}${state.stopReason ? `; ${state.stopReason}` : ""})\n`);
        return 0;
      }
      state.done = false;
      await loadOptimizerState(out, loaded.manifest, optimizer, model);
      io.stderr.write(`attnc: resuming ${ir.model} after epoch ${state.epoch}${state.batch ? `, batch ${state.batch}` : ""}\n`);
    } else {
      const prep = await fit(data, file);
      checkOutput(ir, prep, name, file);
      model = buildModel(ir, train.seed);
      meta = { format: 1, model: ir.model, task: prep.kind, seed: train.seed, dataPath: relative(out, dataPath).split(sep).join("/"), ir, data, train, prep };
      state = { epoch: 0, batch: 0, history: [], best: null, wait: 0, dropout: {}, done: false };
      mkdirSync(out, { recursive: true });
    }
  } catch (e) {
    return dataError(e);
  }
  const prep = meta.prep;
  io.stderr.write(`attnc: ${prep.counts.train} training, ${prep.counts.validation} validation, ${prep.counts.test} test examples${prep.kind === "text" ? `; vocabulary ${prep.vocab.length}, labels ${prep.labels.join(", ")}` : ""}\n`);
  const signal = { stop: false };
  const onInt = () => {
    if (signal.stop) process.exit(130);
    signal.stop = true;
    io.stderr.write("\nattnc: stopping after this batch (press Ctrl-C again to quit at once)\n");
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onInt);
  try {
    const outcome = await trainLoop({ model, optimizer, meta, dir: out, data, file, prep, train, epochs: epochsOverride ?? train.epochs, state, progress: new Progress(io.stderr, epochsOverride ?? train.epochs), signal });
    writeFileAtomic(join(out, "history.svg"), historySvg(ir.model, outcome.state.history));
    if (outcome.kind === "interrupted") {
      io.stderr.write(`attnc: interrupted; checkpoint saved in ${displayPath(io, out)} (resume with --resume)\n`);
      return 130;
    }
    if (outcome.kind === "diverged") {
      io.stderr.write(`attnc: ${outcome.message}\n`);
      return 1;
    }
    io.stdout.write(`model saved in ${displayPath(io, out)}\n`);
    if (outcome.test) io.stdout.write(reportText("test", outcome.test));
    return 0;
  } catch (e) {
    return dataError(e);
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onInt);
  }
}

/** The data's labels must fit the model's output (known only once the data is read). */
function checkOutput(ir: IrModel, prep: Prep, spec: string, file: DataFile): void {
  if (prep.kind !== "text") return;
  const out = ir.nodes.find((n) => n.name === ir.outputs[ir.outputs.length - 1]);
  const units = out?.shape?.[out.shape.length - 1];
  const k = prep.labels.length;
  if (units === 1 && k !== 2) throw new CliError(`${spec}: output ${out!.name} is a single sigmoid unit, but ${file.display} has ${k} labels (${prep.labels.join(", ")})`, 1);
  if (typeof units === "number" && units !== 1 && units !== k) throw new CliError(`${spec}: output ${out!.name} has ${units} classes, but ${file.display} has ${k} labels in its training split (${prep.labels.join(", ")}); use dense(${k}, activation: softmax)`, 1);
}

function reportText(split: string, r: SplitReport): string {
  const lines = [`${split} loss ${r.loss.toFixed(4)}`];
  if (r.classification) {
    const c = r.classification;
    lines.push(`${split} accuracy ${c.accuracy.toFixed(4)}  macro F1 ${c.macro_f1.toFixed(4)}  (${c.count} examples)`);
    const w = Math.max(6, ...c.labels.map((l) => l.length));
    lines.push(`confusion (rows: true label, columns: predicted)`);
    lines.push(`${"".padEnd(w)}  ${c.labels.map((l) => l.padStart(w)).join("  ")}`);
    c.confusion.forEach((row, i) => lines.push(`${c.labels[i]!.padEnd(w)}  ${row.map((v) => String(v).padStart(w)).join("  ")}`));
  }
  if (r.regression) {
    const g = r.regression;
    lines.push(`${split} RMSE ${g.rmse.toFixed(4)}  MAE ${g.mae.toFixed(4)}  MAPE ${g.mape.toFixed(2)}%  (${g.count} windows)`);
  }
  return `${lines.join("\n")}\n`;
}

async function load(io: CliIo, dir: string, choice: string | undefined): Promise<{ model: tf.LayersModel; meta: ModelMeta; dir: string }> {
  await backend(io, choice);
  try {
    const l = await loadModelDir(resolve(io.cwd, dir));
    return { model: l.model, meta: l.meta as unknown as ModelMeta, dir: resolve(io.cwd, dir) };
  } catch (e) {
    return dataError(e);
  }
}

export async function evaluateCommand(io: CliIo, dir: string, opts: { data?: string; split?: string; backend?: string; format?: string }): Promise<number> {
  const split = (opts.split ?? "test") as Split;
  if (!["train", "validation", "test"].includes(split)) throw new CliError(`--split must be train, validation or test, not ${JSON.stringify(opts.split)}`);
  const { model, meta, dir: abs } = await load(io, dir, opts.backend);
  const path = opts.data !== undefined ? resolve(io.cwd, opts.data) : resolve(abs, meta.dataPath);
  const file: DataFile = { path, display: displayPath(io, path) };
  if (!existsSync(path)) throw new CliError(`cannot read ${file.display}: no such file`, 1);
  try {
    const r = await evaluateSplit(model, meta.data, meta.prep, file, split, meta.train.batch, meta.train.loss);
    io.stdout.write(opts.format === "json" ? `${JSON.stringify({ split, ...r })}\n` : reportText(split, r));
    return 0;
  } catch (e) {
    return dataError(e);
  }
}

/** Reads JSONL requests from a file or standard input. */
function readInputs(io: CliIo, input: string): { value: Record<string, unknown>; line: number }[] {
  const text = input === "-" ? readFileSync(0, "utf8") : readText(io, input);
  const name = input === "-" ? "<stdin>" : displayPath(io, input);
  const out: { value: Record<string, unknown>; line: number }[] = [];
  text.split(/\r?\n/).forEach((l, i) => {
    if (l.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      throw new CliError(`${name}:${i + 1}: not valid JSON: ${(e as Error).message}`, 1);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new CliError(`${name}:${i + 1}: each line must be a JSON object`, 1);
    out.push({ value: v as Record<string, unknown>, line: i + 1 });
  });
  return out;
}

/** One request to a model input: text, or a window of raw feature rows. */
function encode(meta: ModelMeta, req: { value: Record<string, unknown>; line: number }, name: string): { x: Int32Array | Float32Array; tokens?: string[] } {
  const p = meta.prep;
  if (p.kind === "text") {
    const t = req.value[p.textColumn] ?? req.value["text"];
    if (typeof t !== "string") throw new CliError(`${name}:${req.line}: needs a string field ${JSON.stringify(p.textColumn)} (or "text")`, 1);
    return { x: encodeText(p, t), tokens: tokenize(p, t).slice(0, p.maxLen) };
  }
  const w = req.value["window"];
  if (!Array.isArray(w) || w.length !== p.window) throw new CliError(`${name}:${req.line}: needs "window": ${p.window} rows of [${p.features.join(", ")}]`, 1);
  const rows = w.map((row: unknown, t) => {
    const vals = Array.isArray(row) ? row : p.features.map((f) => (row as Record<string, unknown> | null)?.[f]);
    if (vals.length !== p.features.length || !vals.every((v) => typeof v === "number" && Number.isFinite(v))) {
      throw new CliError(`${name}:${req.line}: window row ${t + 1} must hold ${p.features.length} finite numbers (${p.features.join(", ")})`, 1);
    }
    return vals as number[];
  });
  return { x: scaleWindow(p, rows) };
}

function batchTensor(meta: ModelMeta, xs: (Int32Array | Float32Array)[]): tf.Tensor {
  const p = meta.prep;
  const per = xs[0]!.length;
  const flat = p.kind === "text" ? new Int32Array(xs.length * per) : new Float32Array(xs.length * per);
  xs.forEach((x, i) => flat.set(x, i * per));
  return p.kind === "text" ? tf.tensor2d(flat, [xs.length, per], "int32") : tf.tensor3d(flat, [xs.length, p.window, p.features.length], "float32");
}

function outputRecord(meta: ModelMeta, pred: Float32Array | number[]): Record<string, unknown> {
  const p = meta.prep;
  if (p.kind === "series") return { prediction: unscaleTarget(p, pred[0]!) };
  const probs = pred.length === 1 ? [1 - pred[0]!, pred[0]!] : Array.from(pred);
  const best = probs.indexOf(Math.max(...probs));
  return { label: p.labels[best], probabilities: Object.fromEntries(p.labels.map((l, i) => [l, Math.round(probs[i]! * 1e6) / 1e6])) };
}

export async function predictCommand(io: CliIo, dir: string, opts: { input: string; backend?: string }): Promise<number> {
  const reqs = readInputs(io, opts.input);
  const { model, meta } = await load(io, dir, opts.backend);
  const name = opts.input === "-" ? "<stdin>" : displayPath(io, opts.input);
  for (let i = 0; i < reqs.length; i += 64) {
    const chunk = reqs.slice(i, i + 64).map((r) => encode(meta, r, name));
    const x = batchTensor(meta, chunk.map((c) => c.x));
    const pred = model.predict(x) as tf.Tensor;
    const rows = pred.arraySync() as number[][];
    for (const r of rows) io.stdout.write(`${JSON.stringify(outputRecord(meta, r))}\n`);
    tf.dispose([x, pred]);
  }
  return 0;
}

function heatmapFor(meta: ModelMeta, a: AttentionOutput, w: number[] | number[][], tokens: string[] | undefined, index: number): string {
  const p = meta.prep;
  const steps = (n: number) => Array.from({ length: n }, (_, i) => `t${i + 1}`);
  if (a.kind === "pool") {
    const v = w as number[];
    const labels = tokens ? [...tokens, ...Array<string>(Math.max(0, v.length - tokens.length)).fill("<pad>")] : steps(v.length);
    const n = tokens ? Math.max(1, tokens.length) : v.length;
    return heatmapSvg({ title: `${meta.model} example ${index}: ${a.node} weights over ${tokens ? "tokens" : "steps"}`, values: [v.slice(0, n)], rowLabels: [a.node], colLabels: labels.slice(0, n), rowAxis: "", colAxis: tokens ? "token" : "step" });
  }
  const m = w as number[][];
  if (a.kind === "temporal") return heatmapSvg({ title: `${meta.model} example ${index}: ${a.node} temporal attention`, values: m, rowLabels: steps(m.length), colLabels: steps(m[0]!.length), rowAxis: "LSTM step t", colAxis: "window position i" });
  return heatmapSvg({ title: `${meta.model} example ${index}: ${a.node} feature attention`, values: m, rowLabels: steps(m.length), colLabels: p.kind === "series" ? p.features : steps(m[0]!.length), rowAxis: "LSTM step t", colAxis: "driving series k" });
}

export async function explainCommand(io: CliIo, dir: string, opts: { input: string; out?: string; backend?: string }): Promise<number> {
  const reqs = readInputs(io, opts.input);
  const { model, meta, dir: abs } = await load(io, dir, opts.backend);
  const attention = attentionOutputs(meta.ir);
  if (attention.length === 0) throw new CliError(`model ${meta.model} has no attention layer to explain`, 1);
  const ex = explainModel(model, attention);
  const name = opts.input === "-" ? "<stdin>" : displayPath(io, opts.input);
  const outDir = resolve(io.cwd, opts.out ?? join(abs, "explain"));
  mkdirSync(outDir, { recursive: true });
  let index = 0;
  for (const req of reqs) {
    index++;
    const e = encode(meta, req, name);
    const x = batchTensor(meta, [e.x]);
    const outs = ex.predict(x) as tf.Tensor[];
    const record: Record<string, unknown> = { ...outputRecord(meta, outs[0]!.dataSync() as Float32Array), ...(e.tokens ? { tokens: e.tokens } : {}) };
    const weights: Record<string, unknown> = {};
    attention.forEach((a, k) => {
      const w = (outs[k + 1]!.arraySync() as number[][] | number[][][])[0]!;
      const trimmed = a.kind === "pool" && e.tokens ? (w as number[]).slice(0, Math.max(1, e.tokens.length)) : w;
      weights[a.node] = trimmed;
      const svg = join(outDir, `example-${index}-${a.node}.svg`);
      writeFileAtomic(svg, heatmapFor(meta, a, w as number[] | number[][], e.tokens, index));
    });
    record["attention"] = weights;
    io.stdout.write(`${JSON.stringify(record)}\n`);
    tf.dispose([x, ...outs]);
  }
  io.stderr.write(`attnc: heatmaps in ${displayPath(io, outDir)}\n`);
  return 0;
}

export { formatRecord, classesOf };
