/**
 * The model directory: model.json + weights in the standard tfjs layers format (tf.loadLayersModel reads it
 * once attnc's layers are registered), attnc.json (the IR, the data and train settings, the fitted vocabulary,
 * labels or scaler), history.json, and the state needed to resume. Files of a checkpoint carry its generation
 * number; manifest.json, written last with an atomic rename, names the complete set. A crash at any moment
 * leaves the previous checkpoint intact.
 *
 * A model directory is untrusted input: loading checks every file name, size, shape and cross-reference
 * before anything is allocated or read from elsewhere (docs/model-directory.md). A directory that fails is
 * reported as a ModelDirError naming the file and the field. The checkpoint writer deletes only files that
 * the previous manifest recorded as its own, and its own temporary files.
 */
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, sep } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { shownValue } from "./cells.js";
import { registerLayers } from "./layers.js";

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

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

/**
 * Porting note: tfjs' Adam keeps beta1^t and beta2^t as running products, but its setWeights recomputes them
 * with pow(), which differs in the last bits; a resumed run would then drift from an uninterrupted one. The
 * products are saved with the checkpoint and put back after setWeights.
 */
type AdamInternals = { accBeta1?: tf.Variable; accBeta2?: tf.Variable };

export function adamPowers(optimizer: tf.Optimizer): [number, number] | undefined {
  const a = optimizer as unknown as AdamInternals;
  return a.accBeta1 && a.accBeta2 ? [a.accBeta1.dataSync()[0]!, a.accBeta2.dataSync()[0]!] : undefined;
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
const OWN_FILE =
  /^(manifest\.json|model\.json|attnc\.json|history\.json|history\.svg|history\.png|(weights|optimizer)\.g\d+\.bin|(optimizer|state)\.g\d+\.json)$/;
const OWN_TMP =
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

function isCount(v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): v is number {
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

/**
 * The path of a file named by the directory itself, after checking that it is a plain name, a regular file
 * (or a symbolic link that stays inside the directory) and no larger than `max` bytes.
 */
export function dirFile(dir: string, name: unknown, where: string, max: number): { path: string; size: number } {
  if (!isPlainFileName(name)) throw damagedDir(dir, `${where} ${shownValue(name)} is not a plain file name in the directory`);
  const path = join(dir, name);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    throw damagedDir(dir, `${where} names ${name}, which is missing`);
  }
  if (st.isSymbolicLink()) {
    let real: string;
    let root: string;
    try {
      real = realpathSync(path);
      root = realpathSync(dir);
    } catch {
      throw damagedDir(dir, `${name} is a symbolic link to nothing`);
    }
    if (!real.startsWith(root + sep)) throw damagedDir(dir, `${name} is a symbolic link leading outside the directory`);
    st = statSync(real);
  }
  if (!st.isFile()) throw damagedDir(dir, `${name} is not a regular file`);
  if (st.size > max) throw damagedDir(dir, `${name} is ${st.size} bytes, more than the ${max} a model directory may hold there`);
  return { path, size: st.size };
}

function readDirBytes(dir: string, name: unknown, where: string, max: number): Buffer<ArrayBuffer> {
  const f = dirFile(dir, name, where, max);
  try {
    return readFileSync(f.path);
  } catch (e) {
    throw damagedDir(dir, `${String(name)} cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** Reads a JSON file a model directory names, with the same checks as the loader (plain name, inside, size). */
export function readDirJson(dir: string, name: unknown, where: string): unknown {
  const text = readDirBytes(dir, name, where, MODELDIR_LIMITS.jsonBytes).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw damagedDir(dir, `${String(name)} is not valid JSON (${(e as Error).message})`);
  }
}

/** Structural checks of manifest.json: file references are plain names of the kinds attnc writes. */
function checkManifest(dir: string, m: unknown): Manifest {
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

/** The manifest of a model directory, checked; null when the directory has none (or does not exist). */
export function readManifest(dir: string): Manifest | null {
  if (!existsSync(join(dir, MANIFEST))) {
    try {
      lstatSync(join(dir, MANIFEST));
    } catch {
      return null;
    }
  }
  return checkManifest(dir, readDirJson(dir, MANIFEST, "the directory's"));
}

/** The files of a checkpoint that a manifest names as attnc's own. */
function ownedBy(m: Manifest): Set<string> {
  const files = new Set(m.files ?? []);
  for (const f of [m.model, m.weights, m.state, m.optimizer]) if (f) files.add(f);
  if (m.optimizer) files.add(m.optimizer.replace(/\.bin$/, ".json"));
  return files;
}

async function weightArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      captured = a;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON" } };
    }),
  );
  return captured!;
}

function concat(data: tf.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  const buffers = Array.isArray(data) ? data : [data];
  return new Uint8Array(tf.io.concatenateArrayBuffers(buffers));
}

/**
 * Writes one checkpoint. `meta` is attnc.json's content (constant over a run); `optimizer` is saved so that a
 * resumed run continues exactly. Afterwards it deletes the files of the previous checkpoint that the new one
 * no longer names (only those the previous manifest recorded) and its own temporary files; nothing else.
 */
export async function saveCheckpoint(dir: string, model: tf.LayersModel, optimizer: tf.Optimizer | null, meta: object, state: TrainState): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const prev = readManifest(dir);
  const g = (prev?.generation ?? 0) + 1;
  const a = await weightArtifacts(model);
  const weights = `weights.g${g}.bin`;
  writeFileAtomic(join(dir, weights), concat(a.weightData));
  let optFile: string | null = null;
  if (optimizer) {
    const named = await optimizer.getWeights();
    const enc = await tf.io.encodeWeights(named);
    optFile = `optimizer.g${g}.bin`;
    writeFileAtomic(join(dir, optFile), concat(enc.data));
    writeFileAtomic(join(dir, `optimizer.g${g}.json`), JSON.stringify(enc.specs));
  }
  const stateFile = `state.g${g}.json`;
  writeFileAtomic(join(dir, stateFile), `${JSON.stringify(state, null, 1)}\n`);
  writeFileAtomic(join(dir, "attnc.json"), `${JSON.stringify(meta, null, 1)}\n`);
  writeFileAtomic(join(dir, "history.json"), `${JSON.stringify(state.history, null, 1)}\n`);
  const modelJson = {
    format: "layers-model",
    generatedBy: a.generatedBy,
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [weights], weights: a.weightSpecs }],
  };
  writeFileAtomic(join(dir, "model.json"), JSON.stringify(modelJson));
  const files = [
    MANIFEST,
    "model.json",
    "attnc.json",
    "history.json",
    "history.svg",
    weights,
    stateFile,
    ...(optFile ? [optFile, optFile.replace(/\.bin$/, ".json")] : []),
  ];
  const manifest: Manifest = { format: 1, generation: g, model: "model.json", weights, optimizer: optFile, state: stateFile, done: state.done, files };
  writeFileAtomic(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
  // The new generation is complete: the old one's files can go, and only those.
  const keep = new Set(files);
  const old = prev ? ownedBy(prev) : new Set<string>();
  for (const f of readdirSync(dir)) {
    if ((old.has(f) && !keep.has(f)) || OWN_TMP.test(f)) rmSync(join(dir, f), { force: true });
  }
}

export interface LoadedDir {
  model: tf.LayersModel;
  meta: Record<string, unknown>;
  state: TrainState;
  manifest: Manifest;
  dir: string;
}

/** Cheap checks of model.json: layer names are identifiers; the weights manifest names the weights file, and its specs need exactly the file's bytes. */
function checkModelJson(dir: string, mj: unknown, manifest: Manifest, bytes: number): tf.io.WeightsManifestEntry[] {
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
  const wm = mj["weightsManifest"];
  const group = Array.isArray(wm) && wm.length === 1 && isRecord(wm[0]) ? wm[0] : bad("weightsManifest", "must be a list of one group");
  const paths = group["paths"];
  if (!Array.isArray(paths) || paths.length !== 1 || paths[0] !== manifest.weights)
    bad("weightsManifest[0].paths", `must be [${shownValue(manifest.weights)}], the weights file manifest.json names`);
  const specs = group["weights"];
  if (!Array.isArray(specs)) return bad("weightsManifest[0].weights", "must be a list");
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
function checkMetaBasics(dir: string, meta: unknown): Record<string, unknown> {
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

function checkState(dir: string, name: string, s: unknown): TrainState {
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

/**
 * Loads the newest complete checkpoint of a model directory (layers must be registered first). Checks file
 * references, sizes, names and the weights' bytes first; attnc's CLI runs the full checks (src/modeldir) before.
 */
export async function loadModelDir(dir: string): Promise<LoadedDir> {
  registerLayers();
  const manifest = readManifest(dir);
  if (!manifest) {
    throw new ModelDirError(
      existsSync(dir)
        ? `${dir} is not an attnc model directory (no ${MANIFEST}); train one with attnc train`
        : `${dir} does not exist; train a model into it with attnc train`,
    );
  }
  const mj = readDirJson(dir, manifest.model, `${MANIFEST}: model`) as Record<string, unknown>;
  const bin = dirFile(dir, manifest.weights, `${MANIFEST}: weights`, MODELDIR_LIMITS.binBytes);
  const specs = checkModelJson(dir, mj, manifest, bin.size);
  const meta = checkMetaBasics(dir, readDirJson(dir, "attnc.json", "the directory's"));
  const state = checkState(dir, manifest.state, readDirJson(dir, manifest.state, `${MANIFEST}: state`));
  const weightData = readDirBytes(dir, manifest.weights, `${MANIFEST}: weights`, MODELDIR_LIMITS.binBytes);
  if (weightData.byteLength !== bin.size) throw damagedDir(dir, `${manifest.weights} changed while it was read`);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: mj["modelTopology"] as object,
        weightSpecs: specs,
        weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
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

/**
 * Restores an optimizer's state from the checkpoint named by the manifest. Optimizer slots are keyed by
 * variable name, and tfjs may name a reloaded model's variables differently (a suffix when a name was used
 * before in the process), so saved names are mapped to the current ones by position.
 */
export async function loadOptimizerState(dir: string, manifest: Manifest, optimizer: tf.Optimizer, model: tf.LayersModel): Promise<void> {
  if (!manifest.optimizer) return;
  const specFile = manifest.optimizer.replace(/\.bin$/, ".json");
  const bin = dirFile(dir, manifest.optimizer, `${MANIFEST}: optimizer`, MODELDIR_LIMITS.binBytes);
  const raw = readDirJson(dir, specFile, `${MANIFEST}: optimizer`);
  const state = checkState(dir, manifest.state, readDirJson(dir, manifest.state, `${MANIFEST}: state`));
  // Slots are named <variable>/<slot>, by the variables' names when saved (state.variables, in order) or their original names.
  const sizes = new Map(model.trainableWeights.map((w) => [w.originalName, w.shape]));
  (state.variables ?? []).forEach((v, i) => {
    const w = model.trainableWeights[i];
    if (w) sizes.set(v, w.shape);
  });
  if (!Array.isArray(raw) || raw.length > 4 * sizes.size + 8) throw damagedDir(dir, `${specFile}: must be a list of the optimizer's slots`);
  let total = 0;
  raw.forEach((s: unknown, i) => {
    const at = `${specFile}: [${i}]`;
    if (!isRecord(s) || typeof s["name"] !== "string" || s["name"].length > 300) throw damagedDir(dir, `${at}.name must be a string`);
    const shape = s["shape"];
    if (s["dtype"] !== "float32" && s["dtype"] !== "int32") throw damagedDir(dir, `${at}.dtype must be float32 or int32`);
    if (!Array.isArray(shape) || shape.length > 4 || !shape.every((d) => isCount(d, 1, MODELDIR_LIMITS.weightElements)))
      throw damagedDir(dir, `${at}.shape must be a list of sizes`);
    const n = (shape as number[]).reduce((x, y) => x * y, 1);
    const slash = s["name"].lastIndexOf("/");
    const owner = sizes.get(slash > 0 ? s["name"].slice(0, slash) : s["name"]);
    if (shape.length > 0 && !(owner && owner.length === shape.length && owner.every((d, k) => d === shape[k])))
      throw damagedDir(dir, `${at} ${shownValue(s["name"])} is not the shape of a weight of the model`);
    if (n > MODELDIR_LIMITS.weightElements) throw damagedDir(dir, `${at}.shape is too large`);
    total += n * 4;
  });
  if (total !== bin.size) throw damagedDir(dir, `${manifest.optimizer}: holds ${bin.size} bytes, but ${specFile} needs exactly ${total}`);
  const specs = raw as tf.io.WeightsManifestEntry[];
  const data = readDirBytes(dir, manifest.optimizer, `${MANIFEST}: optimizer`, MODELDIR_LIMITS.binBytes);
  const now = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  const rename = new Map((state.variables ?? []).map((old, i) => [old, now[i] ?? old]));
  try {
    const map = tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), specs);
    const named = specs.map((s) => {
      const slash = s.name.lastIndexOf("/");
      const base = slash > 0 ? s.name.slice(0, slash) : s.name;
      const renamed = rename.get(base);
      return { name: renamed !== undefined ? `${renamed}${s.name.slice(slash)}` : s.name, tensor: map[s.name]! };
    });
    await optimizer.setWeights(named);
  } catch (e) {
    throw damagedDir(dir, `${specFile}: the optimizer state does not fit the model (${(e as Error).message.split("\n")[0]!.slice(0, 200)})`);
  }
  const a = optimizer as unknown as AdamInternals;
  if (state.adamPowers && a.accBeta1 && a.accBeta2) {
    a.accBeta1.assign(tf.scalar(state.adamPowers[0]));
    a.accBeta2.assign(tf.scalar(state.adamPowers[1]));
  }
}

/**
 * Whether `train --out DIR` may write into DIR: it does not exist, is empty, or holds only files attnc writes
 * in a model directory. Returns a reason to refuse otherwise (the caller's flag to override is named by it).
 */
export function outDirProblem(dir: string): "file" | "foreign" | null {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return null;
  }
  if (!st.isDirectory()) return "file";
  if (existsSync(join(dir, MANIFEST))) {
    try {
      readManifest(dir);
      return null;
    } catch {
      return "foreign";
    }
  }
  return readdirSync(dir).every(isOwnFileName) ? null : "foreign";
}
