/**
 * train, evaluate, predict, explain: the commands that load TensorFlow.js. main.ts imports this module only
 * when one of them runs, so that check/build/fmt/inspect start fast.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { emitProgram, RUNTIME_MODULE } from "../codegen/emit.js";
import { formatTypeScript } from "../codegen/format.js";
import { runtimeModule } from "./commands.js";
import * as tf from "@tensorflow/tfjs";
import { compile } from "../compile.js";
import type { IrModel } from "../ir/types.js";
import { renderDiagnostics } from "../diagnostics/render.js";
import { buildModel, type AttentionOutput } from "../engine/build-model.js";
import { selectBackend, BackendError, type BackendChoice } from "../runtime/backend.js";
import { DataError } from "../runtime/csv.js";
import { mapeText } from "../runtime/metrics.js";
import { baselineAdvice, baselineLabel, baselineReports, baselinesBetter, seasonFromTime, seasonText } from "../runtime/baselines.js";
import { batches, examples, type DataFile } from "../runtime/data.js";
import type { SeasonInfo, Split } from "../runtime/prep.js";
import { registerKernels } from "../runtime/kernels.js";
import { LayerConfigError } from "../runtime/layer-common.js";
import { registerLayers } from "../runtime/layers.js";
import { DataParallel } from "../runtime/parallel.js";
import { loadModelDir, outDirProblem, readDirFiles, readManifest, writeFileAtomic } from "../runtime/modeldir.js";
import { ModelDirError, modelFromFiles } from "../runtime/modeldir-format.js";
import { loadDirValidators, validateModelDir } from "../modeldir/validate.js";
import { checkDirFiles } from "../modeldir/schemas.js";
import { AttncModel } from "../api/model.js";
import { heatmapSvg } from "../runtime/plots.js";
import { printable } from "../runtime/progress.js";
import { reportText, RunError, trainSession, type ModelMeta as RunMeta } from "../runtime/session.js";
import { evaluateSplit } from "../runtime/train.js";
import { safeFileName } from "../runtime/paths.js";
import { CliError, displayPath, readText, type CliIo } from "./io.js";
import { checkDirTarget, dataFile, ioError, makeDir, within, writing } from "./paths.js";
import { openRequests, type RequestLine } from "./requests.js";
import { tailRequests, withAfter, type TailOptions } from "./predict-csv.js";

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
  if (r.diagnostics.length > 0)
    io.stderr.write(renderDiagnostics(r.diagnostics, io.stderr.isTTY ? "pretty" : "plain", new Map([[name, text]]), { color: false }));
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
    throw new CliError(
      trainable.length === 0
        ? `${name} has no model with both a data and a train block`
        : `${name} has several trainable models (${trainable.map((m) => m.model).join(", ")}); choose one with --model`,
    );
  }
  if (!ir.data || !ir.train) throw new CliError(`model ${ir.model} needs a data block and a train block to be trained`);
  const data = ir.data;
  const allow = opts.allowOutside === true;
  const dataPath = dataFile(io, opts.data ?? resolve(dirname(resolve(io.cwd, specPath)), data.source.path), allow);
  const out = within(io, opts.out ?? join("runs", ir.model), "the output directory", allow);
  checkDirTarget(io, out);
  // attnc writes only into its own model directories: never over files it did not write.
  let problem: ReturnType<typeof outDirProblem>;
  try {
    problem = outDirProblem(out);
    if (opts.resume && readManifest(out)) await validateModelDir(out);
  } catch (e) {
    return dataError(e, io);
  }
  if (problem === "file") throw new CliError(`cannot write ${displayPath(io, out)}: it is a file, not a directory`);
  if (problem === "foreign" && !opts.force) {
    throw new CliError(
      `--out ${displayPath(io, out)} holds files that are not an attnc model directory; choose a new or empty directory, or pass --force to train into it anyway (attnc then adds its files and deletes none of the others)`,
    );
  }
  const used = await backend(io, opts.backend);
  const threads = threadCount(io, opts.threads, used);
  if (threads > 1) io.stderr.write(`attnc: training on ${threads} threads (each batch split between them)\n`);
  try {
    const code = await trainSession({
      ir,
      data,
      train: ir.train,
      build: (s) => buildModel(ir, s),
      file: { path: dataPath, display: displayPath(io, dataPath) },
      out,
      outDisplay: displayPath(io, out),
      ...(epochs !== undefined ? { epochs } : {}),
      ...(seed !== undefined ? { seed } : {}),
      resume: opts.resume === true,
      stdout: io.stdout,
      stderr: prefixed(io.stderr),
      ...(threads > 1
        ? { gradients: (model, vars, train, kind, scales) => DataParallel.start(model, vars, { backend: used, loss: train.loss, kind, scales }) }
        : {}),
    });
    // Only a new or changed chart is drawn: a run that finished already (train --resume, compare) rewrites nothing.
    const chart = join(out, "history.svg");
    const png = statSync(join(out, "history.png"), { throwIfNoEntry: false });
    const svg = statSync(chart, { throwIfNoEntry: false });
    if (svg && !(png && png.mtimeMs >= svg.mtimeMs)) pngBeside(chart);
    return code;
  } catch (e) {
    return dataError(ioError(io, e, out), io);
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
async function load(
  io: CliIo,
  dir: string,
  choice: string | undefined,
  allowOutside: boolean | undefined,
): Promise<{ model: tf.LayersModel; meta: ModelMeta; dir: string }> {
  const abs = within(io, dir, "the model directory", allowOutside);
  await backend(io, choice);
  try {
    // Each file is read once, checked against its schema and the others, then built.
    const files = readDirFiles(abs);
    checkDirFiles(await loadDirValidators(), files);
    const l = await modelFromFiles(files);
    return { model: l.model, meta: l.meta as unknown as ModelMeta, dir: abs };
  } catch (e) {
    if (e instanceof LayerConfigError) throw new CliError(`${displayPath(io, join(dir, "model.json"))}: ${e.message}; the model directory is damaged`, 2);
    return dataError(ioError(io, e, dir), io);
  }
}

/** A model directory for `attnc serve`: the same path rule and checks as predict, as the library's model. */
export async function loadServed(io: CliIo, dir: string, choice: string | undefined, allowOutside: boolean | undefined): Promise<AttncModel> {
  return new AttncModel(await load(io, dir, choice, allowOutside));
}

export async function evaluateCommand(
  io: CliIo,
  dir: string,
  opts: { data?: string; split?: string; backend?: string; format?: string; baselines?: boolean; season?: string; tolerance?: string; allowOutside?: boolean },
): Promise<number> {
  const season = int(opts.season, "--season", 1) ?? null;
  if (season !== null && season > 1_000_000) throw new CliError(`--season must be at most 1000000 steps, not ${season}`);
  const tolerance = opts.tolerance !== undefined ? Number(opts.tolerance) : null;
  if (tolerance !== null && !(tolerance > 0)) throw new CliError(`--tolerance must be a positive number, not ${JSON.stringify(opts.tolerance)}`);
  const split = (opts.split ?? "test") as Split;
  if (!["train", "validation", "test"].includes(split)) throw new CliError(`--split must be train, validation or test, not ${JSON.stringify(opts.split)}`);
  const { model, meta, dir: abs } = await load(io, dir, opts.backend, opts.allowOutside);
  const path = dataFile(io, opts.data !== undefined ? resolve(io.cwd, opts.data) : resolve(abs, String(meta.dataPath)), opts.allowOutside);
  const file: DataFile = { path, display: displayPath(io, path) };
  if (!existsSync(path)) throw new CliError(`cannot read ${file.display}: no such file`, 1);
  try {
    const r = await evaluateSplit(model, meta.data, meta.prep, file, split, meta.train.batch, meta.train.loss, tolerance);
    const prep = meta.prep;
    // Splits are cut by the row count of the file the model was trained on; a shorter file may leave this one empty.
    const count = r.regression?.count ?? r.classification?.count ?? 0;
    if (count === 0)
      throw new CliError(
        `${file.display}: the ${split} split has no ${prep.kind === "series" ? "windows" : "examples"} to score (the model's splits were cut for ${prep.rows} rows)`,
        1,
      );
    if (prep.kind !== "series" || !r.regression) {
      if (opts.format === "json") io.stdout.write(`${JSON.stringify({ split, ...r })}\n`);
      else io.stdout.write(reportText(split, r));
      return 0;
    }
    // The season: the spec's, else --season, else the one recorded at training (from the time column).
    const spec = meta.data.window?.season;
    if (spec !== undefined && season !== null && season !== spec) io.stderr.write(`attnc: the spec gives season ${spec}; --season ${season} is not used\n`);
    const used: SeasonInfo | { period: number; source: "option" } =
      spec !== undefined
        ? { period: spec, source: "spec" }
        : season !== null
          ? { period: season, source: "option" }
          : (prep.season ?? (await seasonFromTime(meta.data, prep, file)));
    const b = await baselineReports(meta.data, prep, file, split, used.period, tolerance);
    const better = baselinesBetter(r.regression.rmse, b);
    if (opts.format === "json")
      io.stdout.write(
        `${JSON.stringify({ split, ...r, baselines: b.reports, season: used, baseline_notes: b.notes, worse_than: better.map((w) => w.name) })}\n`,
      );
    else {
      io.stdout.write(reportText(split, r));
      io.stdout.write(`baselines on the same ${r.regression.count} ${split} windows; ${seasonText(used)}:\n`);
      const rows = Object.entries(b.reports).map(([name, g]) => [name, baselineLabel(name, g), g] as const);
      const w = Math.max(0, ...rows.map(([, l]) => l.length));
      for (const [name, label, g] of rows)
        io.stdout.write(
          `  ${label.padEnd(w)}  RMSE ${g.rmse.toFixed(4)}  MAE ${g.mae.toFixed(4)}  ${mapeText(g)}${g.within ? `  within ${g.within.tolerance}: ${(100 * g.within.share).toFixed(2)}%` : ""}${better.some((x) => x.name === name) ? "  <- better than the model" : ""}\n`,
        );
      for (const n of b.notes) io.stdout.write(`  (${n})\n`);
      const outputs = r.regression.outputs;
      if (outputs && rows.length > 0) {
        // The model's RMSE beside each baseline's, output by output.
        const names = outputs.map((o) => printable(o.target));
        const w = Math.max(6, ...names.map((n) => n.length));
        const cols = ["model", ...rows.map(([name]) => name)];
        const widths = cols.map((c) => Math.max(10, c.length));
        io.stdout.write(`RMSE per step and target (${split}):\n`);
        io.stdout.write(`  ${"step".padStart(4)}  ${"target".padEnd(w)}  ${cols.map((c, i) => c.padStart(widths[i]!)).join("  ")}\n`);
        outputs.forEach((o, k) => {
          const values = [o.rmse, ...rows.map(([, , g]) => g.outputs?.[k]?.rmse)];
          io.stdout.write(
            `  ${String(o.step).padStart(4)}  ${names[k]!.padEnd(w)}  ${values.map((v, i) => (v === undefined ? "" : v.toFixed(4)).padStart(widths[i]!)).join("  ")}\n`,
          );
        });
      }
      if (rows.length > 0)
        io.stdout.write(
          better.length > 0
            ? `the model is worse than a baseline: ${split} RMSE ${r.regression.rmse.toFixed(4)} against ${better.map((x) => `${x.label} ${x.rmse.toFixed(4)}`).join(", ")}; ${baselineAdvice(
                prep,
                better.map((x) => x.name),
              )}\n`
            : `the model beats every baseline on ${split} RMSE\n`,
        );
    }
    return 0;
  } catch (e) {
    return dataError(e);
  }
}

/**
 * A bad request line: a located message on stderr, and an error record in its place on stdout, so that a
 * program that writes one request and waits for one answer is never left waiting.
 */
function reportBad(io: CliIo, name: string, line: number, detail: string): void {
  const message = `${name}:${line}: ${detail}`;
  io.stderr.write(`attnc: ${printable(message)}\n`);
  io.stdout.write(`${JSON.stringify({ line, error: message })}\n`);
}

/**
 * Answers JSONL requests as they arrive: whatever lines are waiting (up to 64) go through the model as one
 * batch and each answer is written at once. A bad line gets a located error and the run goes on; the exit code
 * is then 1. A line over 1 MiB stops the run (exit 1); an unreadable input, exit 2.
 */
export async function predictCommand(io: CliIo, dir: string, opts: TailOptions & { backend?: string }): Promise<number> {
  const tail = tailRequests(io, opts);
  const reader = tail ?? openRequests(io, opts.input!, opts.allowOutside);
  let loaded: Awaited<ReturnType<typeof load>>;
  try {
    loaded = await load(io, dir, opts.backend, opts.allowOutside);
  } catch (e) {
    reader.close();
    throw e;
  }
  const model = new AttncModel(loaded);
  await tail?.read(model.meta);
  let bad = 0;
  for (;;) {
    const reqs: RequestLine[] = await reader.next(64);
    if (reqs.length === 0) break;
    // A line that is not JSON has no value to answer; the others go through the model as one batch.
    const values = reqs.flatMap((r) => ("error" in r ? [] : [r.value]));
    const answers = await model.answer(values);
    let k = 0;
    for (const r of reqs) {
      const a = "error" in r ? { error: r.error } : answers[k++]!;
      if ("error" in a) {
        bad++;
        reportBad(io, reader.name, r.line, a.error);
      } else io.stdout.write(`${JSON.stringify(withAfter(a, r))}\n`);
    }
  }
  return bad > 0 ? 1 : 0;
}

function heatmapFor(meta: ModelMeta, a: AttentionOutput, w: number[] | number[][], tokens: string[] | undefined, index: number): string {
  const p = meta.prep;
  const steps = (n: number) => Array.from({ length: n }, (_, i) => `t${i + 1}`);
  if (a.kind === "pool") {
    const v = w as number[];
    const labels = tokens ? [...tokens, ...Array<string>(Math.max(0, v.length - tokens.length)).fill("<pad>")] : steps(v.length);
    const n = tokens ? Math.max(1, tokens.length) : v.length;
    return heatmapSvg({
      title: `${meta.model} example ${index}: ${a.node} weights over ${tokens ? "tokens" : "steps"}`,
      values: [v.slice(0, n)],
      rowLabels: [a.node],
      colLabels: labels.slice(0, n),
      rowAxis: "",
      colAxis: tokens ? "token" : "step",
    });
  }
  const m = w as number[][];
  if (a.kind === "temporal")
    return heatmapSvg({
      title: `${meta.model} example ${index}: ${a.node} temporal attention`,
      values: m,
      rowLabels: steps(m.length),
      colLabels: steps(m[0]!.length),
      rowAxis: "LSTM step t",
      colAxis: "window position i",
    });
  return heatmapSvg({
    title: `${meta.model} example ${index}: ${a.node} feature attention`,
    values: m,
    rowLabels: steps(m.length),
    colLabels: p.kind === "series" ? p.features : steps(m[0]!.length),
    rowAxis: "LSTM step t",
    colAxis: "driving series k",
  });
}

/** Like predict (one request at a time), with the attention weights and a heatmap per answered request. */
export async function explainCommand(io: CliIo, dir: string, opts: { input: string; out?: string; backend?: string; allowOutside?: boolean }): Promise<number> {
  // The default lies in the model directory, which is untrusted: its explain/ must be a real directory, not a link.
  const planted = opts.out === undefined ? lstatSync(join(resolve(io.cwd, dir), "explain"), { throwIfNoEntry: false }) : undefined;
  if (planted && !planted.isDirectory())
    throw new CliError(`damaged model directory ${displayPath(io, dir)}: explain is not a directory (a file or a symbolic link); pass --out for the heatmaps`);
  const outDir = within(io, opts.out ?? join(resolve(io.cwd, dir), "explain"), "the output directory", opts.allowOutside);
  checkDirTarget(io, outDir);
  const reader = openRequests(io, opts.input, opts.allowOutside);
  let loaded: Awaited<ReturnType<typeof load>>;
  try {
    loaded = await load(io, dir, opts.backend, opts.allowOutside);
  } catch (e) {
    reader.close();
    throw e;
  }
  const model = new AttncModel(loaded);
  const meta = model.meta;
  if (model.attention.length === 0) {
    reader.close();
    // Asking a model without attention for its attention is a usage mistake (exit 2), as `attnc serve` answers 400.
    throw new CliError(`model ${meta.model} has no attention layer to explain`);
  }
  makeDir(io, outDir);
  let index = 0;
  let bad = 0;
  for (;;) {
    const reqs = await reader.next(1);
    if (reqs.length === 0) break;
    const req = reqs[0]!;
    index++;
    const a = "error" in req ? { error: req.error } : (await model.explainEach([req.value]))[0]!;
    if ("error" in a) {
      bad++;
      reportBad(io, reader.name, req.line, a.error);
      continue;
    }
    for (const at of model.attention) {
      // Node names come from the model directory: only safe characters reach the file name.
      const svg = join(outDir, `example-${index}-${safeFileName(at.node)}.svg`);
      writing(io, svg, () => writeFileAtomic(svg, heatmapFor(meta, at, a.attention[at.node]!, a.tokens, index)));
      pngBeside(svg);
    }
    io.stdout.write(`${JSON.stringify(a)}\n`);
  }
  io.stderr.write(`attnc: heatmaps in ${displayPath(io, outDir)}${renderer ? " (SVG and PNG)" : " (SVG; install rsvg-convert for PNG too)"}\n`);
  return bad > 0 ? 1 : 0;
}

export interface VerifyOptions {
  model?: string;
  steps?: string;
  seed?: string;
  backend?: string;
  keep?: boolean;
  allowOutside?: boolean;
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
  if (models.length === 0)
    throw new CliError(opts.model ? `${name} has no trainable model ${opts.model}` : `${name} has no model with both a data and a train block`);
  const specAbs = resolve(io.cwd, specPath);
  const dataPaths = new Map(models.map((ir) => [ir.model, dataFile(io, resolve(dirname(specAbs), ir.data!.source.path), opts.allowOutside)]));
  const used = await backend(io, opts.backend);
  const quiet = { write: () => true, isTTY: false };
  let failed = 0;
  for (const ir of models) {
    const tmp = mkdtempSync(join(tmpdir(), "attnc-verify-"));
    try {
      const data = ir.data!;
      const train = ir.train!;
      const dataAbs = dataPaths.get(ir.model)!;
      const file: DataFile = { path: dataAbs, display: displayPath(io, dataAbs) };
      const program = await formatTypeScript(
        emitProgram(ir, { specPath: specAbs, specHash: createHash("sha256").update(text).digest("hex"), dataPath: dataAbs }),
      );
      const { transform } = await import("esbuild");
      // The program and the runtime module as ES modules, under the names the program imports.
      writeFileSync(join(tmp, "package.json"), '{ "type": "module" }\n');
      writeFileSync(join(tmp, `${ir.model}.js`), (await transform(program, { loader: "ts", format: "esm", target: "node20" })).code);
      writeFileSync(
        join(tmp, RUNTIME_MODULE.replace(/\.ts$/, ".js")),
        (await transform(runtimeModule(), { loader: "ts", format: "esm", target: "node20" })).code,
      );
      symlinkSync(modulesDir(), join(tmp, "node_modules"), "dir");
      const runSeed = seed ?? train.seed;
      // The program runs in the temporary directory; the data path it gets was checked above.
      const child = spawnSync(
        process.execPath,
        [
          join(tmp, `${ir.model}.js`),
          "--data",
          dataAbs,
          "--out",
          join(tmp, "program"),
          "--steps",
          String(steps),
          "--seed",
          String(runSeed),
          "--backend",
          used === "tensorflow" ? "node" : used,
          "--allow-outside",
        ],
        { cwd: tmp, encoding: "utf8" },
      );
      if (child.status !== 0) {
        io.stderr.write(`attnc: verify ${ir.model}: the generated program failed (exit ${String(child.status)}):\n${child.stderr}`);
        failed++;
        continue;
      }
      try {
        await trainSession({
          ir,
          data,
          train,
          build: (s) => buildModel(ir, s),
          file,
          out: join(tmp, "attnc"),
          outDisplay: "attnc",
          steps,
          seed: runSeed,
          resume: false,
          stdout: quiet,
          stderr: quiet,
        });
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
