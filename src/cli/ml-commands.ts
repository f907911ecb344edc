/**
 * train, evaluate, predict, explain: the commands that load TensorFlow.js. main.ts imports this module only
 * when one of them runs, so that check/build/fmt/inspect start fast.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { emitProgram } from "../codegen/emit.js";
import { formatTypeScript } from "../codegen/format.js";
import { combineRuntime } from "../codegen/runtime-source.js";
import { runtimeFiles } from "./commands.js";
import * as tf from "@tensorflow/tfjs";
import { compile } from "../compile.js";
import type { IrModel } from "../ir/types.js";
import { renderDiagnostics } from "../diagnostics/render.js";
import { attentionOutputs, buildModel, explainModel, type AttentionOutput } from "../engine/build-model.js";
import { selectBackend, BackendError, type BackendChoice } from "../runtime/backend.js";
import { DataError } from "../runtime/csv.js";
import { RegressionMetrics, type RegressionReport } from "../runtime/metrics.js";
import { baselineForecasts, batches, encodeText, examples, scaleWindow, tokenize, unscaleTarget, type DataConfig, type DataFile, type Split } from "../runtime/data.js";
import { registerKernels } from "../runtime/kernels.js";
import { registerLayers } from "../runtime/layers.js";
import { DataParallel } from "../runtime/parallel.js";
import { loadModelDir, ModelDirError, outDirProblem, readManifest, writeFileAtomic } from "../runtime/modeldir.js";
import { validateModelDir } from "../modeldir/validate.js";
import { heatmapSvg } from "../runtime/plots.js";
import { reportText, RunError, trainSession, type ModelMeta as RunMeta } from "../runtime/session.js";
import { evaluateSplit, type TrainConfig } from "../runtime/train.js";
import { CliError, displayPath, readText, type CliIo } from "./io.js";

/** attnc.json, whose IR attnc wrote in full. */
type ModelMeta = RunMeta & { ir: IrModel };

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

function dataError(e: unknown, io?: CliIo): never {
  if (e instanceof DataError) throw new CliError(e.message, 1);
  if (e instanceof RunError) throw new CliError(e.message, e.exitCode);
  if (e instanceof ModelDirError) throw new CliError(io && e.dir !== undefined ? e.message.split(e.dir).join(displayPath(io, e.dir)) : e.message, 2);
  throw e;
}

let renderer: boolean | undefined;
/**
 * Writes a PNG beside an SVG where a renderer is installed (rsvg-convert, from librsvg); returns whether it did.
 * SVG is the format attnc always writes; PNG is a convenience for viewers that cannot show SVG.
 */
function pngBeside(svg: string): boolean {
  renderer ??= spawnSync("rsvg-convert", ["--version"], { stdio: "ignore" }).status === 0;
  if (!renderer) return false;
  // Written beside and renamed into place: a link planted at the PNG's name is replaced, never written through.
  const png = svg.replace(/\.svg$/, ".png");
  const tmp = `${png}.${randomBytes(6).toString("hex")}.tmp`;
  const ok = spawnSync("rsvg-convert", ["--background-color", "white", "-o", tmp, svg], { stdio: "ignore" }).status === 0;
  if (ok) renameSync(tmp, png);
  else rmSync(tmp, { force: true });
  return ok;
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
  threads?: string;
  resume?: boolean;
  allowOutside?: boolean;
  force?: boolean;
}

function int(v: string | undefined, flag: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag} must be a whole number >= ${min}, not ${JSON.stringify(v)}`);
  return n;
}

/** Compiles a spec for a command that needs its IR; diagnostics, if any, go to stderr. */
async function compileSpec(io: CliIo, specPath: string): Promise<{ name: string; text: string; r: Awaited<ReturnType<typeof compile>> }> {
  const name = displayPath(io, specPath);
  const text = readText(io, specPath);
  const r = await compile({ name, text });
  if (r.diagnostics.length > 0) io.stderr.write(renderDiagnostics(r.diagnostics, io.stderr.isTTY ? "pretty" : "plain", new Map([[name, text]]), { color: false }));
  return { name, text, r };
}

/**
 * Threads to train with: --threads, else ATTNC_THREADS, else auto: 2 where the machine has two cores or more
 * and the backend runs on one (wasm, cpu); the native backend uses every core by itself.
 */
function threadCount(io: CliIo, option: string | undefined, used: string): number {
  const raw = option ?? io.env["ATTNC_THREADS"] ?? "auto";
  if (raw === "auto") return used !== "tensorflow" && availableParallelism() >= 2 ? 2 : 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 2) throw new CliError(`--threads must be 1, 2 or auto, not ${JSON.stringify(raw)}`);
  return n;
}

export async function trainCommand(io: CliIo, specPath: string, opts: TrainOptions): Promise<number> {
  const epochs = int(opts.epochs, "--epochs", 1);
  const seed = int(opts.seed, "--seed", 0);
  const { name, r } = await compileSpec(io, specPath);
  if (!r.ok) return 1;
  const trainable = r.models.filter((m) => m.data && m.train);
  const ir = opts.model ? r.models.find((m) => m.model === opts.model) : trainable.length === 1 ? trainable[0] : undefined;
  if (!ir) {
    if (opts.model) throw new CliError(`${name} has no model ${opts.model}; it has ${r.models.map((m) => m.model).join(", ")}`);
    throw new CliError(trainable.length === 0 ? `${name} has no model with both a data and a train block` : `${name} has several trainable models (${trainable.map((m) => m.model).join(", ")}); choose one with --model`);
  }
  if (!ir.data || !ir.train) throw new CliError(`model ${ir.model} needs a data block and a train block to be trained`);
  const data = ir.data as unknown as DataConfig;
  const allow = opts.allowOutside === true;
  const dataPath = inside(io, opts.data ?? resolve(dirname(resolve(io.cwd, specPath)), data.source.path), allow, "the data file");
  const out = inside(io, opts.out ?? join("runs", ir.model), allow, "the output directory");
  // attnc writes only into its own model directories: never over files it did not write.
  let problem: ReturnType<typeof outDirProblem>;
  try {
    problem = outDirProblem(out);
    if (opts.resume && readManifest(out)) await validateModelDir(out);
  } catch (e) {
    return dataError(e, io);
  }
  if (problem === "file") throw new CliError(`--out ${displayPath(io, out)} is a file, not a directory; choose a directory for the model`);
  if (problem === "foreign" && !opts.force) {
    throw new CliError(`--out ${displayPath(io, out)} holds files that are not an attnc model directory; choose a new or empty directory, or pass --force to train into it anyway (attnc then adds its files and deletes none of the others)`);
  }
  const used = await backend(io, opts.backend);
  const threads = threadCount(io, opts.threads, used);
  if (threads > 1) io.stderr.write(`attnc: training on ${threads} threads (each batch split between them)\n`);
  try {
    const code = await trainSession({
      ir,
      data,
      train: ir.train as unknown as TrainConfig,
      build: (s) => buildModel(ir, s),
      file: { path: dataPath, display: displayPath(io, dataPath) },
      out,
      outDisplay: displayPath(io, out),
      ...(epochs !== undefined ? { epochs } : {}),
      ...(seed !== undefined ? { seed } : {}),
      resume: opts.resume === true,
      stdout: io.stdout,
      stderr: prefixed(io.stderr),
      ...(threads > 1 ? { gradients: (model, vars, train, kind) => DataParallel.start(model, vars, { backend: used, loss: train.loss, kind }) } : {}),
    });
    if (existsSync(join(out, "history.svg"))) pngBeside(join(out, "history.svg"));
    return code;
  } catch (e) {
    return dataError(e, io);
  }
}

/** attnc's own messages on stderr start with "attnc: "; progress and epoch lines are passed as they are. */
function prefixed(out: CliIo["stderr"]): CliIo["stderr"] {
  return {
    isTTY: out.isTTY === true,
    write: (s: string) => out.write(/^(epoch |\r|\n|early stop|restored)/.test(s) ? s : `attnc: ${s}`),
  };
}

/** Loads a model directory after checking it against its schemas; a damaged one is exit 2, and nothing outside it is read. */
async function load(io: CliIo, dir: string, choice: string | undefined): Promise<{ model: tf.LayersModel; meta: ModelMeta; dir: string }> {
  await backend(io, choice);
  const abs = resolve(io.cwd, dir);
  try {
    await validateModelDir(abs);
    const l = await loadModelDir(abs);
    return { model: l.model, meta: l.meta as unknown as ModelMeta, dir: abs };
  } catch (e) {
    return dataError(e, io);
  }
}

export async function evaluateCommand(io: CliIo, dir: string, opts: { data?: string; split?: string; backend?: string; format?: string; baselines?: boolean; season?: string; tolerance?: string; allowOutside?: boolean }): Promise<number> {
  const season = int(opts.season, "--season", 1) ?? null;
  const tolerance = opts.tolerance !== undefined ? Number(opts.tolerance) : null;
  if (tolerance !== null && !(tolerance > 0)) throw new CliError(`--tolerance must be a positive number, not ${JSON.stringify(opts.tolerance)}`);
  const split = (opts.split ?? "test") as Split;
  if (!["train", "validation", "test"].includes(split)) throw new CliError(`--split must be train, validation or test, not ${JSON.stringify(opts.split)}`);
  const { model, meta, dir: abs } = await load(io, dir, opts.backend);
  // The data file attnc.json records is followed only inside the project, like a spec's data path.
  const path = opts.data !== undefined ? resolve(io.cwd, opts.data) : inside(io, resolve(abs, meta.dataPath), opts.allowOutside === true, `the data file recorded in ${displayPath(io, join(abs, "attnc.json"))},`);
  const file: DataFile = { path, display: displayPath(io, path) };
  if (!existsSync(path)) throw new CliError(`cannot read ${file.display}: no such file`, 1);
  try {
    const r = await evaluateSplit(model, meta.data, meta.prep, file, split, meta.train.batch, meta.train.loss, tolerance);
    const baselines: Record<string, RegressionReport> = {};
    if (opts.baselines) {
      if (meta.prep.kind !== "series") throw new CliError("--baselines is for forecasting models");
      const b = await baselineForecasts(meta.data, meta.prep, file, split, season);
      const score = (pred: number[]) => {
        const m = new RegressionMetrics(tolerance);
        m.add(b.truth, pred);
        return m.report();
      };
      baselines["persistence"] = score(b.persistence);
      if (b.seasonal) baselines[`seasonal naive (${season})`] = score(b.seasonal);
    }
    if (opts.format === "json") io.stdout.write(`${JSON.stringify({ split, ...r, ...(opts.baselines ? { baselines } : {}) })}\n`);
    else {
      io.stdout.write(reportText(split, r));
      for (const [name, g] of Object.entries(baselines)) io.stdout.write(`baseline ${name}: RMSE ${g.rmse.toFixed(4)}  MAE ${g.mae.toFixed(4)}  MAPE ${g.mape.toFixed(2)}%${g.within ? `  within ${g.within.tolerance}: ${(100 * g.within.share).toFixed(2)}%` : ""}\n`);
    }
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
function encode(meta: ModelMeta, req: { value: Record<string, unknown>; line: number }, name: string): { x: Int32Array | Float32Array; tokens?: string[]; base: number } {
  const p = meta.prep;
  if (p.kind === "text") {
    const ids = req.value["ids"];
    if (ids !== undefined) {
      // Token ids given directly: each must be a row of the embedding.
      if (!Array.isArray(ids) || ids.length > p.maxLen) throw new CliError(`${name}:${req.line}: "ids" must be a list of at most ${p.maxLen} token ids`, 1);
      const x = new Int32Array(p.maxLen);
      ids.forEach((id: unknown, k) => {
        if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= p.vocab.length) {
          throw new CliError(`${name}:${req.line}: id ${JSON.stringify(id)} at position ${k + 1} is not in the vocabulary (0 to ${p.vocab.length - 1})`, 1);
        }
        x[k] = id;
      });
      return { x, tokens: ids.map((id: number) => p.vocab[id]!), base: 0 };
    }
    const t = req.value[p.textColumn] ?? req.value["text"];
    if (typeof t !== "string") throw new CliError(`${name}:${req.line}: needs a string field ${JSON.stringify(p.textColumn)} (or "text")`, 1);
    return { x: encodeText(p, t), tokens: tokenize(p, t).slice(0, p.maxLen), base: 0 };
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
  return { x: scaleWindow(p, rows), base: p.predict === "delta" ? rows[rows.length - 1]![p.features.indexOf(p.target)]! : 0 };
}

function batchTensor(meta: ModelMeta, xs: (Int32Array | Float32Array)[]): tf.Tensor {
  const p = meta.prep;
  const per = xs[0]!.length;
  const flat = p.kind === "text" ? new Int32Array(xs.length * per) : new Float32Array(xs.length * per);
  xs.forEach((x, i) => flat.set(x, i * per));
  return p.kind === "text" ? tf.tensor2d(flat, [xs.length, per], "int32") : tf.tensor3d(flat, [xs.length, p.window, p.features.length], "float32");
}

function outputRecord(meta: ModelMeta, pred: Float32Array | number[], base: number): Record<string, unknown> {
  const p = meta.prep;
  if (p.kind === "series") return { prediction: unscaleTarget(p, pred[0]!, base) };
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
    rows.forEach((r, k) => io.stdout.write(`${JSON.stringify(outputRecord(meta, r, chunk[k]!.base))}\n`));
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
  // The default lies in the model directory, which is untrusted: its explain/ must be a real directory, not a link out.
  const existing = lstatSync(outDir, { throwIfNoEntry: false });
  if (opts.out === undefined && existing && !existing.isDirectory()) throw new CliError(`damaged model directory ${displayPath(io, abs)}: explain is not a directory (a file or a symbolic link); pass --out for the heatmaps`);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new CliError(`cannot create ${displayPath(io, outDir)}: ${(e as NodeJS.ErrnoException).code === "EEXIST" ? "a file of that name exists" : (e as Error).message}`);
  }
  let index = 0;
  for (const req of reqs) {
    index++;
    const e = encode(meta, req, name);
    const x = batchTensor(meta, [e.x]);
    const outs = ex.predict(x) as tf.Tensor[];
    const record: Record<string, unknown> = { ...outputRecord(meta, outs[0]!.dataSync() as Float32Array, e.base), ...(e.tokens ? { tokens: e.tokens } : {}) };
    const weights: Record<string, unknown> = {};
    attention.forEach((a, k) => {
      const w = (outs[k + 1]!.arraySync() as number[][] | number[][][])[0]!;
      const trimmed = a.kind === "pool" && e.tokens ? (w as number[]).slice(0, Math.max(1, e.tokens.length)) : w;
      weights[a.node] = trimmed;
      const svg = join(outDir, `example-${index}-${a.node}.svg`);
      writeFileAtomic(svg, heatmapFor(meta, a, w as number[] | number[][], e.tokens, index));
      pngBeside(svg);
    });
    record["attention"] = weights;
    io.stdout.write(`${JSON.stringify(record)}\n`);
    tf.dispose([x, ...outs]);
  }
  io.stderr.write(`attnc: heatmaps in ${displayPath(io, outDir)}${renderer ? " (SVG and PNG)" : " (SVG; install rsvg-convert for PNG too)"}\n`);
  return 0;
}


export interface VerifyOptions {
  model?: string;
  steps?: string;
  seed?: string;
  backend?: string;
  keep?: boolean;
}

/** The node_modules directory that holds TensorFlow.js for attnc, which the generated program will use too. */
function modulesDir(): string {
  const entry = createRequire(import.meta.url).resolve("@tensorflow/tfjs");
  const at = entry.lastIndexOf(`${sep}node_modules${sep}`);
  if (at < 0) throw new Error(`@tensorflow/tfjs resolved outside node_modules: ${entry}`);
  return entry.slice(0, at + `${sep}node_modules`.length);
}

async function predictionsOn(model: tf.LayersModel, meta: ModelMeta, file: DataFile): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for await (const b of batches(examples(meta.data, meta.prep, file, "test"), meta.prep, meta.train.batch)) {
    const p = model.predict(b.x) as tf.Tensor;
    out.push(p.dataSync() as Float32Array);
    tf.dispose([p, b.x, b.y]);
  }
  return out;
}

function largest(a: Float32Array[], b: Float32Array[]): { diff: number; at: number } {
  if (a.length !== b.length) return { diff: Infinity, at: -1 };
  let diff = 0;
  let at = -1;
  a.forEach((x, i) => {
    const y = b[i]!;
    if (y.length !== x.length) throw new Error("verify: shapes differ");
    for (let k = 0; k < x.length; k++) {
      const d = Math.abs(x[k]! - y[k]!);
      if (d > diff || Number.isNaN(d)) {
        diff = Number.isNaN(d) ? Infinity : d;
        at = i;
      }
    }
  });
  return { diff, at };
}

/**
 * Trains each model N steps in process and through its generated program, on the same backend with one seed,
 * and compares the weights and the test-split predictions (equal within 1e-6).
 */
export async function verifyCommand(io: CliIo, specPath: string, opts: VerifyOptions): Promise<number> {
  const steps = int(opts.steps, "--steps", 1) ?? 20;
  const seed = int(opts.seed, "--seed", 0);
  const { name, text, r } = await compileSpec(io, specPath);
  if (!r.ok) return 1;
  const models = r.models.filter((m) => m.data && m.train && (!opts.model || m.model === opts.model));
  if (models.length === 0) throw new CliError(opts.model ? `${name} has no trainable model ${opts.model}` : `${name} has no model with both a data and a train block`);
  const used = await backend(io, opts.backend);
  const runtime = combineRuntime(runtimeFiles());
  const specAbs = resolve(io.cwd, specPath);
  const quiet = { write: () => true, isTTY: false };
  let failed = 0;
  for (const ir of models) {
    const tmp = mkdtempSync(join(tmpdir(), "attnc-verify-"));
    try {
      const data = ir.data as unknown as DataConfig;
      const train = ir.train as unknown as TrainConfig;
      const dataAbs = resolve(dirname(specAbs), data.source.path);
      const file: DataFile = { path: dataAbs, display: displayPath(io, dataAbs) };
      const program = await formatTypeScript(emitProgram(ir, { specPath: specAbs, specHash: createHash("sha256").update(text).digest("hex"), dataPath: dataAbs, runtime }));
      const { transform } = await import("esbuild");
      const js = await transform(program, { loader: "ts", format: "esm", target: "node20" });
      writeFileSync(join(tmp, `${ir.model}.mjs`), js.code);
      symlinkSync(modulesDir(), join(tmp, "node_modules"), "dir");
      const runSeed = seed ?? train.seed;
      const child = spawnSync(process.execPath, [join(tmp, `${ir.model}.mjs`), "--data", dataAbs, "--out", join(tmp, "program"), "--steps", String(steps), "--seed", String(runSeed), "--backend", used === "tensorflow" ? "node" : used], { cwd: tmp, encoding: "utf8" });
      if (child.status !== 0) {
        io.stderr.write(`attnc: verify ${ir.model}: the generated program failed (exit ${String(child.status)}):\n${child.stderr}`);
        failed++;
        continue;
      }
      try {
        await trainSession({ ir, data, train, build: (s) => buildModel(ir, s), file, out: join(tmp, "attnc"), outDisplay: "attnc", steps, seed: runSeed, resume: false, stdout: quiet, stderr: quiet });
      } catch (e) {
        return dataError(e);
      }
      const a = await loadModelDir(join(tmp, "attnc"));
      const b = await loadModelDir(join(tmp, "program"));
      const wa = a.model.getWeights().map((w) => w.dataSync() as Float32Array);
      const wb = b.model.getWeights().map((w) => w.dataSync() as Float32Array);
      const w = largest(wa, wb);
      const names = a.model.weights.map((x) => x.originalName);
      const p = largest(await predictionsOn(a.model, a.meta as unknown as ModelMeta, file), await predictionsOn(b.model, b.meta as unknown as ModelMeta, file));
      const ok = w.diff <= 1e-6 && p.diff <= 1e-6;
      if (!ok) failed++;
      io.stdout.write(
        `${ok ? "ok" : "MISMATCH"} ${ir.model}: ${steps} steps on ${used}, seed ${runSeed}; largest weight difference ${w.diff.toExponential(2)}${w.at >= 0 ? ` (${names[w.at]})` : ""}, largest test prediction difference ${p.diff.toExponential(2)}\n`,
      );
    } finally {
      if (!opts.keep) rmSync(tmp, { recursive: true, force: true });
      else io.stderr.write(`attnc: kept ${tmp}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}
