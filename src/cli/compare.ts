/**
 * attnc compare: trains each spec's models for several seeds, each run a child process of this same command line
 * (`train --resume`, then `evaluate --format json`), and reports each metric's mean, sample standard deviation,
 * minimum and maximum over the seeds, with the forecast baselines beside them.
 *
 * Reruns: every run is `train --resume` into its own model directory, so a finished run is reused as it is (train
 * says "finished training already" and writes nothing), an interrupted one continues from its checkpoint, and a
 * directory whose checkpoint no longer matches the spec is refused by train's fingerprint check.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { compile } from "../compile.js";
import { renderDiagnostics } from "../diagnostics/render.js";
import type { IrModel } from "../ir/types.js";
import { printable } from "../runtime/progress.js";
import { CliError, displayPath, packageRoot, readText, type CliIo } from "./io.js";
import { checkDirTarget, within } from "./paths.js";

export interface CompareOptions {
  seeds?: string;
  seedStart?: string;
  jobs?: string;
  out?: string;
  model?: string;
  epochs?: string;
  format?: string;
  allowOutside?: boolean;
}

/** One metric over the seeds: sample standard deviation (n - 1; null for a single run). */
export interface MetricStats {
  mean: number;
  sd: number | null;
  min: number;
  max: number;
  n: number;
}

export interface CompareRun {
  seed: number;
  dir: string;
  /** Whether the model directory was already finished and was reused without training. */
  reused: boolean;
  seconds: number;
  metrics: Record<string, number>;
}

export interface CompareFailure {
  spec: string;
  model: string | null;
  seed: number | null;
  exitCode: number;
  message: string;
}

export interface CompareResult {
  spec: string;
  model: string;
  task: "text" | "series";
  runs: CompareRun[];
  metrics: Record<string, MetricStats>;
  /** As evaluate reports them (the same for every seed: the data and its split do not depend on it). */
  baselines?: Record<string, Record<string, number>>;
}

export interface CompareReport {
  split: "test";
  seeds: number[];
  results: CompareResult[];
  failures: CompareFailure[];
}

function int(v: string | undefined, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < min || n > max)
    throw new CliError(`${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`);
  return n;
}

/** Mean, sample standard deviation, minimum, maximum and count of some numbers (at least one). */
export function stats(values: readonly number[]): MetricStats {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) * (v - mean), 0) / (n - 1)) : null;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), n };
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The scalar metrics of one report of evaluate: its loss, and every number of its classification or regression
 * part (or of a baseline) but the count of examples; `within` gives its share.
 */
export function scalarMetrics(report: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  const take = (o: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(o)) {
      if (k === "count") continue;
      if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
      else if (k === "within" && isRecord(v) && typeof v["share"] === "number") out[k] = v["share"];
    }
  };
  if (typeof report["loss"] === "number" && Number.isFinite(report["loss"])) out["loss"] = report["loss"];
  for (const part of ["classification", "regression"]) {
    const p = report[part];
    if (isRecord(p)) take(p);
  }
  if (!("loss" in report) && !("classification" in report) && !("regression" in report)) take(report);
  return out;
}

/** What a child wrote, keeping only the end of a long output. */
class Tail {
  private text = "";
  constructor(private readonly limit: number) {}
  add(s: string): void {
    this.text += s;
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
  }
}

/** A failed child's message: its last line from attnc ("attnc: ..."), else its last line. */
function lastMessage(stderr: string): string {
  const lines = stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const own = lines.filter((l) => l.startsWith("attnc: ") && !/^attnc: using the .* backend$/.test(l));
  const line = own[own.length - 1] ?? lines[lines.length - 1] ?? "no message";
  return line.replace(/^attnc: /, "");
}

interface Job {
  spec: string;
  specAbs: string;
  model: string;
  task: "text" | "series";
  seed: number;
  dir: string;
}

interface Outcome {
  job: Job;
  run?: CompareRun;
  baselines?: Record<string, Record<string, number>>;
  failure?: CompareFailure;
  interrupted?: boolean;
}

/** The modification time of a model directory's manifest (written last by every checkpoint), if there is one. */
function manifestTime(dir: string): number | undefined {
  try {
    return statSync(join(dir, "manifest.json")).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Children of this command line, stopped together on Ctrl-C or when attnc exits. */
class Children {
  private readonly live = new Set<ChildProcess>();
  interrupted = false;
  private readonly onSigint = () => {
    this.interrupted = true;
    for (const c of this.live) c.kill("SIGINT");
  };
  private readonly onExit = () => {
    for (const c of this.live) c.kill("SIGTERM");
  };

  constructor(
    private readonly io: CliIo,
    private readonly bin: string,
  ) {
    process.on("SIGINT", this.onSigint);
    process.on("exit", this.onExit);
  }

  close(): void {
    process.off("SIGINT", this.onSigint);
    process.off("exit", this.onExit);
  }

  /** Runs `attnc ...args` in the working directory; resolves with its exit code (130 for a signal) and output. */
  run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    return new Promise((done) => {
      const out = new Tail(16 * 1024 * 1024);
      const err = new Tail(64 * 1024);
      // In a process group of its own: Ctrl-C on the terminal reaches only compare, which passes it on once.
      const child = spawn(process.execPath, [this.bin, ...args], {
        cwd: this.io.cwd,
        env: { ...process.env, ...this.io.env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      this.live.add(child);
      child.stdout.setEncoding("utf8").on("data", (s: string) => out.add(s));
      child.stderr.setEncoding("utf8").on("data", (s: string) => err.add(s));
      child.on("error", (e) => {
        this.live.delete(child);
        done({ code: 2, out: "", err: `attnc: cannot start ${process.execPath}: ${e.message}` });
      });
      child.on("close", (code, signal) => {
        this.live.delete(child);
        done({ code: code ?? (signal === "SIGINT" || signal === "SIGTERM" ? 130 : 70), out: out.toString(), err: err.toString() });
      });
    });
  }
}

/** Trains one seed (or reuses its finished directory) and evaluates it on the test split. */
async function runOne(io: CliIo, children: Children, job: Job, opts: { epochs?: number; allowOutside: boolean }): Promise<Outcome> {
  const start = performance.now();
  const before = manifestTime(job.dir);
  const outside = opts.allowOutside ? ["--allow-outside"] : [];
  const fail = (code: number, message: string): Outcome =>
    children.interrupted && code === 130
      ? { job, interrupted: true }
      : { job, failure: { spec: job.spec, model: job.model, seed: job.seed, exitCode: code, message } };
  const train = await children.run([
    "train",
    job.specAbs,
    "--model",
    job.model,
    "--out",
    job.dir,
    "--seed",
    String(job.seed),
    "--threads",
    "1",
    "--resume",
    ...(opts.epochs !== undefined ? ["--epochs", String(opts.epochs)] : []),
    ...outside,
  ]);
  if (train.code !== 0) return fail(train.code, lastMessage(train.err));
  if (children.interrupted) return { job, interrupted: true };
  const reused = before !== undefined && manifestTime(job.dir) === before;
  // --baselines: persistence and the other forecast baselines (accepted as well where evaluate prints them always).
  const evaluated = await children.run(["evaluate", job.dir, "--format", "json", ...(job.task === "series" ? ["--baselines"] : []), ...outside]);
  if (evaluated.code !== 0) return fail(evaluated.code, lastMessage(evaluated.err));
  let report: unknown;
  try {
    report = JSON.parse(evaluated.out.trim().split("\n").pop() ?? "");
  } catch {
    report = undefined;
  }
  if (!isRecord(report)) return fail(70, `evaluate ${displayPath(io, job.dir)} printed no JSON report`);
  const baselines: Record<string, Record<string, number>> = {};
  if (isRecord(report["baselines"])) for (const [name, b] of Object.entries(report["baselines"])) if (isRecord(b)) baselines[name] = scalarMetrics(b);
  return {
    job,
    run: { seed: job.seed, dir: displayPath(io, job.dir), reused, seconds: (performance.now() - start) / 1000, metrics: scalarMetrics(report) },
    ...(isRecord(report["baselines"]) ? { baselines } : {}),
  };
}

/** The metric a progress line shows: accuracy for classifiers, RMSE for forecasters, else the loss. */
function headline(metrics: Record<string, number>): string {
  for (const k of ["accuracy", "rmse", "loss"]) if (metrics[k] !== undefined) return `${k} ${formatNumber(metrics[k])}`;
  return "no metrics";
}

function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) return "-";
  return Math.abs(v) >= 1e6 ? v.toExponential(3) : v.toFixed(4);
}

/** The text table: per spec and model, a row per metric, with each baseline's value of the metric beside it. */
export function compareText(report: CompareReport): string {
  const seeds = report.seeds;
  const range = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds[0]}-${seeds[seeds.length - 1]}`;
  const blocks: string[] = [`${report.split} split, ${range}`];
  for (const r of report.results) {
    const names = Object.keys(r.baselines ?? {});
    const head = ["metric", "mean", "sd", "min", "max", "n", ...names.map(printable)];
    const rows = Object.entries(r.metrics).map(([k, s]) => [
      printable(k),
      formatNumber(s.mean),
      formatNumber(s.sd),
      formatNumber(s.min),
      formatNumber(s.max),
      String(s.n),
      ...names.map((b) => formatNumber(r.baselines?.[b]?.[k])),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join("  ")
        .trimEnd();
    const reused = r.runs.filter((x) => x.reused).length;
    blocks.push(
      [`${printable(r.spec)}  ${r.model}  (${r.runs.length} of ${seeds.length} runs${reused ? `, ${reused} reused` : ""})`, line(head), ...rows.map(line)].join(
        "\n",
      ),
    );
  }
  return `${blocks.join("\n\n")}\n`;
}

export async function compareCommand(io: CliIo, specs: string[], opts: CompareOptions): Promise<number> {
  const count = int(opts.seeds, "--seeds", 1, 1000) ?? 5;
  const first = int(opts.seedStart, "--seed-start", 0, 2 ** 31 - 1 - count) ?? 1;
  const jobsOption = int(opts.jobs, "--jobs", 1, 256);
  const epochs = int(opts.epochs, "--epochs", 1);
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") throw new CliError(`--format must be text or json, not ${JSON.stringify(format)}`);
  const allowOutside = opts.allowOutside === true;
  if (opts.out === "") throw new CliError("--out must name a directory, not be empty");
  const root = within(io, opts.out ?? join("runs", "compare"), "the output directory", allowOutside);
  checkDirTarget(io, root);
  // Each spec's runs go under its base name: two specs of one name would share directories.
  const byName = new Map<string, string>();
  for (const s of specs) {
    const name = basename(s, extname(s));
    // The name is a directory under --out: "." or ".." (a spec named "...attn") would lead out of it.
    if (name === "" || name === "." || name === "..")
      throw new CliError(
        `${displayPath(io, s)}: compare files a spec's runs under its name without the extension, which must not be "${name}"; rename the spec`,
      );
    const other = byName.get(name);
    if (other !== undefined)
      throw new CliError(
        `${displayPath(io, other)} and ${displayPath(io, s)} would share ${displayPath(io, join(root, name))}; compare specs of different file names`,
      );
    byName.set(name, s);
  }
  const seeds = Array.from({ length: count }, (_, i) => first + i);
  const failures: CompareFailure[] = [];
  const report = (f: CompareFailure) => {
    failures.push(f);
    const where = [f.spec, f.model, f.seed !== null ? `seed ${f.seed}` : null].filter((x) => x !== null).join(" ");
    io.stderr.write(`attnc: compare: ${printable(where)} failed (exit ${f.exitCode}): ${printable(f.message)}\n`);
  };
  const jobs: Job[] = [];
  const groups: { spec: string; model: string; task: "text" | "series" }[] = [];
  for (const s of specs) {
    const spec = displayPath(io, s);
    const specAbs = resolve(io.cwd, s);
    let models: IrModel[];
    try {
      const text = readText(io, s);
      const r = await compile({ name: spec, text });
      if (r.diagnostics.length > 0) io.stderr.write(renderDiagnostics(r.diagnostics, "plain", new Map([[spec, text]])));
      if (!r.ok) {
        const e = r.diagnostics.find((d) => d.severity === "error");
        throw new CliError(e ? `${e.file}:${e.span.line}:${e.span.column} - error ${e.code}: ${e.message}` : `${spec} has errors`, 1);
      }
      models = opts.model !== undefined ? r.models.filter((m) => m.model === opts.model) : r.models.filter((m) => m.data && m.train);
      if (models.length === 0)
        throw new CliError(opts.model !== undefined ? `${spec} has no model ${opts.model}` : `${spec} has no model with both a data and a train block`, 1);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      report({ spec, model: null, seed: null, exitCode: e.exitCode, message: e.message });
      continue;
    }
    for (const ir of models) {
      const data = ir.data as { source?: { path?: unknown }; tokenizer?: unknown } | undefined;
      try {
        if (!data || !ir.train) throw new CliError(`model ${ir.model} needs a data block and a train block to be trained`, 1);
        // The data file follows the path rule: refused here once rather than by every seed's run.
        if (typeof data.source?.path === "string") within(io, resolve(dirname(specAbs), data.source.path), "the data file", allowOutside);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        report({ spec, model: ir.model, seed: null, exitCode: e.exitCode, message: e.message });
        continue;
      }
      const task = data.tokenizer ? "text" : "series";
      groups.push({ spec, model: ir.model, task });
      for (const seed of seeds) {
        const dir = join(root, basename(s, extname(s)), ir.model, `seed-${seed}`);
        try {
          // A link planted on the way must not lead a run outside (train checks again before it writes).
          within(io, dir, "the output directory", allowOutside);
        } catch (e) {
          if (!(e instanceof CliError)) throw e;
          report({ spec, model: ir.model, seed, exitCode: e.exitCode, message: e.message });
          continue;
        }
        jobs.push({ spec, specAbs, model: ir.model, task, seed, dir });
      }
    }
  }

  const parallel = Math.max(1, Math.min(jobsOption ?? availableParallelism(), jobs.length));
  const bin = join(packageRoot(), "bin", "attnc.js");
  const children = new Children(io, bin);
  const outcomes: Outcome[] = [];
  try {
    if (jobs.length > 0) io.stderr.write(`attnc: compare: ${jobs.length} runs, ${parallel} at a time, in ${displayPath(io, root)}\n`);
    let next = 0;
    const worker = async () => {
      while (next < jobs.length && !children.interrupted) {
        const job = jobs[next++]!;
        const o = await runOne(io, children, job, { ...(epochs !== undefined ? { epochs } : {}), allowOutside });
        outcomes.push(o);
        if (o.failure) report(o.failure);
        else if (o.run)
          io.stderr.write(
            `attnc: compare: ${printable(job.spec)} ${job.model} seed ${job.seed}: ${headline(o.run.metrics)} (${o.run.reused ? "reused" : "trained"}, ${o.run.seconds.toFixed(1)} s)\n`,
          );
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    children.close();
  }
  if (children.interrupted) {
    io.stderr.write("attnc: compare: interrupted; finished runs and checkpoints are kept, and running compare again continues them\n");
    return 130;
  }

  const results: CompareResult[] = [];
  for (const g of groups) {
    const mine = outcomes.filter((o) => o.job.spec === g.spec && o.job.model === g.model && o.run).sort((a, b) => a.job.seed - b.job.seed);
    if (mine.length === 0) continue;
    const runs = mine.map((o) => o.run!);
    const names = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))];
    const metrics: Record<string, MetricStats> = {};
    for (const k of names) {
      const values = runs.flatMap((r) => (r.metrics[k] !== undefined ? [r.metrics[k]] : []));
      metrics[k] = stats(values);
    }
    const baselines = mine.find((o) => o.baselines)?.baselines;
    results.push({ spec: g.spec, model: g.model, task: g.task, runs, metrics, ...(baselines ? { baselines } : {}) });
  }
  const out: CompareReport = { split: "test", seeds, results, failures };
  io.stdout.write(format === "json" ? `${JSON.stringify(out, null, 2)}\n` : compareText(out));
  if (failures.length > 0) {
    const n = failures.length;
    io.stderr.write(`attnc: compare: ${n} ${n === 1 ? "failure" : "failures"} (above); the results leave ${n === 1 ? "it" : "them"} out\n`);
    return 1;
  }
  return 0;
}
