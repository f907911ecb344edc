/**
 * The command line of a generated training program: flags, backend, paths, errors and exit codes.
 * Generated programs call programMain with their model; attnc's own CLI has its own front end.
 */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import type * as tf from "@tensorflow/tfjs";
import { BackendError, BACKENDS, selectBackend, tfjsVersionProblem, type BackendChoice } from "./backend.js";
import { dataFileProblem, DataError } from "./csv.js";
import type { DataConfig } from "./data.js";
import { registerKernels } from "./kernels.js";
import { registerLayers } from "./layers.js";
import { outDirProblem } from "./modeldir.js";
import { ModelDirError } from "./modeldir-format.js";
import { fsFailure, outsideMessage, placePath } from "./paths.js";
import { printable } from "./progress.js";
import { RunError, trainSession, type RunIr } from "./session.js";
import type { TrainConfig } from "./train.js";

export interface Program {
  ir: RunIr;
  data: DataConfig;
  train: TrainConfig;
  build: (seed: number) => tf.LayersModel;
  /** The data file the spec names, relative to the program file. */
  defaultData: string;
}

const USAGE = `options:
  --data PATH      data file (default: the one the spec names)
  --out DIR        model directory (default: runs/<Model>)
  --epochs N       train to N epochs instead of the spec's
  --seed N         seed for weights, shuffling and dropout
  --steps N        stop after N training batches (verification)
  --backend B      auto (default), node, wasm or cpu
  --resume         continue from the last checkpoint in --out
  --allow-outside  allow a data file or model directory outside the working directory
  --force          train into an --out directory that holds other files (they are kept)
  --help           this text
The data file and the model directory must be inside the working directory (symlinks resolved) unless
--allow-outside is given.`;

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return (rel.startsWith("..") || isAbsolute(rel) ? path : rel).split(sep).join("/");
}

/** A path the program reads or writes: inside the working directory unless allowed (the rule attnc follows too). */
function placed(path: string, what: string, allowOutside: boolean): string {
  const p = placePath(process.cwd(), path);
  if (!p.inside && !allowOutside) throw new RunError(outsideMessage(what, shown(p.abs), p.real), 2);
  return p.abs;
}

function count(v: string | undefined, flag: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new RunError(`${flag} must be a whole number >= ${min}, not ${JSON.stringify(v)}`, 2);
  return n;
}

/** Runs the program; the exit code is 0 on success, 1 for bad data, 2 for bad usage, 130 when interrupted. */
export async function programMain(argv: string[], p: Program): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        data: { type: "string" },
        out: { type: "string" },
        epochs: { type: "string" },
        seed: { type: "string" },
        steps: { type: "string" },
        backend: { type: "string", default: "auto" },
        resume: { type: "boolean", default: false },
        "allow-outside": { type: "boolean", default: false },
        force: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(`trains model ${p.ir.model}\n${USAGE}\n`);
      return 0;
    }
    if (!BACKENDS.includes(values.backend as BackendChoice)) throw new RunError(`--backend must be one of ${BACKENDS.join(", ")}`, 2);
    const version = tfjsVersionProblem();
    // Another release runs (on the op-based path: see backend-internals.ts), but not as attnc train does.
    if (version !== undefined) process.stderr.write(`warning: ${version}\n`);
    const epochs = count(values.epochs, "--epochs", 1);
    const seed = count(values.seed, "--seed", 0);
    const steps = count(values.steps, "--steps", 1);
    const here = dirname(resolve(process.argv[1] ?? "."));
    const allowOutside = values["allow-outside"] === true;
    const dataPath = placed(resolve(values.data ?? resolve(here, p.defaultData)), "the data file", allowOutside);
    const notFile = dataFileProblem(dataPath);
    if (notFile !== undefined) throw new DataError(shown(dataPath), null, null, notFile);
    const out = placed(resolve(values.out ?? `runs/${p.ir.model}`), "the output directory", allowOutside);
    registerLayers();
    registerKernels();
    const backend = await selectBackend(values.backend as BackendChoice);
    process.stderr.write(`using the ${backend === "tensorflow" ? "node (native TensorFlow)" : backend} backend\n`);
    // Only into a model directory, a new or empty one, or with --force: never over files this program did not write.
    const problem = outDirProblem(out);
    if (problem === "file") throw new RunError(`cannot write ${shown(out)}: it is a file, not a directory`, 2);
    if (problem === "foreign" && !values.force)
      throw new RunError(
        `--out ${shown(out)} holds files that are not a model directory; choose a new or empty directory, or pass --force to train into it anyway (its other files are kept)`,
        2,
      );
    return await trainSession({
      ir: p.ir,
      data: p.data,
      train: p.train,
      build: p.build,
      file: { path: dataPath, display: shown(dataPath) },
      out,
      outDisplay: shown(out),
      ...(epochs !== undefined ? { epochs } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(steps !== undefined ? { steps } : {}),
      resume: values.resume === true,
      stdout: process.stdout,
      stderr: process.stderr,
    });
  } catch (e) {
    if (e instanceof RunError || e instanceof DataError || e instanceof ModelDirError || e instanceof BackendError) {
      process.stderr.write(`${printable(e.message)}\n`);
      return e instanceof RunError ? e.exitCode : e instanceof DataError ? 1 : 2;
    }
    const io = fsFailure(e);
    if (io !== undefined) {
      process.stderr.write(`cannot ${io.write ? "write" : "read"} ${io.path !== undefined ? shown(resolve(io.path)) : "a file"}: ${io.reason}\n`);
      return 2;
    }
    if (e instanceof TypeError && "code" in e && String((e as { code: unknown }).code).startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
}
