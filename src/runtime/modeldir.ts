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
const OWN_FILE = /^(manifest\.json|model\.json|attnc\.json|history\.json|history\.svg|history\.png|(weights|optimizer)\.g\d+\.bin|(optimizer|state)\.g\d+\.json)$/;
const OWN_TMP = /^(manifest\.json|model\.json|attnc\.json|history\.json|history\.svg|history\.png|(weights|optimizer)\.g\d+\.bin|(optimizer|state)\.g\d+\.json)\.[0-9a-f]{12}\.tmp$/;

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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function shownValue(v: unknown): string {
  const t = JSON.stringify(v);
  return t === undefined ? String(v) : t.length > 60 ? `${t.slice(0, 57)}...` : t;
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
function dirFile(dir: string, name: unknown, where: string, max: number): { path: string; size: number } {
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
  const files = [MANIFEST, "model.json", "attnc.json", "history.json", "history.svg", weights, stateFile, ...(optFile ? [optFile, optFile.replace(/\.bin$/, ".json")] : [])];
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

type Dims = (number | null)[];
type LayerInfo = { cls: string; outs: Dims[]; config: Record<string, unknown> };

/** The op of an IR node and the layer class it is saved as. */
const CLASS_OF_OP: Record<string, string> = {
  embedding: "AttnEmbedding",
  lstm: "AttnLSTM",
  bilstm: "AttnBiLSTM",
  attention_pool: "AttnAttentionPool",
  last: "AttnReduce",
  mean_pool: "AttnReduce",
  max_pool: "AttnReduce",
  dropout: "AttnDropout",
  dense: "AttnDense",
};

/**
 * Checks model.json's topology without building it: layer names, classes and sizes, the graph, and the exact
 * weights each layer will create (names and shapes) given its configuration and its input's shape. Returns
 * the expected weights, in the order of the layers, and each layer's class and output shapes.
 */
function checkTopology(dir: string, topo: unknown): { expected: Map<string, number[]>; layers: Map<string, LayerInfo>; input: Dims; inputDtype: string; output: Dims } {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `model.json: ${where} ${what}`);
  };
  if (!isRecord(topo) || topo["class_name"] !== "Model" || !isRecord(topo["config"])) return bad("modelTopology", "must be a functional model (class_name Model)");
  const cfg = topo["config"];
  const list = cfg["layers"];
  if (!Array.isArray(list) || list.length < 2 || list.length > MODELDIR_LIMITS.layers) return bad("modelTopology.config.layers", `must be a list of 2 to ${MODELDIR_LIMITS.layers} layers`);
  const layers = new Map<string, LayerInfo>();
  const expected = new Map<string, number[]>();
  let input: Dims | null = null;
  let inputDtype = "";
  const maxEl = MODELDIR_LIMITS.weightElements;
  list.forEach((l: unknown, i) => {
    const at = `modelTopology.config.layers[${i}]`;
    if (!isRecord(l) || !isRecord(l["config"])) return bad(at, "must be an object with a config");
    const name = l["name"];
    const c = l["config"];
    if (typeof name !== "string" || !IDENTIFIER.test(name)) return bad(`${at}.name`, `${shownValue(name)} is not an identifier`);
    if (c["name"] !== name) bad(`${at}.config.name`, `must repeat the layer's name ${shownValue(name)}`);
    if (layers.has(name)) bad(`${at}.name`, `${shownValue(name)} is used twice`);
    const cls = l["class_name"];
    const inbound = l["inbound_nodes"];
    const weight = (w: string, shape: number[]): void => {
      if (!shape.every((d) => isCount(d, 1, maxEl)) || shape.reduce((x, y) => x * y, 1) > maxEl) bad(at, `would create weight ${name}/${w} of shape [${shape.join(", ")}], more than ${maxEl} values`);
      expected.set(`${name}/${w}`, shape);
    };
    const int = (key: string, min = 1, max = maxEl): number => {
      const v = c[key];
      if (!isCount(v, min, max)) bad(`${at}.config.${key}`, `must be a whole number from ${min} to ${max}, not ${shownValue(v)}`);
      return v as number;
    };
    const oneOf = (key: string, allowed: readonly string[], optional = false): string => {
      const v = c[key];
      if (optional && v === undefined) return allowed[0]!;
      if (typeof v !== "string" || !allowed.includes(v)) bad(`${at}.config.${key}`, `must be one of ${allowed.join(", ")}, not ${shownValue(v)}`);
      return v as string;
    };
    if (cls === "InputLayer") {
      if (input) bad(at, "is a second input; attnc models have one");
      if (!Array.isArray(inbound) || inbound.length !== 0) bad(`${at}.inbound_nodes`, "must be empty for an input");
      const shape = c["batch_input_shape"];
      if (!Array.isArray(shape) || shape.length < 2 || shape.length > 3 || shape[0] !== null) return bad(`${at}.config.batch_input_shape`, "must be [null, T] or [null, T, F]");
      const dims = shape.slice(1) as unknown[];
      dims.forEach((d, k) => {
        if (!(isCount(d, 1, k === 0 ? MODELDIR_LIMITS.steps : maxEl) || (k === 0 && d === null))) bad(`${at}.config.batch_input_shape[${k + 1}]`, `must be a whole number from 1 to ${k === 0 ? MODELDIR_LIMITS.steps : maxEl}, not ${shownValue(d)}`);
      });
      inputDtype = oneOf("dtype", ["int32", "float32"]);
      input = dims as Dims;
      layers.set(name, { cls, outs: [input], config: c });
      return;
    }
    if (typeof cls !== "string" || !Object.values(CLASS_OF_OP).includes(cls)) return bad(`${at}.class_name`, `${shownValue(cls)} is not a layer attnc writes`);
    // One inbound node, one tensor from an earlier layer: [[[layer, 0, output index, {}]]].
    const ref = Array.isArray(inbound) && inbound.length === 1 && Array.isArray(inbound[0]) && inbound[0].length === 1 ? (inbound[0] as unknown[])[0] : undefined;
    if (!Array.isArray(ref) || ref.length < 3 || typeof ref[0] !== "string" || ref[1] !== 0 || !isCount(ref[2], 0, 1)) return bad(`${at}.inbound_nodes`, "must name one earlier layer's output");
    const src = layers.get(ref[0] as string);
    const x = src?.outs[ref[2] as number];
    if (!x) return bad(`${at}.inbound_nodes`, `reads ${shownValue(ref[0])} output ${String(ref[2])}, which no earlier layer has`);
    const [T = null, D = null] = x;
    const rank = x.length;
    const last = x[x.length - 1] ?? null;
    const needs = (ok: boolean, what: string): void => {
      if (!ok) bad(at, `${cls} ${name} cannot read an input of shape [B, ${x.map((d) => (d === null ? "?" : String(d))).join(", ")}]${what ? ` (${what})` : ""}`);
    };
    let outs: Dims[];
    switch (cls) {
      case "AttnEmbedding": {
        needs(rank === 1 && inputDtype === "int32", "token ids [B, T]");
        const V = int("vocab");
        const E = int("dim");
        weight("embeddings", [V, E]);
        outs = [[T, E]];
        break;
      }
      case "AttnLSTM": {
        needs(rank === 2 && typeof D === "number", "a sequence [B, T, F]");
        const H = int("units");
        const F = D as number;
        weight("kernel", [F, 4 * H]);
        weight("recurrent_kernel", [H, 4 * H]);
        weight("bias", [4 * H]);
        const att = c["input_attention"];
        outs = [[T, H]];
        if (att !== undefined && att !== null) {
          if (!isRecord(att) || (att["kind"] !== "temporal" && att["kind"] !== "features") || !isCount(att["units"], 1, maxEl)) return bad(`${at}.config.input_attention`, `must be {kind: temporal or features, units}, not ${shownValue(att)}`);
          const A = att["units"];
          if (att["kind"] === "temporal") {
            weight("attention_W_h", [H, A]);
            weight("attention_W_x", [F, A]);
            weight("attention_b", [A]);
            weight("attention_v", [A]);
            outs.push([T, T]);
          } else {
            needs(typeof T === "number", "feature attention needs a fixed window T");
            weight("attention_W_e", [2 * H, A]);
            weight("attention_U_e", [T as number, A]);
            weight("attention_v", [A]);
            outs.push([T, F]);
          }
        }
        break;
      }
      case "AttnBiLSTM": {
        needs(rank === 2 && typeof D === "number", "a sequence [B, T, F]");
        const H = int("units");
        const merge = oneOf("merge", ["concat", "sum", "ave", "mul"], true);
        for (const d of ["forward_", "backward_"]) {
          weight(`${d}kernel`, [D as number, 4 * H]);
          weight(`${d}recurrent_kernel`, [H, 4 * H]);
          weight(`${d}bias`, [4 * H]);
        }
        outs = [[T, merge === "concat" ? 2 * H : H]];
        break;
      }
      case "AttnAttentionPool": {
        needs(rank === 2 && typeof D === "number", "a sequence [B, T, D]");
        if (oneOf("score", ["additive", "zhou"], true) === "zhou") weight("w", [D as number]);
        else {
          const A = int("units");
          weight("W", [D as number, A]);
          weight("b", [A]);
          weight("v", [A]);
        }
        outs = [[D], [T]];
        break;
      }
      case "AttnReduce":
        needs(rank === 2, "a sequence [B, T, D]");
        oneOf("mode", ["last", "mean", "max"]);
        outs = [[D]];
        break;
      case "AttnDropout": {
        const rate = c["rate"];
        if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) bad(`${at}.config.rate`, `must be a number from 0 to below 1, not ${shownValue(rate)}`);
        outs = [x];
        break;
      }
      default: {
        // AttnDense
        needs(typeof last === "number", "a known last dimension");
        const U = int("units");
        oneOf("activation", ["linear", "relu", "tanh", "sigmoid", "softmax"], true);
        weight("kernel", [last as number, U]);
        weight("bias", [U]);
        outs = [[...x.slice(0, -1), U]];
      }
    }
    layers.set(name, { cls, outs, config: c });
  });
  if (!input) return bad("modelTopology.config.layers", "has no InputLayer");
  for (const key of ["input_layers", "output_layers"]) {
    const refs = cfg[key];
    if (!Array.isArray(refs) || refs.length < 1 || !refs.every((r) => Array.isArray(r) && r.length === 3 && typeof r[0] === "string" && layers.has(r[0]) && r[1] === 0 && isCount(r[2], 0, 1) && layers.get(r[0])!.outs[r[2]] !== undefined)) {
      bad(`modelTopology.config.${key}`, "must name layers of the model");
    }
  }
  const first = (cfg["output_layers"] as [string, number, number][])[0]!;
  return { expected, layers, input, inputDtype, output: layers.get(first[0])!.outs[first[2]]! };
}

/** The weights manifest must list exactly the weights the topology creates, in float32, and the file must hold exactly their bytes. */
function checkWeightSpecs(dir: string, mj: Record<string, unknown>, manifest: Manifest, expected: Map<string, number[]>, bytes: number): tf.io.WeightsManifestEntry[] {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `model.json: ${where} ${what}`);
  };
  const wm = mj["weightsManifest"];
  if (!Array.isArray(wm) || wm.length !== 1 || !isRecord(wm[0])) return bad("weightsManifest", "must be a list of one group");
  const group = wm[0];
  const paths = group["paths"];
  if (!Array.isArray(paths) || paths.length !== 1 || paths[0] !== manifest.weights) bad("weightsManifest[0].paths", `must be [${shownValue(manifest.weights)}], the weights file manifest.json names`);
  const specs = group["weights"];
  if (!Array.isArray(specs)) return bad("weightsManifest[0].weights", "must be a list");
  const seen = new Set<string>();
  let total = 0;
  specs.forEach((s: unknown, i) => {
    const at = `weightsManifest[0].weights[${i}]`;
    if (!isRecord(s)) return bad(at, "must be an object");
    const name = s["name"];
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]{0,127}\/[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) return bad(`${at}.name`, `${shownValue(name)} is not layer/weight with identifiers`);
    const want = expected.get(name);
    if (!want) bad(`${at}.name`, `${shownValue(name)} is not a weight of the model's layers`);
    if (seen.has(name)) bad(`${at}.name`, `${shownValue(name)} is listed twice`);
    seen.add(name);
    if (s["dtype"] !== "float32") bad(`${at}.dtype`, `must be float32, not ${shownValue(s["dtype"])}`);
    const shape = s["shape"];
    if (!Array.isArray(shape) || shape.length !== want!.length || !shape.every((d, k) => d === want![k])) bad(`${at}.shape`, `${shownValue(shape)} disagrees with the layer, which has [${want!.join(", ")}]`);
    if (s["quantization"] !== undefined) bad(`${at}.quantization`, "is not supported");
    total += want!.reduce((x, y) => x * y, 1) * 4;
  });
  for (const name of expected.keys()) if (!seen.has(name)) bad("weightsManifest[0].weights", `lacks weight ${name}`);
  if (total !== bytes) throw damagedDir(dir, `${manifest.weights}: holds ${bytes} bytes, but model.json's weights need exactly ${total}`);
  return specs as tf.io.WeightsManifestEntry[];
}

/** attnc.json against the topology: the IR's nodes are its layers, and the fitted preprocessing fits its input and output. */
function checkMeta(dir: string, meta: unknown, topo: ReturnType<typeof checkTopology>): Record<string, unknown> {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `attnc.json: ${where} ${what}`);
  };
  if (!isRecord(meta)) return bad("the document", "must be an object");
  if (meta["format"] !== 1) bad("format", `must be 1, not ${shownValue(meta["format"])}`);
  if (typeof meta["model"] !== "string" || !IDENTIFIER.test(meta["model"])) bad("model", `${shownValue(meta["model"])} is not an identifier`);
  if (typeof meta["dataPath"] !== "string" || meta["dataPath"].length > 4096 || meta["dataPath"].includes("\0")) bad("dataPath", "must be a path");
  const ir = meta["ir"];
  if (!isRecord(ir)) return bad("ir", "must be an object");
  const nodes = ir["nodes"];
  if (!Array.isArray(nodes) || nodes.length < 1) return bad("ir.nodes", "must be a non-empty list");
  nodes.forEach((n: unknown, i) => {
    if (!isRecord(n)) return bad(`ir.nodes[${i}]`, "must be an object");
    const name = n["name"];
    if (typeof name !== "string" || !IDENTIFIER.test(name)) return bad(`ir.nodes[${i}].name`, `${shownValue(name)} is not an identifier`);
    const op = n["op"];
    if (typeof op !== "string" || !Object.hasOwn(CLASS_OF_OP, op)) return bad(`ir.nodes[${i}].op`, `${shownValue(op)} is not an op attnc knows`);
    const layer = topo.layers.get(name);
    if (!layer || layer.cls !== CLASS_OF_OP[op]) bad(`ir.nodes[${i}]`, `${name} (${op}) is not a layer of model.json`);
    const ports = n["ports"];
    if (ports !== undefined && (!isRecord(ports) || Object.keys(ports).some((k) => k !== "weights") || (ports["weights"] !== undefined && layer!.outs.length < 2))) bad(`ir.nodes[${i}].ports`, "names outputs the layer does not have");
    if (op === "lstm" && ports !== undefined) {
      const att = (n["attrs"] as Record<string, unknown> | undefined)?.["input_attention"];
      if (!isRecord(att) || (att["kind"] !== "temporal" && att["kind"] !== "features")) bad(`ir.nodes[${i}].attrs.input_attention`, "must say the kind of input attention");
    }
  });
  for (const key of ["inputs", "outputs"]) if (!Array.isArray(ir[key])) bad(`ir.${key}`, "must be a list");
  const task = meta["task"];
  const prep = meta["prep"];
  if (task !== "text" && task !== "series") return bad("task", `must be text or series, not ${shownValue(task)}`);
  if (!isRecord(prep)) return bad("prep", `is missing: the fitted ${task === "text" ? "vocabulary and labels" : "scaling"} are needed`);
  if (prep["kind"] !== task) bad("prep.kind", `must be ${task}, as task says`);
  if (!isRecord(meta["data"])) bad("data", "must be an object");
  const train = meta["train"];
  if (!isRecord(train)) return bad("train", "must be an object");
  if (!isCount(train["batch"], 1, 1 << 20)) bad("train.batch", `must be a whole number from 1 to ${1 << 20}`);
  const counts = prep["counts"];
  if (!isRecord(counts) || !["train", "validation", "test"].every((k) => isCount(counts[k]))) bad("prep.counts", "must give train, validation and test counts");
  const strings = (key: string, min: number, max: number): string[] => {
    const v = prep[key];
    if (!Array.isArray(v) || v.length < min || v.length > max || !v.every((x) => typeof x === "string" && x.length <= 10_000)) bad(`prep.${key}`, `must be a list of ${min} to ${max} strings`);
    return v as string[];
  };
  const outUnits = topo.output[topo.output.length - 1];
  if (task === "text") {
    if (!isCount(prep["maxLen"], 1, MODELDIR_LIMITS.steps)) bad("prep.maxLen", `must be a whole number from 1 to ${MODELDIR_LIMITS.steps}, not ${shownValue(prep["maxLen"])}`);
    if (topo.input.length !== 1 || topo.input[0] !== prep["maxLen"]) bad("prep.maxLen", `${shownValue(prep["maxLen"])} disagrees with the model's input [B, ${topo.input.map(String).join(", ")}]`);
    const emb = Array.from(topo.layers.values()).find((l) => l.cls === "AttnEmbedding");
    const rows = emb ? (emb.config["vocab"] as number) : 0;
    strings("vocab", 2, Math.max(2, rows));
    const labels = strings("labels", 2, 1 << 16);
    if (new Set(labels).size !== labels.length) bad("prep.labels", "has a label twice");
    if (!(outUnits === labels.length || (outUnits === 1 && labels.length === 2))) bad("prep.labels", `has ${labels.length} labels, but the model's output has ${String(outUnits)} units`);
    if (prep["tokenizer"] !== "words" && prep["tokenizer"] !== "chars") bad("prep.tokenizer", "must be words or chars");
    if (typeof prep["lowercase"] !== "boolean") bad("prep.lowercase", "must be true or false");
    if (typeof prep["textColumn"] !== "string") bad("prep.textColumn", "must be a string");
  } else {
    const features = strings("features", 1, 1 << 16);
    if (topo.input.length !== 2 || topo.input[1] !== features.length) bad("prep.features", `has ${features.length} features, but the model's input is [B, ${topo.input.map(String).join(", ")}]`);
    if (!isCount(prep["window"], 1, MODELDIR_LIMITS.steps) || topo.input[0] !== prep["window"]) bad("prep.window", `${shownValue(prep["window"])} disagrees with the model's input [B, ${topo.input.map(String).join(", ")}]`);
    if (typeof prep["target"] !== "string" || !features.includes(prep["target"])) bad("prep.target", "must be one of the features");
    for (const key of ["offset", "scale"]) {
      const v = prep[key];
      if (!Array.isArray(v) || v.length !== features.length || !v.every((x) => typeof x === "number" && Number.isFinite(x))) bad(`prep.${key}`, `must be ${features.length} finite numbers, one per feature`);
    }
    if (!(prep["scale"] as number[]).every((x) => x !== 0)) bad("prep.scale", "must not hold 0");
    for (const key of ["targetOffset", "targetScale"]) if (typeof prep[key] !== "number" || !Number.isFinite(prep[key])) bad(`prep.${key}`, "must be a finite number");
    if (prep["targetScale"] === 0) bad("prep.targetScale", "must not be 0");
    if (prep["predict"] !== "value" && prep["predict"] !== "delta") bad("prep.predict", "must be value or delta");
    if (outUnits !== 1) bad("prep", `is a forecaster's, but the model's output has ${String(outUnits)} units`);
  }
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
  if (!Array.isArray(history) || !history.every((r) => isRecord(r) && isCount(r["epoch"], 0, 1e9) && Object.values(r).every((v) => typeof v === "number"))) bad("history", "must be a list of {epoch, metric: number}");
  const best = s["best"];
  if (best !== null && !(isRecord(best) && typeof best["value"] === "number" && isCount(best["epoch"], 0, 1e9))) bad("best", "must be null or {value, epoch}");
  const dropout = s["dropout"];
  if (!isRecord(dropout) || !Object.entries(dropout).every(([k, v]) => IDENTIFIER.test(k) && isCount(v, 0))) bad("dropout", "must map layer names to whole numbers");
  const vars = s["variables"];
  if (vars !== undefined && !(Array.isArray(vars) && vars.length <= 4096 && vars.every((v) => typeof v === "string" && v.length <= 300))) bad("variables", "must be a list of names");
  const powers = s["adamPowers"];
  if (powers !== undefined && !(Array.isArray(powers) && powers.length === 2 && powers.every((p) => typeof p === "number" && Number.isFinite(p)))) bad("adamPowers", "must be two numbers");
  if (s["stopReason"] !== undefined && typeof s["stopReason"] !== "string") bad("stopReason", "must be a string");
  return s as unknown as TrainState;
}

/** Loads the newest complete checkpoint of a model directory (layers must be registered first), checking it throughout. */
export async function loadModelDir(dir: string): Promise<LoadedDir> {
  registerLayers();
  const manifest = readManifest(dir);
  if (!manifest) {
    throw new ModelDirError(existsSync(dir) ? `${dir} is not an attnc model directory (no ${MANIFEST}); train one with attnc train` : `${dir} does not exist; train a model into it with attnc train`);
  }
  const mj = readDirJson(dir, manifest.model, `${MANIFEST}: model`);
  if (!isRecord(mj)) throw damagedDir(dir, "model.json: must be an object");
  const topo = checkTopology(dir, mj["modelTopology"]);
  const bin = dirFile(dir, manifest.weights, `${MANIFEST}: weights`, MODELDIR_LIMITS.binBytes);
  const specs = checkWeightSpecs(dir, mj, manifest, topo.expected, bin.size);
  const meta = checkMeta(dir, readDirJson(dir, "attnc.json", "the directory's"), topo);
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
  const built = new Map(model.weights.map((w) => [w.originalName, w.shape]));
  for (const [name, shape] of topo.expected) {
    const got = built.get(name);
    if (!got || got.length !== shape.length || !got.every((d, k) => d === shape[k])) {
      model.dispose();
      throw damagedDir(dir, `model.json: weight ${name} does not match the layer that holds it`);
    }
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
    if (!Array.isArray(shape) || shape.length > 4 || !shape.every((d) => isCount(d, 1, MODELDIR_LIMITS.weightElements))) throw damagedDir(dir, `${at}.shape must be a list of sizes`);
    const n = (shape as number[]).reduce((x, y) => x * y, 1);
    const slash = s["name"].lastIndexOf("/");
    const owner = sizes.get(slash > 0 ? s["name"].slice(0, slash) : s["name"]);
    if (shape.length > 0 && !(owner && owner.length === shape.length && owner.every((d, k) => d === shape[k]))) throw damagedDir(dir, `${at} ${shownValue(s["name"])} is not the shape of a weight of the model`);
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
