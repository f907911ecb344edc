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
import {
  checkManifest,
  checkState,
  damagedDir,
  isCount,
  isOwnFileName,
  isPlainFileName,
  isRecord,
  MANIFEST,
  MODELDIR_LIMITS,
  modelFromFiles,
  ModelDirError,
  OWN_TMP,
  type DirFiles,
  type LoadedDir,
  type Manifest,
  type TrainState,
} from "./modeldir-format.js";
import { shownValue } from "./cells.js";

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

/**
 * Loads the newest complete checkpoint of a model directory. Checks file references, sizes, names and the
 * weights' bytes first; attnc's CLI and library run the full checks (src/modeldir) before.
 */
export async function loadModelDir(dir: string): Promise<LoadedDir> {
  return modelFromFiles(readDirFiles(dir));
}

/**
 * Reads the JSON files of a model directory's newest checkpoint, with the checks that come before reading: plain
 * names, regular files inside the directory, sizes within limits. The weights are read later, once model.json's
 * weights manifest is known to need exactly the file's size.
 */
export function readDirFiles(dir: string): DirFiles {
  const manifest = readManifest(dir);
  if (!manifest) {
    throw new ModelDirError(
      existsSync(dir)
        ? `${dir} is not an attnc model directory (no ${MANIFEST}); train one with attnc train`
        : `${dir} does not exist; train a model into it with attnc train`,
    );
  }
  const modelJson = readDirJson(dir, manifest.model, `${MANIFEST}: model`);
  const meta = readDirJson(dir, "attnc.json", "the directory's");
  const state = readDirJson(dir, manifest.state, `${MANIFEST}: state`);
  const bin = dirFile(dir, manifest.weights, `${MANIFEST}: weights`, MODELDIR_LIMITS.binBytes);
  const readWeights = () => Promise.resolve(readDirBytes(dir, manifest.weights, `${MANIFEST}: weights`, MODELDIR_LIMITS.binBytes));
  return { dir, manifest, modelJson, meta, state, weightBytes: bin.size, readWeights };
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
