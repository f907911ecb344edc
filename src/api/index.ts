/**
 * attnc as a library, in Node: compile a spec, load a trained model directory, predict and explain in data units.
 *
 * ```ts
 * import { loadModel } from "attnc";
 * const model = await loadModel("runs/spam");
 * const [answer] = await model.predict([{ text: "win a free cruise" }]);
 * ```
 *
 * The browser entry is `attnc/runtime` (./browser.ts): the same model class, loaded from a URL, with no Node built-ins.
 *
 * @module attnc
 */
import { compile as compileSource } from "../compile.js";
import type { Diagnostic } from "../diagnostics/diagnostic.js";
import type { IrModel } from "../ir/types.js";
import type { Source } from "../diagnostics/span.js";
import { checkDirFiles } from "../modeldir/schemas.js";
import { loadDirValidators } from "../modeldir/validate.js";
import { selectBackend, type BackendChoice } from "../runtime/backend.js";
import { registerKernels } from "../runtime/kernels.js";
import { registerLayers } from "../runtime/layers.js";
import { modelFromFiles } from "../runtime/modeldir-format.js";
import { readDirFiles } from "../runtime/modeldir.js";
import { AttncModel } from "./model.js";

export { AttncModel, RequestError } from "./model.js";
export type { Answer, AttentionWeights, ClassPrediction, Explanation, ForecastPrediction, ModelInput, ModelRequest, Prediction } from "./model.js";
export { ModelDirError } from "../runtime/modeldir-format.js";
export type { Diagnostic, RelatedInfo } from "../diagnostics/diagnostic.js";
export type { Severity } from "../diagnostics/catalogue.js";
export type { Source, Span } from "../diagnostics/span.js";
export type { AttrValue, Attrs, IrDim, IrInput, IrModel, IrNode, IrNodeOf, IrWeight } from "../ir/types.js";
export type * from "../layers/attrs.js";
export type { AttentionOutput } from "../engine/build-model.js";
export type { ModelMeta, RunIr } from "../runtime/session.js";
export type { DataConfig } from "../runtime/data.js";
export type { TrainConfig } from "../runtime/train.js";
export type { Prep, SeasonInfo, SeriesPrep, Split, TextPrep } from "../runtime/prep.js";
export type { DeriveSpec } from "../runtime/derive.js";
export type { SourceConfig } from "../runtime/csv.js";
export type { SpecFingerprint } from "../runtime/fingerprint.js";
export type { BackendChoice } from "../runtime/backend.js";
export { registerLayers };

/**
 * Parses, lowers, validates and shape-checks a spec: every model's IR and every diagnostic (with its location).
 * `spec` is the spec's text (named `name` in diagnostics) or a `{name, text}` source.
 */
export async function compile(spec: string | Source, name = "spec.attn"): Promise<Compiled> {
  const r = await compileSource(typeof spec === "string" ? { name, text: spec } : spec);
  return { ok: r.ok, models: r.models, diagnostics: r.diagnostics };
}

/** What compile found: the IR of every model that lowered (complete only when `ok`) and every diagnostic, sorted. */
export interface Compiled {
  /** No error among the diagnostics. */
  ok: boolean;
  models: readonly IrModel[];
  diagnostics: readonly Diagnostic[];
}

export interface LoadOptions {
  /**
   * The TensorFlow.js backend to select first: `auto` (the default: native where @tensorflow/tfjs-node loads,
   * else wasm, else cpu), `node`, `wasm`, `cpu`, or `current` to keep the one the program has already set.
   */
  backend?: BackendChoice | "current";
}

let selected: { choice: BackendChoice; ready: Promise<string> } | undefined;

/**
 * Loads a model directory written by `attnc train` (or a generated training program). The directory is
 * untrusted: its files are checked against their schemas and each other before the model is built (a damaged
 * directory throws ModelDirError naming the file and the field), and nothing outside it is read.
 */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<AttncModel> {
  registerLayers();
  registerKernels();
  const choice = options.backend ?? "auto";
  if (choice !== "current") {
    if (selected?.choice !== choice) selected = { choice, ready: selectBackend(choice) };
    await selected.ready;
  }
  const files = readDirFiles(dir);
  checkDirFiles(await loadDirValidators(), files);
  return new AttncModel(await modelFromFiles(files));
}
