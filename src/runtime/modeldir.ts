/**
 * The model directory: model.json + weights in the standard tfjs layers format (tf.loadLayersModel reads it
 * once attnc's layers are registered), attnc.json (the IR, the data and train settings, the fitted vocabulary,
 * labels or scaler), history.json, and the state needed to resume. Files of a checkpoint carry its generation
 * number; manifest.json, written last with an atomic rename, names the complete set. A crash at any moment
 * leaves the previous checkpoint intact.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
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
}

export const MANIFEST = "manifest.json";

export function readManifest(dir: string): Manifest | null {
  const p = join(dir, MANIFEST);
  if (!existsSync(p)) return null;
  return JSON.parse(readFileSync(p, "utf8")) as Manifest;
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
 * resumed run continues exactly.
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
  const manifest: Manifest = { format: 1, generation: g, model: "model.json", weights, optimizer: optFile, state: stateFile, done: state.done };
  writeFileAtomic(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
  // The new generation is complete: the old one's files can go.
  for (const f of readdirSync(dir)) {
    const m = /\.g(\d+)\.(bin|json)$/.exec(f);
    if ((m && Number(m[1]) !== g) || f.endsWith(".tmp")) rmSync(join(dir, f), { force: true });
  }
}

export interface LoadedDir {
  model: tf.LayersModel;
  meta: Record<string, unknown>;
  state: TrainState;
  manifest: Manifest;
  dir: string;
}

export class ModelDirError extends Error {}

/** Loads the newest complete checkpoint of a model directory (layers must be registered first). */
export async function loadModelDir(dir: string): Promise<LoadedDir> {
  registerLayers();
  let manifest: Manifest | null;
  try {
    manifest = readManifest(dir);
  } catch {
    throw new ModelDirError(`${dir}/${MANIFEST} is not valid JSON`);
  }
  if (!manifest) throw new ModelDirError(`${dir} is not an attnc model directory (no ${MANIFEST}); train one with attnc train`);
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f));
    } catch {
      throw new ModelDirError(`${dir}/${f} is missing: the model directory is damaged`);
    }
  };
  const modelJson = JSON.parse(read(manifest.model).toString("utf8")) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const weightData = read(manifest.weights);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0]!.weights,
      weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
    }),
  );
  const meta = JSON.parse(read("attnc.json").toString("utf8")) as Record<string, unknown>;
  const state = JSON.parse(read(manifest.state).toString("utf8")) as TrainState;
  return { model, meta, state, manifest, dir };
}

/**
 * Restores an optimizer's state from the checkpoint named by the manifest. Optimizer slots are keyed by
 * variable name, and tfjs may name a reloaded model's variables differently (a suffix when a name was used
 * before in the process), so saved names are mapped to the current ones by position.
 */
export async function loadOptimizerState(dir: string, manifest: Manifest, optimizer: tf.Optimizer, model: tf.LayersModel): Promise<void> {
  if (!manifest.optimizer) return;
  const data = readFileSync(join(dir, manifest.optimizer));
  const specs = JSON.parse(readFileSync(join(dir, manifest.optimizer.replace(/\.bin$/, ".json")), "utf8")) as tf.io.WeightsManifestEntry[];
  const state = JSON.parse(readFileSync(join(dir, manifest.state), "utf8")) as TrainState;
  const now = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  const rename = new Map((state.variables ?? []).map((old, i) => [old, now[i] ?? old]));
  const map = tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), specs);
  const named = specs.map((s) => {
    const slash = s.name.lastIndexOf("/");
    const base = slash > 0 ? s.name.slice(0, slash) : s.name;
    const renamed = rename.get(base);
    return { name: renamed !== undefined ? `${renamed}${s.name.slice(slash)}` : s.name, tensor: map[s.name]! };
  });
  await optimizer.setWeights(named);
  const a = optimizer as unknown as AdamInternals;
  if (state.adamPowers && a.accBeta1 && a.accBeta2) {
    a.accBeta1.assign(tf.scalar(state.adamPowers[0]));
    a.accBeta2.assign(tf.scalar(state.adamPowers[1]));
  }
}
