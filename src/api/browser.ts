/**
 * attnc's runtime for a web page (`import { loadModel } from "attnc/runtime"`): loads a model directory from a
 * URL (the folder `attnc train` wrote, served as static files) and predicts and explains in data units, as the
 * Node entry does. No Node built-ins, so a bundler can put it in a page. TensorFlow.js picks its backend as the
 * page sets it (webgl, wasm or cpu); attnc's layers run on any of them.
 *
 * @module attnc/runtime
 */
import { checkDirFiles } from "../modeldir/schemas.js";
import * as validators from "../modeldir/validators.generated.js";
import { registerLayers } from "../runtime/layers.js";
import { prepareLstmModule } from "../runtime/lstm-module.js";
import { checkManifest, damagedDir, isPlainFileName, MANIFEST, MODELDIR_LIMITS, ModelDirError, modelFromFiles } from "../runtime/modeldir-format.js";
import { AttncModel } from "./model.js";

export { AttncModel, RequestError } from "./model.js";
export type { Answer, AttentionWeights, ClassPrediction, Explanation, ForecastPrediction, ModelInput, ModelRequest, Prediction } from "./model.js";
export { ModelDirError } from "../runtime/modeldir-format.js";
export { registerLayers };

export interface UrlLoadOptions {
  /** The fetch to use (the page's by default); for headers, credentials or a cache. */
  fetch?: typeof fetch;
}

/**
 * Loads the model directory at `url` (a folder URL; relative URLs resolve against the page). Each file is fetched
 * once, checked against its schema, its limits and the other files, then built; a damaged or unreachable
 * directory throws ModelDirError.
 */
export async function loadModel(url: string | URL, options: UrlLoadOptions = {}): Promise<AttncModel> {
  registerLayers();
  // The LSTM kernels' own wasm module: a page's main thread may compile it only asynchronously.
  await prepareLstmModule();
  const get = options.fetch ?? globalThis.fetch.bind(globalThis);
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let base: URL;
  try {
    base = new URL(String(url).endsWith("/") ? String(url) : `${String(url)}/`, page);
  } catch {
    throw new ModelDirError(`${JSON.stringify(String(url))} is not a URL${page === undefined ? " (outside a page, give an absolute one)" : ""}`);
  }
  const dir = base.href;
  const bytes = async (name: unknown, where: string, max: number): Promise<Uint8Array> => {
    // Only plain names in the folder itself: a manifest cannot send the page elsewhere.
    if (!isPlainFileName(name)) throw damagedDir(dir, `${where} ${JSON.stringify(name)} is not a plain file name in the directory`);
    let res: Response;
    try {
      // A redirect could lead anywhere: the files are read from the folder itself only.
      res = await get(new URL(name, base), { redirect: "error" });
    } catch (e) {
      throw new ModelDirError(`cannot fetch ${new URL(name, base).href}: ${(e as Error).message}`);
    }
    if (!res.ok)
      throw name === MANIFEST
        ? new ModelDirError(`${dir} is not an attnc model directory (${MANIFEST}: HTTP ${res.status})`)
        : damagedDir(dir, `${name}: HTTP ${res.status}`);
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > max) throw damagedDir(dir, `${name} is ${declared} bytes, more than the ${max} a model directory may hold there`);
    // Read in chunks and stopped at the limit: a server that declares no length (or a wrong one) cannot make the page hold more.
    const tooLarge = () => damagedDir(dir, `${name} is more than the ${max} bytes a model directory may hold there`);
    if (!res.body) return new Uint8Array(0);
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
    const body = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      body.set(c, at);
      at += c.byteLength;
    }
    return body;
  };
  const json = async (name: unknown, where: string): Promise<unknown> => {
    const text = new TextDecoder().decode(await bytes(name, where, MODELDIR_LIMITS.jsonBytes));
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw damagedDir(dir, `${String(name)} is not valid JSON (${(e as Error).message})`);
    }
  };
  const manifest = checkManifest(dir, await json(MANIFEST, "the directory's"));
  const [modelJson, meta, state, weights] = await Promise.all([
    json(manifest.model, `${MANIFEST}: model`),
    json("attnc.json", "the directory's"),
    json(manifest.state, `${MANIFEST}: state`),
    bytes(manifest.weights, `${MANIFEST}: weights`, MODELDIR_LIMITS.binBytes),
  ]);
  const files = { dir, manifest, modelJson, meta, state, weightBytes: weights.byteLength, readWeights: () => Promise.resolve(weights) };
  checkDirFiles(validators, files);
  return new AttncModel(await modelFromFiles(files));
}
