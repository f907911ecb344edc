/**
 * A trained model as the library gives it: requests in data units in, answers in data units out, exactly as
 * `attnc predict` and `attnc explain` print them (docs/requests.md). A text request is `{"text": "..."}` (or the
 * data block's text column, or `{"ids": [...]}`); a forecast request is `{"window": [...]}`, the window's rows
 * of raw feature values. Scaling and the change step (`predict delta`) are undone; labels come by name.
 *
 * No Node built-ins: the same class serves the CLI, `attnc serve` and a web page.
 */
import * as tf from "@tensorflow/tfjs";
import { attentionOutputs, explainModel, type AttentionOutput } from "../engine/build-model.js";
import type { IrModel } from "../ir/types.js";
import { dataNumber, jsonKind } from "../runtime/cells.js";
import { encodeText, nestedOutputs, outputBases, outputSteps, scaleWindow, targetColumns, tokenize, unscaleOutputs, type Prep } from "../runtime/prep.js";
import type { ModelMeta } from "../runtime/session.js";

/** One request: `{text}` or `{ids}` for a text model, `{window}` for a forecaster (docs/requests.md). */
export type ModelRequest = Readonly<Record<string, unknown>>;

/** A classifier's answer: the most probable label and every label's probability (rounded to 6 decimals). */
export interface ClassPrediction {
  label: string;
  /** By label; a null-prototype object, so labels such as "__proto__" are plain keys. */
  probabilities: Record<string, number>;
}

/**
 * A forecaster's answer, in the data's units: the target's value `horizon` steps after the window; for a model
 * of several outputs (`steps all`, several targets), one list per step forecast (1..horizon with `steps all`, else
 * the horizon alone), each the targets' values in the order the spec lists them.
 */
export interface ForecastPrediction {
  prediction: number | number[][];
}

export type Prediction = ClassPrediction | ForecastPrediction;

/** An attention layer's weights for one request. */
export interface AttentionWeights {
  /** The IR node (the layer's name). */
  node: string;
  /** `pool`: one weight per step (`[T]`, trimmed to the text's tokens); `temporal`: `[T][T]` (step t, window position i); `features`: `[T][F]`. */
  kind: AttentionOutput["kind"];
  weights: number[] | number[][];
}

/** An answer with the attention weights beside it (and, for text, the tokens the weights belong to). */
export type Explanation = Prediction & {
  tokens?: string[];
  /** By node name (as `attnc explain` prints them). */
  attention: Record<string, number[] | number[][]>;
};

/** An answer, or why the request has none (the request's own fault, or a model output that is not finite). */
export type Answer<T> = T | { error: string };

/** A request the model cannot answer; `index` is its position in the list given. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

/** What a model takes: token ids of a text, or a window of feature rows. */
export type ModelInput =
  | { kind: "text"; maxLen: number; textColumn: string; vocabSize: number }
  | {
      kind: "series";
      window: number;
      features: readonly string[];
      /** The target column, or the targets (a list) of a model that forecasts several. */
      target: string | readonly string[];
      horizon: number;
      /** "all": every step 1..horizon is forecast (absent: the step `horizon` only). */
      steps?: "all";
      predict: "value" | "delta" | "residual";
    };

class BadRequest extends Error {}

/** A request's own field (never one inherited from Object.prototype, such as "constructor"). */
function field(o: unknown, key: string): unknown {
  return o !== null && typeof o === "object" && Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

interface Encoded {
  x: Int32Array | Float32Array;
  tokens?: string[];
  /** Each target's value at the window's last step, for a forecast of the change (else 0); empty for text. */
  base: number[];
}

/** One request to model input: text, token ids, or a window of raw feature rows. */
function encode(prep: Prep, value: unknown): Encoded {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new BadRequest(`a request must be a JSON object, not ${jsonKind(value)}`);
  const p = prep;
  if (p.kind === "text") {
    const ids = field(value, "ids");
    // Token ids given directly (unless the text column itself is called "ids" and holds text).
    if (ids !== undefined && !(p.textColumn === "ids" && typeof ids === "string")) {
      if (!Array.isArray(ids) || ids.length > p.maxLen) throw new BadRequest(`"ids" must be a list of at most ${p.maxLen} token ids`);
      const x = new Int32Array(p.maxLen);
      ids.forEach((id: unknown, k) => {
        if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= p.vocab.length) {
          throw new BadRequest(
            `id ${JSON.stringify(id)?.slice(0, 40) ?? String(id)} at position ${k + 1} is not in the vocabulary (0 to ${p.vocab.length - 1})`,
          );
        }
        x[k] = id;
      });
      return { x, tokens: ids.map((id: number) => p.vocab[id]!), base: [] };
    }
    const t = field(value, p.textColumn) ?? field(value, "text");
    if (typeof t !== "string")
      throw new BadRequest(
        `needs a string field ${JSON.stringify(p.textColumn)}${p.textColumn === "text" ? "" : ' (or "text")'}${t === undefined ? "" : `, not ${jsonKind(t)}`}`,
      );
    return { x: encodeText(p, t), tokens: tokenize(p, t).slice(0, p.maxLen), base: [] };
  }
  const w = field(value, "window");
  const shape = `needs "window": ${p.window} rows of [${p.features.join(", ")}]`;
  if (!Array.isArray(w) || w.length !== p.window) throw new BadRequest(Array.isArray(w) ? `${shape}, not ${w.length}` : shape);
  const rows = w.map((row: unknown, t) => {
    if (row === null || typeof row !== "object")
      throw new BadRequest(
        `window row ${t + 1} must be a list of ${p.features.length} numbers or an object with ${p.features.map((f) => JSON.stringify(f)).join(", ")}`,
      );
    const vals = Array.isArray(row) ? row : p.features.map((f) => field(row, f));
    if (vals.length !== p.features.length)
      throw new BadRequest(`window row ${t + 1} must hold ${p.features.length} finite numbers (${p.features.join(", ")}), not ${vals.length}`);
    return vals.map((v: unknown, k) => {
      const n = typeof v === "number" ? dataNumber(v) : `${v === undefined ? "missing" : `${jsonKind(v)}, not a number`}`;
      if (typeof n === "string") throw new BadRequest(`window row ${t + 1}, ${JSON.stringify(p.features[k])}: ${n}`);
      return n;
    });
  });
  const x = scaleWindow(p, rows);
  const at = x.findIndex((v) => !Number.isFinite(v));
  if (at >= 0)
    throw new BadRequest(
      `window row ${Math.floor(at / p.features.length) + 1}, ${JSON.stringify(p.features[at % p.features.length])}: scaled by the training statistics, the value is beyond the float32 range`,
    );
  const last = rows[rows.length - 1]!;
  const targets = targetColumns(p);
  return { x, base: outputBases(p, x, (k) => last[p.features.indexOf(targets[k]!)]!) };
}

function batchTensor(prep: Prep, xs: readonly (Int32Array | Float32Array)[]): tf.Tensor {
  const per = xs[0]!.length;
  const flat = prep.kind === "text" ? new Int32Array(xs.length * per) : new Float32Array(xs.length * per);
  xs.forEach((x, i) => flat.set(x, i * per));
  return prep.kind === "text" ? tf.tensor2d(flat, [xs.length, per], "int32") : tf.tensor3d(flat, [xs.length, prep.window, prep.features.length], "float32");
}

/** The answer to one request, or why the model's output cannot be one (a non-finite output). */
function answerOf(prep: Prep, pred: ArrayLike<number>, base: number[]): Prediction | string {
  const out = Array.from(pred);
  if (!out.every(Number.isFinite)) return "the model's output is not a finite number";
  if (prep.kind === "series") {
    const v = unscaleOutputs(prep, out, base);
    // The answer's consumers read float32, as the data files and requests are (cells.ts): beyond it is no forecast.
    if (!v.every((x) => Number.isFinite(Math.fround(x)))) return "the prediction, back in the data's units, is beyond the float32 range (about ±3.4e38)";
    if (!nestedOutputs(prep)) return { prediction: v[0]! };
    const K = targetColumns(prep).length;
    return { prediction: outputSteps(prep).map((_, s) => v.slice(s * K, (s + 1) * K)) };
  }
  const probs = out.length === 1 ? [1 - out[0]!, out[0]!] : out;
  const best = probs.indexOf(Math.max(...probs));
  // Labels are the user's strings: a null-prototype object keeps "__proto__" or "constructor" as plain keys.
  const probabilities = Object.create(null) as Record<string, number>;
  prep.labels.forEach((l, i) => (probabilities[l] = Math.round(probs[i]! * 1e6) / 1e6));
  return { label: prep.labels[best]!, probabilities };
}

/** A trained attnc model: predict and explain in data units. Dispose it when done (it holds tfjs memory). */
export class AttncModel {
  /** The model's name (the spec's `model Name`). */
  readonly name: string;
  readonly task: "text" | "series";
  /** A classifier's labels, in output order; null for a forecaster. */
  readonly labels: readonly string[] | null;
  readonly input: ModelInput;
  /** The attention layers `explain` reports. */
  readonly attention: readonly AttentionOutput[];
  /** attnc.json: the IR, the data and train settings, the fitted preprocessing (docs/model-directory.md). */
  readonly meta: ModelMeta & { ir: IrModel };
  /** The underlying TensorFlow.js model (attnc's layers registered). */
  readonly tfModel: tf.LayersModel;
  private explainer: tf.LayersModel | null = null;

  /** A model from a loaded model directory (see loadModel in the Node or browser entry). */
  constructor(loaded: { model: tf.LayersModel; meta: object }) {
    this.tfModel = loaded.model;
    this.meta = loaded.meta as ModelMeta & { ir: IrModel };
    const p = this.meta.prep;
    this.name = this.meta.model;
    this.task = p.kind;
    this.labels = p.kind === "text" ? [...p.labels] : null;
    this.input =
      p.kind === "text"
        ? { kind: "text", maxLen: p.maxLen, textColumn: p.textColumn, vocabSize: p.vocab.length }
        : {
            kind: "series",
            window: p.window,
            features: [...p.features],
            target: typeof p.target === "string" ? p.target : [...p.target],
            horizon: p.horizon,
            ...(p.steps === "all" ? { steps: "all" as const } : {}),
            predict: p.predict,
          };
    this.attention = attentionOutputs(this.meta.ir);
  }

  /** The IR the model was built from. */
  get ir(): IrModel {
    return this.meta.ir;
  }

  private encodeAll(requests: readonly unknown[]): (Encoded | string)[] {
    if (!Array.isArray(requests)) throw new TypeError(`requests must be a list of request objects, not ${jsonKind(requests)}`);
    return requests.map((r) => {
      try {
        return encode(this.meta.prep, r);
      } catch (e) {
        if (e instanceof BadRequest) return e.message;
        throw e;
      }
    });
  }

  /** Answers each request, in order; a request that cannot be answered gets `{error}` and the others go on. One batch through the model. */
  async answer(requests: readonly unknown[]): Promise<Answer<Prediction>[]> {
    const slots = this.encodeAll(requests);
    const good = slots.filter((s): s is Encoded => typeof s !== "string");
    let rows: Float32Array | null = null;
    let width = 0;
    if (good.length > 0) {
      const x = batchTensor(
        this.meta.prep,
        good.map((g) => g.x),
      );
      const pred = this.tfModel.predict(x) as tf.Tensor;
      width = pred.shape[1] ?? 1;
      rows = (await pred.data()) as Float32Array;
      tf.dispose([x, pred]);
    }
    let k = 0;
    return slots.map((s) => {
      if (typeof s === "string") return { error: s };
      const row = rows!.subarray(k * width, (k + 1) * width);
      k++;
      const a = answerOf(this.meta.prep, row, s.base);
      return typeof a === "string" ? { error: a } : a;
    });
  }

  /** Predictions for the requests; throws RequestError for the first that cannot be answered. */
  async predict(requests: readonly ModelRequest[]): Promise<Prediction[]> {
    return (await this.answer(requests)).map((a, i) => {
      if ("error" in a) throw new RequestError(`request ${i + 1}: ${a.error}`, i);
      return a;
    });
  }

  /** Like answer, with each attention layer's weights (and a text's tokens); `{error}` for a request that has none. */
  async explainEach(requests: readonly unknown[]): Promise<Answer<Explanation>[]> {
    if (this.attention.length === 0) throw new Error(`model ${this.name} has no attention layer to explain`);
    this.explainer ??= explainModel(this.tfModel, this.attention);
    const slots = this.encodeAll(requests);
    const good = slots.filter((s): s is Encoded => typeof s !== "string");
    let outs: tf.Tensor[] = [];
    if (good.length > 0) {
      const x = batchTensor(
        this.meta.prep,
        good.map((g) => g.x),
      );
      outs = this.explainer.predict(x) as tf.Tensor[];
      x.dispose();
    }
    try {
      const preds = outs.length > 0 ? (outs[0]!.arraySync() as number[][]) : [];
      const weights = outs.slice(1).map((o) => o.arraySync() as number[][] | number[][][]);
      let k = 0;
      return slots.map((s) => {
        if (typeof s === "string") return { error: s };
        const i = k++;
        const a = answerOf(this.meta.prep, preds[i]!, s.base);
        if (typeof a === "string") return { error: a };
        const attention = Object.create(null) as Record<string, number[] | number[][]>;
        this.attention.forEach((at, j) => {
          const w = weights[j]![i]!;
          // Pooling weights past a text's end belong to padding: only the tokens' are given.
          attention[at.node] = at.kind === "pool" && s.tokens ? (w as number[]).slice(0, Math.max(1, s.tokens.length)) : w;
        });
        return { ...a, ...(s.tokens ? { tokens: s.tokens } : {}), attention };
      });
    } finally {
      tf.dispose(outs);
    }
  }

  /** Explanations for the requests; throws RequestError for the first that cannot be answered. */
  async explain(requests: readonly ModelRequest[]): Promise<Explanation[]> {
    return (await this.explainEach(requests)).map((a, i) => {
      if ("error" in a) throw new RequestError(`request ${i + 1}: ${a.error}`, i);
      return a;
    });
  }

  /** Frees the model's tensors. */
  dispose(): void {
    this.explainer = null;
    this.tfModel.dispose();
  }
}
