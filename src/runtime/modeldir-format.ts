/**
 * The model directory's format, without the file system: the names and limits, the structural checks of
 * manifest.json, model.json, attnc.json and the state, and the model built from files already read. The
 * runtime's loader (modeldir.ts) reads a folder with them; the library's browser entry reads a URL with them.
 * No Node built-ins.
 */
import * as tf from "@tensorflow/tfjs";
import { shownValue } from "./cells.js";
import { registerLayers } from "./layers.js";

export interface EpochRecord {
  epoch: number;
  [metric: string]: number;
}

export interface TrainState {
  /** Epochs completed. */
  epoch: number;
  /** Batches of epoch `epoch + 1` already trained (a checkpoint taken on interrupt). */
  batch: number;
  history: EpochRecord[];
  best: { value: number; epoch: number } | null;
  /** Epochs since the monitored value last improved. */
  wait: number;
  /** Positions of each dropout layer's random stream. */
  dropout: Record<string, number>;
  /** Training finished (epochs done or stopped early); the weights are the final ones. */
  done: boolean;
  stopReason?: string;
  /** Names of the trainable variables, in order, when the checkpoint was written (optimizer state is keyed by them). */
  variables?: string[];
  /** The test split's report, once training is done. */
  test?: unknown;
  /** Adam's running powers of beta1 and beta2 (see loadOptimizerState). */
  adamPowers?: [number, number];
}

export interface Manifest {
  format: 1;
  generation: number;
  model: string;
  weights: string;
  optimizer: string | null;
  state: string;
  done: boolean;
  /** Every file of the directory that attnc wrote and may replace or delete (absent in directories written before it was recorded). */
  files?: string[];
}

export const MANIFEST = "manifest.json";

/** Sizes a model directory may declare: checked before anything of that size is read or allocated. */
export const MODELDIR_LIMITS = {
  /** manifest.json, model.json, attnc.json, state and optimizer specs. */
  jsonBytes: 64 * 2 ** 20,
  /** Elements of one weight tensor (the compiler's limit on a node's parameters). */
  weightElements: 2 ** 30,
  /** Bytes of one weights or optimizer file. */
  binBytes: 2 ** 31 - 1,
  /** Time steps of the input (max_len of a tokenizer, window of a forecaster). */
  steps: 65_536,
  /** Layers of the topology. */
  layers: 1024,
} as const;

/** A layer, node or weight name: letters, digits and `_`, not starting with a digit. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** A file a manifest may name: a plain name in the directory itself. */
const PLAIN_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Files attnc writes in a model directory, and the temporary files it writes them through. */
export const OWN_FILE =
  /^(manifest\.json|model\.json|attnc\.json|history\.json|history\.svg|history\.png|(weights|optimizer)\.g\d+\.bin|(optimizer|state)\.g\d+\.json)$/;
export const OWN_TMP =
  /^(manifest\.json|model\.json|attnc\.json|history\.json|history\.svg|history\.png|(weights|optimizer)\.g\d+\.bin|(optimizer|state)\.g\d+\.json)\.[0-9a-f]{12}\.tmp$/;

export class ModelDirError extends Error {
  constructor(
    message: string,
    /** The directory, when the message is about a damaged one (the CLI shows it relative to the working directory). */
    readonly dir?: string,
    /** What is wrong and where, without the directory. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** A damaged or tampered model directory: `damaged model directory DIR: <file>: <what>`. */
export function damagedDir(dir: string, detail: string): ModelDirError {
  return new ModelDirError(`damaged model directory ${dir}: ${detail}`, dir, detail);
}

/** A JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function isCount(v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

/** Whether a file name is one attnc may read from a model directory: no separators, no `..`, not hidden. */
export function isPlainFileName(name: unknown): name is string {
  return typeof name === "string" && PLAIN_FILE.test(name) && !name.includes("..");
}

/** Whether attnc writes files of this name in a model directory (a directory holding only these is its own). */
export function isOwnFileName(name: string): boolean {
  return OWN_FILE.test(name) || OWN_TMP.test(name) || name === "explain";
}

/** Structural checks of manifest.json: file references are plain names of the kinds attnc writes. */
export function checkManifest(dir: string, m: unknown): Manifest {
  const bad = (field: string, what: string): never => {
    throw damagedDir(dir, `${MANIFEST}: ${field} ${what}`);
  };
  if (!isRecord(m)) return bad("the document", "must be an object");
  if (m["format"] !== 1) bad("format", `must be 1, not ${shownValue(m["format"])}`);
  if (!isCount(m["generation"], 1)) bad("generation", `must be a whole number >= 1, not ${shownValue(m["generation"])}`);
  const named = (field: string, pattern: RegExp, nullable = false): void => {
    const v = m[field];
    if (nullable && v === null) return;
    if (!isPlainFileName(v)) bad(field, `${shownValue(v)} is not a plain file name in the directory`);
    if (!pattern.test(v as string)) bad(field, `${shownValue(v)} is not a file attnc writes there`);
  };
  named("model", /^model\.json$/);
  named("weights", /^weights\.g\d+\.bin$/);
  named("optimizer", /^optimizer\.g\d+\.bin$/, true);
  named("state", /^state\.g\d+\.json$/);
  if (typeof m["done"] !== "boolean") bad("done", `must be true or false, not ${shownValue(m["done"])}`);
  if (m["files"] !== undefined) {
    const files = m["files"];
    if (!Array.isArray(files) || files.length > 64) return bad("files", "must be a list of file names");
    files.forEach((f, i) => {
      if (!isPlainFileName(f) || !OWN_FILE.test(f)) bad(`files[${i}]`, `${shownValue(f)} is not a file attnc writes in a model directory`);
    });
  }
  return m as unknown as Manifest;
}

export interface LoadedDir {
  model: tf.LayersModel;
  meta: Record<string, unknown>;
  state: TrainState;
  manifest: Manifest;
  dir: string;
}

/** model.json's weights manifest: one group, naming the weights file the manifest names; its list of weight specs, unchecked. */
export function weightGroup(dir: string, mj: Record<string, unknown>, manifest: Manifest): unknown[] {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `model.json: ${where} ${what}`);
  };
  const wm = mj["weightsManifest"];
  const group = Array.isArray(wm) && wm.length === 1 && isRecord(wm[0]) ? wm[0] : bad("weightsManifest", "must be a list of one group");
  const paths = group["paths"];
  if (!Array.isArray(paths) || paths.length !== 1 || paths[0] !== manifest.weights)
    bad("weightsManifest[0].paths", `must be [${shownValue(manifest.weights)}], the weights file manifest.json names`);
  const specs = group["weights"];
  return Array.isArray(specs) ? specs : bad("weightsManifest[0].weights", "must be a list");
}

/** Cheap checks of model.json: layer names are identifiers; the weights manifest names the weights file, and its specs need exactly the file's bytes. */
export function checkModelJson(dir: string, mj: unknown, manifest: Manifest, bytes: number): tf.io.WeightsManifestEntry[] {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `model.json: ${where} ${what}`);
  };
  if (!isRecord(mj)) return bad("the document", "must be an object");
  const topo = mj["modelTopology"];
  const layers = isRecord(topo) && isRecord(topo["config"]) ? topo["config"]["layers"] : undefined;
  if (!Array.isArray(layers) || layers.length > MODELDIR_LIMITS.layers)
    return bad("modelTopology.config.layers", `must be a list of at most ${MODELDIR_LIMITS.layers} layers`);
  layers.forEach((l: unknown, i) => {
    const name = isRecord(l) ? l["name"] : undefined;
    if (typeof name !== "string" || !IDENTIFIER.test(name)) bad(`modelTopology.config.layers[${i}].name`, `${shownValue(name)} is not an identifier`);
  });
  const specs = weightGroup(dir, mj, manifest);
  const seen = new Set<string>();
  let total = 0;
  specs.forEach((s: unknown, i) => {
    const at = `weightsManifest[0].weights[${i}]`;
    const name = isRecord(s) ? s["name"] : undefined;
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]{0,127}\/[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name) || seen.has(name))
      return bad(`${at}.name`, `${shownValue(name)} is not a new layer/weight name`);
    seen.add(name);
    const shape = (s as Record<string, unknown>)["shape"];
    if ((s as Record<string, unknown>)["dtype"] !== "float32") bad(`${at}.dtype`, "must be float32");
    if (!Array.isArray(shape) || shape.length > 4 || !shape.every((d) => isCount(d, 1, MODELDIR_LIMITS.weightElements)))
      return bad(`${at}.shape`, "must be a list of sizes");
    const n = (shape as number[]).reduce((x, y) => x * y, 1);
    if (n > MODELDIR_LIMITS.weightElements) bad(`${at}.shape`, `has more than ${MODELDIR_LIMITS.weightElements} values`);
    total += n * 4;
  });
  if (total !== bytes) throw damagedDir(dir, `${manifest.weights}: holds ${bytes} bytes, but model.json's weights need exactly ${total}`);
  return specs as tf.io.WeightsManifestEntry[];
}

/** Cheap checks of attnc.json: the IR's node names are identifiers (they name heatmap files), prep is there and its sizes are within limits. */
export function checkMetaBasics(dir: string, meta: unknown): Record<string, unknown> {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `attnc.json: ${where} ${what}`);
  };
  if (!isRecord(meta)) return bad("the document", "must be an object");
  const ir = meta["ir"];
  const nodes = isRecord(ir) ? ir["nodes"] : undefined;
  if (!Array.isArray(nodes)) return bad("ir.nodes", "must be a list");
  nodes.forEach((n: unknown, i) => {
    const name = isRecord(n) ? n["name"] : undefined;
    if (typeof name !== "string" || !IDENTIFIER.test(name)) bad(`ir.nodes[${i}].name`, `${shownValue(name)} is not an identifier`);
  });
  const prep = meta["prep"];
  if (!isRecord(prep) || (prep["kind"] !== "text" && prep["kind"] !== "series")) return bad("prep", "is missing: the fitted preprocessing is needed");
  const steps = prep["kind"] === "text" ? "maxLen" : "window";
  if (!isCount(prep[steps], 1, MODELDIR_LIMITS.steps))
    bad(`prep.${steps}`, `must be a whole number from 1 to ${MODELDIR_LIMITS.steps}, not ${shownValue(prep[steps])}`);
  if (prep["kind"] === "text" && !(Array.isArray(prep["labels"]) && prep["labels"].length >= 2)) bad("prep.labels", "must list at least 2 labels");
  return meta;
}

export function checkState(dir: string, name: string, s: unknown): TrainState {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `${name}: ${where} ${what}`);
  };
  if (!isRecord(s)) return bad("the document", "must be an object");
  for (const key of ["epoch", "batch", "wait"]) if (!isCount(s[key], 0, 1e9)) bad(key, `must be a whole number >= 0, not ${shownValue(s[key])}`);
  if (typeof s["done"] !== "boolean") bad("done", "must be true or false");
  const history = s["history"];
  if (!Array.isArray(history) || !history.every((r) => isRecord(r) && isCount(r["epoch"], 0, 1e9) && Object.values(r).every((v) => typeof v === "number")))
    bad("history", "must be a list of {epoch, metric: number}");
  const best = s["best"];
  if (best !== null && !(isRecord(best) && typeof best["value"] === "number" && isCount(best["epoch"], 0, 1e9))) bad("best", "must be null or {value, epoch}");
  const dropout = s["dropout"];
  if (!isRecord(dropout) || !Object.entries(dropout).every(([k, v]) => IDENTIFIER.test(k) && isCount(v, 0)))
    bad("dropout", "must map layer names to whole numbers");
  const vars = s["variables"];
  if (vars !== undefined && !(Array.isArray(vars) && vars.length <= 4096 && vars.every((v) => typeof v === "string" && v.length <= 300)))
    bad("variables", "must be a list of names");
  const powers = s["adamPowers"];
  if (powers !== undefined && !(Array.isArray(powers) && powers.length === 2 && powers.every((p) => typeof p === "number" && Number.isFinite(p))))
    bad("adamPowers", "must be two numbers");
  if (s["stopReason"] !== undefined && typeof s["stopReason"] !== "string") bad("stopReason", "must be a string");
  return s as unknown as TrainState;
}

/** A model directory's files, read but not yet checked (each JSON file parsed). */
export interface DirFiles {
  /** The directory's name in messages. */
  dir: string;
  manifest: Manifest;
  modelJson: unknown;
  meta: unknown;
  state: unknown;
  /** The weights file's size in bytes, known before its bytes are read. */
  weightBytes: number;
  /** Reads the weights file (after the checks that its size allows). */
  readWeights(): Promise<Uint8Array>;
}

/**
 * Builds the model a directory's files describe (registering attnc's layers), after the cheap checks: names are
 * identifiers, the weights manifest needs exactly the weights' bytes, attnc.json has its prep, the state is well
 * formed; the model's weights are then exactly those listed. The schema and cross checks (src/modeldir) come first
 * where the caller has them.
 */
export async function modelFromFiles(f: DirFiles): Promise<LoadedDir> {
  registerLayers();
  const { dir, manifest } = f;
  const specs = checkModelJson(dir, f.modelJson, manifest, f.weightBytes);
  const meta = checkMetaBasics(dir, f.meta);
  const state = checkState(dir, manifest.state, f.state);
  const weights = await f.readWeights();
  if (weights.byteLength !== f.weightBytes) throw damagedDir(dir, `${manifest.weights} changed while it was read`);
  const mj = f.modelJson as Record<string, unknown>;
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: mj["modelTopology"] as object,
        weightSpecs: specs,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
      }),
    );
  } catch (e) {
    throw damagedDir(dir, `model.json: TensorFlow.js cannot build the model (${(e as Error).message.split("\n")[0]!.slice(0, 200)})`);
  }
  // The model's weights are exactly those listed, with the listed shapes.
  const listed = new Map(specs.map((w) => [w.name, w.shape]));
  const mismatch = model.weights.find((w) => {
    const shape = listed.get(w.originalName);
    return !shape || shape.length !== w.shape.length || !shape.every((d, k) => d === w.shape[k]);
  });
  if (mismatch || model.weights.length !== specs.length) {
    model.dispose();
    throw damagedDir(
      dir,
      `model.json: ${mismatch ? `weight ${mismatch.originalName} does not match the layer that holds it` : "the weights manifest lists weights the model does not have"}`,
    );
  }
  return { model, meta, state, manifest, dir };
}
