/**
 * A whole training run, as `attnc train` and the generated programs both perform it: fit or resume, build,
 * train with checkpoints, report. Only Node built-ins and tfjs.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type * as tf from "@tensorflow/tfjs";
import { baselineAdvice, baselineReports, baselinesBetter, fitSeason } from "./baselines.js";
import { fit, type DataConfig, type DataFile } from "./data.js";
import { type Prep } from "./prep.js";
import { fingerprintDifferences, fingerprintHash, recordedFingerprint, specFingerprint, type FingerprintIr, type SpecFingerprint } from "./fingerprint.js";
import { loadModelDir, loadOptimizerState, readManifest, writeFileAtomic } from "./modeldir.js";
import { isRecord, type TrainState } from "./modeldir-format.js";
import { LayerConfigError } from "./layer-common.js";
import { historySvg } from "./plots.js";
import { printable, Progress, type Out } from "./progress.js";
import { mapeText } from "./metrics.js";
import { evaluateSplit, makeOptimizer, outputScales, trainLoop, type GradientSource, type SplitReport, type TrainConfig } from "./train.js";

/** A problem the user can act on, with the exit code it should give (1: input, 2: usage). */
export class RunError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The parts of the IR a run reads. */
export interface RunIr extends FingerprintIr {
  model: string;
  outputs: readonly string[];
  nodes: readonly { name: string; op: string; inputs: readonly string[]; attrs: unknown; shape?: readonly (number | string)[] }[];
}

/** attnc.json: what a model directory says about itself. */
export interface ModelMeta {
  format: 1;
  model: string;
  task: "text" | "series";
  seed: number;
  /** The data file, relative to the model directory. */
  dataPath: string;
  ir: RunIr;
  data: DataConfig;
  train: TrainConfig;
  prep: Prep;
  /** The spec's fingerprint (see fingerprint.ts): --resume continues only the model it describes. */
  fingerprint?: SpecFingerprint;
}

export interface SessionOptions {
  ir: RunIr;
  data: DataConfig;
  train: TrainConfig;
  /** Builds the model with a seed (fresh weights). */
  build: (seed: number) => tf.LayersModel;
  file: DataFile;
  out: string;
  outDisplay: string;
  epochs?: number;
  seed?: number;
  /** Stop after this many training batches (for verification). */
  steps?: number;
  /** Where batch gradients come from (attnc train splits batches between threads); by default this thread. */
  gradients?: (
    model: tf.LayersModel,
    vars: tf.Variable[],
    train: TrainConfig,
    kind: "text" | "series",
    scales: number[] | null,
  ) => GradientSource & { close(): Promise<void> };
  resume: boolean;
  stdout: Out;
  stderr: Out;
}

/** The data's labels must fit the model's output (known only once the data is read). */
export function checkOutput(ir: RunIr, prep: Prep, file: DataFile): void {
  if (prep.kind !== "text") return;
  const out = ir.nodes.find((n) => n.name === ir.outputs[ir.outputs.length - 1]);
  const units = out?.shape?.[out.shape.length - 1];
  const k = prep.labels.length;
  if (units === 1 && k !== 2)
    throw new RunError(`output ${out!.name} of model ${ir.model} is a single sigmoid unit, but ${file.display} has ${k} labels (${prep.labels.join(", ")})`);
  if (typeof units === "number" && units !== 1 && units !== k) {
    throw new RunError(
      `output ${out!.name} of model ${ir.model} has ${units} classes, but ${file.display} has ${k} labels in its training split (${prep.labels.join(", ")}); use dense(${k}, activation: softmax)`,
    );
  }
}

export function reportText(split: string, r: SplitReport): string {
  const lines = [`${split} loss ${r.loss.toFixed(4)}`];
  if (r.classification) {
    const c = r.classification;
    lines.push(`${split} accuracy ${c.accuracy.toFixed(4)}  macro F1 ${c.macro_f1.toFixed(4)}  (${c.count} examples)`);
    const labels = c.labels.map(printable);
    const w = Math.max(6, ...labels.map((l) => l.length));
    lines.push("confusion (rows: true label, columns: predicted)");
    lines.push(`${"".padEnd(w)}  ${labels.map((l) => l.padStart(w)).join("  ")}`);
    c.confusion.forEach((row, i) => lines.push(`${labels[i]!.padEnd(w)}  ${row.map((v) => String(v).padStart(w)).join("  ")}`));
  }
  if (r.regression) {
    const g = r.regression;
    const several = g.outputs !== undefined;
    lines.push(
      `${split} RMSE ${g.rmse.toFixed(4)}  MAE ${g.mae.toFixed(4)}  ${mapeText(g)}  (${g.count} windows${several ? `, ${g.outputs!.length} outputs each` : ""})`,
    );
    if (g.within) lines.push(`${split} within ${g.within.tolerance}: ${(100 * g.within.share).toFixed(2)}% of ${several ? "forecasts" : "windows"}`);
    if (g.outputs) {
      const names = g.outputs.map((o) => printable(o.target));
      const w = Math.max(6, ...names.map((n) => n.length));
      lines.push(`per step and target (${split}):`);
      lines.push(`  ${"step".padStart(4)}  ${"target".padEnd(w)}  ${"RMSE".padStart(10)}  ${"MAE".padStart(10)}  MAPE`);
      g.outputs.forEach((o, i) =>
        lines.push(
          `  ${String(o.step).padStart(4)}  ${names[i]!.padEnd(w)}  ${o.rmse.toFixed(4).padStart(10)}  ${o.mae.toFixed(4).padStart(10)}  ${o.mape === undefined ? "n/a" : `${o.mape.toFixed(2)}%`}`,
        ),
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Before anything is loaded or read for --resume: the checkpoint must be of the spec's model (its recorded
 * fingerprint equals the spec's), and a --seed must be the run's. Returns the run's seed, which a resumed run
 * keeps when --seed is not given.
 */
function checkResumable(o: SessionOptions, current: SpecFingerprint): number | undefined {
  let meta: unknown;
  try {
    meta = JSON.parse(readFileSync(join(o.out, "attnc.json"), "utf8"));
  } catch {
    meta = undefined;
  }
  if (!isRecord(meta)) throw new RunError(`${o.outDisplay}/attnc.json is missing or not valid JSON: the model directory is damaged`, 2);
  let recorded = recordedFingerprint(meta);
  let fields = current.fields;
  let hash = current.hash;
  if (!recorded) {
    // A checkpoint from before fingerprints were recorded: its own IR, data and train settings give one. Its train
    // settings hold the run's seed rather than the spec's, so the seed is left to the check below.
    const ir = meta["ir"];
    if (
      !isRecord(ir) ||
      typeof ir["model"] !== "string" ||
      !Array.isArray(ir["nodes"]) ||
      !Array.isArray(ir["outputs"]) ||
      !ir["nodes"].every((n) => isRecord(n) && typeof n["name"] === "string")
    ) {
      throw new RunError(`${o.outDisplay}/attnc.json does not describe a model: the model directory is damaged`, 2);
    }
    const old = specFingerprint(ir as unknown as FingerprintIr, isRecord(meta["data"]) ? meta["data"] : {}, isRecord(meta["train"]) ? meta["train"] : {});
    delete old.fields["train: seed"];
    fields = { ...current.fields };
    delete fields["train: seed"];
    recorded = { hash: fingerprintHash(old.fields), fields: old.fields };
    hash = fingerprintHash(fields);
  }
  if (recorded.hash !== hash) {
    const model = recorded.fields["model"];
    if (model !== fields["model"])
      throw new RunError(
        `cannot resume ${o.outDisplay}: it holds model ${String(model)}, not ${String(fields["model"])}; train ${String(fields["model"])} into a new --out directory`,
        2,
      );
    const diffs = fingerprintDifferences(recorded.fields, fields);
    const named =
      diffs.length === 0
        ? "its recorded fingerprint differs from the spec's"
        : `${diffs.slice(0, 3).join("; ")}${diffs.length > 3 ? `; and ${diffs.length - 3} more` : ""}`;
    throw new RunError(`cannot resume ${o.outDisplay}: its checkpoint is of another model or other settings (${named}); train into a new --out directory`, 2);
  }
  const seed = typeof meta["seed"] === "number" ? meta["seed"] : undefined;
  if (o.seed !== undefined && seed !== undefined && o.seed !== seed)
    throw new RunError(`cannot resume ${o.outDisplay} with --seed ${o.seed}: it was trained with seed ${seed}`, 2);
  return seed;
}

/**
 * After a forecaster's training: a warning on stderr when its validation RMSE is worse than a baseline's on the
 * same validation windows (baselines.ts), with what to try.
 */
async function warnIfBaselinesBetter(o: SessionOptions, model: tf.LayersModel, train: TrainConfig, prep: Prep): Promise<void> {
  if (prep.kind !== "series" || prep.counts.validation === 0) return;
  const r = (await evaluateSplit(model, o.data, prep, o.file, "validation", train.batch, train.loss)).regression;
  if (!r) return;
  const season = prep.season ?? (await fitSeason(o.data, prep, o.file));
  const better = baselinesBetter(r.rmse, await baselineReports(o.data, prep, o.file, "validation", season.period));
  if (better.length === 0) return;
  o.stderr.write(
    `warning: validation RMSE ${r.rmse.toFixed(4)} is worse than ${better.map((b) => `${b.label} (${b.rmse.toFixed(4)})`).join(", ")}; ${baselineAdvice(
      prep,
      better.map((b) => b.name),
    )}\n`,
  );
}

/** Trains as the options say; returns the exit code (0 done, 1 diverged, 130 interrupted). */
export async function trainSession(o: SessionOptions): Promise<number> {
  if (!existsSync(o.file.path)) throw new RunError(`cannot read ${o.file.display}: no such file`);
  const manifest = readManifest(o.out);
  if (manifest && !o.resume) throw new RunError(`${o.outDisplay} already holds a model; pass --resume to continue it or --out for a new directory`, 2);
  if (!manifest && o.resume && existsSync(o.out)) o.stderr.write(`${o.outDisplay} has no complete checkpoint yet; starting from the beginning\n`);
  const fingerprint = specFingerprint(o.ir, o.data, o.train);
  const runSeed = manifest && o.resume ? checkResumable(o, fingerprint) : undefined;
  const seed = o.seed ?? runSeed;
  const train: TrainConfig = { ...o.train, ...(seed !== undefined ? { seed } : {}) };
  const epochs = o.epochs ?? train.epochs;
  let model: tf.LayersModel;
  let meta: ModelMeta;
  let state: TrainState;
  const optimizer = makeOptimizer(train.optimizer);
  if (manifest && o.resume) {
    let loaded: Awaited<ReturnType<typeof loadModelDir>>;
    try {
      loaded = await loadModelDir(o.out);
    } catch (e) {
      if (e instanceof LayerConfigError) throw new RunError(`${o.outDisplay}/model.json: ${e.message}; the model directory is damaged`, 2);
      throw e;
    }
    model = loaded.model;
    meta = loaded.meta as unknown as ModelMeta;
    state = loaded.state;
    if (state.done && (state.stopReason !== undefined || state.epoch >= epochs)) {
      o.stderr.write(`${o.outDisplay} finished training already (epoch ${state.epoch}${state.stopReason ? `; ${state.stopReason}` : ""})\n`);
      o.stdout.write(`model saved in ${o.outDisplay}\n`);
      if (state.test) o.stdout.write(reportText("test", state.test as SplitReport));
      return 0;
    }
    state.done = false;
    meta.fingerprint = fingerprint;
    if (state.best && (meta.train.early_stop?.monitor ?? null) !== (train.early_stop?.monitor ?? null)) {
      o.stderr.write(
        `early stopping now watches ${train.early_stop?.monitor ?? "nothing"} instead of ${meta.train.early_stop?.monitor ?? "nothing"}; its best value starts afresh\n`,
      );
      state.best = null;
      state.wait = 0;
    }
    const before = meta.train.optimizer?.kind ?? "adam";
    const now = train.optimizer?.kind ?? "adam";
    if (before === now) await loadOptimizerState(o.out, loaded.manifest, optimizer, model);
    else o.stderr.write(`the optimizer changed from ${before} to ${now} since the checkpoint; its state starts afresh\n`);
    // attnc.json describes the run as it continues (its fingerprinted settings are the same).
    meta.train = train;
    o.stderr.write(`resuming ${o.ir.model} after epoch ${state.epoch}${state.batch ? `, batch ${state.batch}` : ""}\n`);
  } else {
    const prep = await fit(o.data, o.file);
    checkOutput(o.ir, prep, o.file);
    if (prep.kind === "series") prep.season = await fitSeason(o.data, prep, o.file);
    model = o.build(train.seed);
    meta = {
      format: 1,
      model: o.ir.model,
      task: prep.kind,
      seed: train.seed,
      dataPath: relative(o.out, o.file.path).split(sep).join("/"),
      ir: o.ir,
      data: o.data,
      train,
      prep,
      fingerprint,
    };
    state = { epoch: 0, batch: 0, history: [], best: null, wait: 0, dropout: {}, done: false };
    mkdirSync(o.out, { recursive: true });
  }
  const prep = meta.prep;
  o.stderr.write(
    `${prep.counts.train} training, ${prep.counts.validation} validation, ${prep.counts.test} test examples${prep.kind === "text" ? `; vocabulary ${prep.vocab.length}, labels ${prep.labels.join(", ")}` : ""}\n`,
  );
  const signal = { stop: false };
  const onSignal = () => {
    if (signal.stop) process.exit(130);
    signal.stop = true;
    o.stderr.write("\nstopping after this batch (press Ctrl-C again to quit at once)\n");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const gradients = o.gradients?.(
    model,
    model.trainableWeights.map((w) => w.read() as tf.Variable),
    train,
    prep.kind,
    outputScales(prep),
  );
  try {
    const outcome = await trainLoop({
      model,
      optimizer,
      meta,
      dir: o.out,
      data: o.data,
      file: o.file,
      prep,
      train,
      epochs,
      state,
      progress: new Progress(o.stderr, epochs),
      signal,
      ...(o.steps !== undefined ? { maxSteps: o.steps } : {}),
      ...(gradients ? { gradients } : {}),
    });
    writeFileAtomic(join(o.out, "history.svg"), historySvg(o.ir.model, outcome.state.history));
    if (outcome.kind === "interrupted") {
      o.stderr.write(`interrupted; checkpoint saved in ${o.outDisplay} (resume with --resume)\n`);
      return 130;
    }
    if (outcome.kind === "diverged") {
      o.stderr.write(`${outcome.message}\n`);
      return 1;
    }
    o.stdout.write(`model saved in ${o.outDisplay}\n`);
    if (outcome.test) o.stdout.write(reportText("test", outcome.test));
    await warnIfBaselinesBetter(o, model, train, prep);
    return 0;
  } finally {
    await gradients?.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
