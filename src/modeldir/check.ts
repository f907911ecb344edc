/**
 * The checks of a model directory against itself that a schema cannot express, run by the CLI before the
 * runtime loads anything: from each layer's configuration and its input's shape, the weights it will create,
 * which the weights manifest must list exactly and the weights file must hold to the byte; and attnc.json
 * against the topology. Nothing is allocated before these pass (a layer of 1e9 units is refused here, not by
 * running out of memory in TensorFlow.js).
 */
import type * as tf from "@tensorflow/tfjs";
import { derivedNames, type DeriveSpec } from "../runtime/derive.js";
import { outputCount } from "../runtime/prep.js";
import { damagedDir, MODELDIR_LIMITS, weightGroup, type Manifest } from "../runtime/modeldir-format.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function shownValue(v: unknown): string {
  // JSON would show -0 as 0 and a non-finite number (1e400 reads as Infinity) as null.
  if (typeof v === "number" && (Object.is(v, -0) || !Number.isFinite(v))) return Object.is(v, -0) ? "-0" : String(v);
  const t = JSON.stringify(v);
  return t === undefined ? String(v) : t.length > 60 ? `${t.slice(0, 57)}...` : t;
}

function isCount(v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

type Dims = (number | null)[];
type LayerInfo = { cls: string; outs: Dims[]; config: Record<string, unknown> };

/** The op of an IR node and the layer class it is saved as. */
export const CLASS_OF_OP: Record<string, string> = {
  embedding: "AttnEmbedding",
  lstm: "AttnLSTM",
  bilstm: "AttnBiLSTM",
  gru: "AttnGRU",
  bigru: "AttnBiGRU",
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
export function checkTopology(
  dir: string,
  topo: unknown,
): { expected: Map<string, number[]>; layers: Map<string, LayerInfo>; input: Dims; inputDtype: string; output: Dims } {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `model.json: ${where} ${what}`);
  };
  if (!isRecord(topo) || topo["class_name"] !== "Model" || !isRecord(topo["config"]))
    return bad("modelTopology", "must be a functional model (class_name Model)");
  const cfg = topo["config"];
  const list = cfg["layers"];
  if (!Array.isArray(list) || list.length < 2 || list.length > MODELDIR_LIMITS.layers)
    return bad("modelTopology.config.layers", `must be a list of 2 to ${MODELDIR_LIMITS.layers} layers`);
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
      if (!shape.every((d) => isCount(d, 1, maxEl)) || shape.reduce((x, y) => x * y, 1) > maxEl)
        bad(at, `would create weight ${name}/${w} of shape [${shape.join(", ")}], more than ${maxEl} values`);
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
      if (!Array.isArray(shape) || shape.length < 2 || shape.length > 3 || shape[0] !== null)
        return bad(`${at}.config.batch_input_shape`, "must be [null, T] or [null, T, F]");
      const dims = shape.slice(1) as unknown[];
      dims.forEach((d, k) => {
        if (!(isCount(d, 1, k === 0 ? MODELDIR_LIMITS.steps : maxEl) || (k === 0 && d === null)))
          bad(`${at}.config.batch_input_shape[${k + 1}]`, `must be a whole number from 1 to ${k === 0 ? MODELDIR_LIMITS.steps : maxEl}, not ${shownValue(d)}`);
      });
      inputDtype = oneOf("dtype", ["int32", "float32"]);
      input = dims as Dims;
      layers.set(name, { cls, outs: [input], config: c });
      return;
    }
    if (typeof cls !== "string" || !Object.values(CLASS_OF_OP).includes(cls)) return bad(`${at}.class_name`, `${shownValue(cls)} is not a layer attnc writes`);
    // One inbound node, one tensor from an earlier layer: [[[layer, 0, output index, {}]]].
    const ref =
      Array.isArray(inbound) && inbound.length === 1 && Array.isArray(inbound[0]) && inbound[0].length === 1 ? (inbound[0] as unknown[])[0] : undefined;
    if (!Array.isArray(ref) || ref.length < 3 || typeof ref[0] !== "string" || ref[1] !== 0 || !isCount(ref[2], 0, 1))
      return bad(`${at}.inbound_nodes`, "must name one earlier layer's output");
    const src = layers.get(ref[0] as string);
    const x = src?.outs[ref[2] as number];
    if (!x) return bad(`${at}.inbound_nodes`, `reads ${shownValue(ref[0])} output ${String(ref[2])}, which no earlier layer has`);
    const [T = null, D = null] = x;
    const rank = x.length;
    const last = x[x.length - 1] ?? null;
    const needs = (ok: boolean, what: string): void => {
      if (!ok)
        bad(at, `${cls} ${name} cannot read an input of shape [B, ${x.map((d) => (d === null ? "?" : String(d))).join(", ")}]${what ? ` (${what})` : ""}`);
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
          if (!isRecord(att) || (att["kind"] !== "temporal" && att["kind"] !== "features") || !isCount(att["units"], 1, maxEl))
            return bad(`${at}.config.input_attention`, `must be {kind: temporal or features, units}, not ${shownValue(att)}`);
          const A = att["units"];
          if (att["kind"] === "temporal") {
            weight("attention_W_h", [H, A]);
            weight("attention_W_x", [F, A]);
            weight("attention_b", [A]);
            weight("attention_v", [A]);
            // The schema allows only these values; absent is the seed's form (replace, none).
            if (att["feed"] === "concat") weight("attention_kernel", [F, 4 * H]);
            if (att["position"] === "offset") {
              needs(typeof T === "number", "position offset needs a fixed window T");
              weight("attention_p", [2 * (T as number) - 1]);
            }
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
      case "AttnGRU":
      case "AttnBiGRU": {
        needs(rank === 2 && typeof D === "number", "a sequence [B, T, F]");
        const H = int("units");
        const bi = cls === "AttnBiGRU";
        const merge = bi ? oneOf("merge", ["concat", "sum", "ave", "mul"], true) : "";
        // reset_after (default true) keeps an input and a recurrent bias row; the schema allows only booleans.
        const bias = c["reset_after"] === false ? [3 * H] : [2, 3 * H];
        for (const d of bi ? ["forward_", "backward_"] : [""]) {
          weight(`${d}kernel`, [D as number, 3 * H]);
          weight(`${d}recurrent_kernel`, [H, 3 * H]);
          weight(`${d}bias`, bias);
        }
        outs = [[T, bi && merge === "concat" ? 2 * H : H]];
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
    if (
      !Array.isArray(refs) ||
      refs.length < 1 ||
      !refs.every(
        (r) =>
          Array.isArray(r) &&
          r.length === 3 &&
          typeof r[0] === "string" &&
          layers.has(r[0]) &&
          r[1] === 0 &&
          isCount(r[2], 0, 1) &&
          layers.get(r[0])!.outs[r[2]] !== undefined,
      )
    ) {
      bad(`modelTopology.config.${key}`, "must name layers of the model");
    }
  }
  const first = (cfg["output_layers"] as [string, number, number][])[0]!;
  return { expected, layers, input, inputDtype, output: layers.get(first[0])!.outs[first[2]]! };
}

/** The weights manifest must list exactly the weights the topology creates, in float32, and the file must hold exactly their bytes. */
export function checkWeightSpecs(
  dir: string,
  mj: Record<string, unknown>,
  manifest: Manifest,
  expected: Map<string, number[]>,
  bytes: number,
): tf.io.WeightsManifestEntry[] {
  const bad = (where: string, what: string): never => {
    throw damagedDir(dir, `model.json: ${where} ${what}`);
  };
  const specs = weightGroup(dir, mj, manifest);
  const seen = new Set<string>();
  let total = 0;
  specs.forEach((s: unknown, i) => {
    const at = `weightsManifest[0].weights[${i}]`;
    if (!isRecord(s)) return bad(at, "must be an object");
    const name = s["name"];
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]{0,127}\/[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name))
      return bad(`${at}.name`, `${shownValue(name)} is not layer/weight with identifiers`);
    const want = expected.get(name);
    if (!want) bad(`${at}.name`, `${shownValue(name)} is not a weight of the model's layers`);
    if (seen.has(name)) bad(`${at}.name`, `${shownValue(name)} is listed twice`);
    seen.add(name);
    if (s["dtype"] !== "float32") bad(`${at}.dtype`, `must be float32, not ${shownValue(s["dtype"])}`);
    const shape = s["shape"];
    if (!Array.isArray(shape) || shape.length !== want!.length || !shape.every((d, k) => d === want![k]))
      bad(`${at}.shape`, `${shownValue(shape)} disagrees with the layer, which has [${want!.join(", ")}]`);
    if (s["quantization"] !== undefined) bad(`${at}.quantization`, "is not supported");
    total += want!.reduce((x, y) => x * y, 1) * 4;
  });
  for (const name of expected.keys()) if (!seen.has(name)) bad("weightsManifest[0].weights", `lacks weight ${name}`);
  if (total !== bytes) throw damagedDir(dir, `${manifest.weights}: holds ${bytes} bytes, but model.json's weights need exactly ${total}`);
  return specs as tf.io.WeightsManifestEntry[];
}

/** The largest magnitude of a fitted offset or scale: data cells lie within the float32 range, their differences within twice it. */
export const PREP_NUMBER_LIMIT = 2 * 3.4028234663852886e38;
/** The smallest scale training fits (a spread at or below it scales by 1). */
export const PREP_SCALE_MIN = 1e-12;

/** A list's first repeated entry, or undefined. */
function repeated(list: readonly unknown[]): unknown {
  const seen = new Set<string>();
  for (const x of list) {
    const key = JSON.stringify(x);
    if (seen.has(key)) return x;
    seen.add(key);
  }
  return undefined;
}

/**
 * attnc.json's fitted preprocessing against the data block it was fitted from (attnc.json's `data`, the spec's):
 * the window, horizon, stride, steps, columns, derived features, scaling and split must be the block's, and the
 * fitted numbers in the ranges training writes (a hand-edited 1e308, -0 or negative scale is refused here, not
 * turned into Infinity by a forecast).
 */
function checkPrepAgainstData(prep: Record<string, unknown>, data: Record<string, unknown>, bad: (where: string, what: string) => never): void {
  const agree = (field: string, have: unknown, dataField: string, want: unknown, key: (v: unknown) => unknown = (v) => v): void => {
    if (JSON.stringify(key(have)) !== JSON.stringify(key(want)))
      bad(`prep.${field}`, `${shownValue(have)} disagrees with ${dataField} ${shownValue(want)}, the data block it was fitted from`);
  };
  const source = isRecord(data["source"]) ? data["source"] : {};
  const split = isRecord(data["split"]) ? data["split"] : undefined;
  if (isRecord(prep["split"])) {
    const s = prep["split"];
    const order = split?.["order"] ?? (prep["kind"] === "series" ? "chronological" : "shuffled");
    agree("split.order", s["order"], "data.split.order", order);
    for (const key of ["train", "validation", "test", "seed"]) if (split?.[key] !== undefined) agree(`split.${key}`, s[key], `data.split.${key}`, split[key]);
    const fractions = [s["train"], s["validation"], s["test"]];
    if (!fractions.every((f) => typeof f === "number" && f >= 0 && f <= 1) || (fractions as number[]).reduce((a, b) => a + b, 0) > 1 + 1e-9)
      bad("prep.split", "must give train, validation and test fractions from 0 to 1 that add up to at most 1");
  }
  if (prep["kind"] === "text") {
    const tok = isRecord(data["tokenizer"]) ? data["tokenizer"] : {};
    agree("tokenizer", prep["tokenizer"], "data.tokenizer.kind", tok["kind"]);
    agree("lowercase", prep["lowercase"], "data.tokenizer.lowercase", tok["lowercase"] ?? true);
    agree("maxLen", prep["maxLen"], "data.tokenizer.max_len", tok["max_len"]);
    agree("textColumn", prep["textColumn"], "data.source.text", source["text"]);
    agree("labelColumn", prep["labelColumn"], "data.source.label", source["label"]);
    const vocab = prep["vocab"];
    if (Array.isArray(vocab)) {
      if (vocab[0] !== "<pad>" || vocab[1] !== "<oov>")
        bad("prep.vocab", `must begin with "<pad>" and "<oov>" (ids 0 and 1), not ${shownValue(vocab.slice(0, 2))}`);
      if (typeof tok["vocab"] === "number" && vocab.length > tok["vocab"])
        bad("prep.vocab", `has ${vocab.length} entries, more than data.tokenizer.vocab ${tok["vocab"]}`);
      const twice = repeated(vocab);
      if (twice !== undefined) bad("prep.vocab", `has ${shownValue(twice)} twice`);
    }
    return;
  }
  const win = isRecord(data["window"]) ? data["window"] : {};
  agree("window", prep["window"], "data.window.size", win["size"]);
  agree("horizon", prep["horizon"], "data.window.horizon", win["horizon"] ?? 1);
  agree("stride", prep["stride"], "data.window.stride", win["stride"] ?? 1);
  agree("steps", prep["steps"] ?? "last", "data.window.steps", win["steps"] ?? "last");
  if (win["predict"] !== undefined) agree("predict", prep["predict"], "data.window.predict", win["predict"]);
  agree("target", prep["target"], "data.source.target", source["target"]);
  agree("time", prep["time"], "data.source.time", source["time"] ?? null);
  agree("scaling", prep["scaling"], "data.scale", data["scale"] ?? "standard");
  agree("calendar", prep["calendar"] ?? [], "data.calendar", data["calendar"] ?? []);
  // Each derived feature by its kind, column and steps (the order of an object's keys does not matter).
  const deriveKey = (list: unknown): unknown => (list as unknown[]).map((d) => (isRecord(d) ? [d["kind"], d["column"], d["steps"] ?? null] : d));
  const derive = Array.isArray(prep["derive"]) ? prep["derive"] : [];
  const dataDerive = Array.isArray(data["derive"]) ? data["derive"] : [];
  agree("derive", derive, "data.derive", dataDerive, deriveKey);
  const season = prep["season"];
  if (isRecord(season) && win["season"] !== undefined) agree("season.period", season["period"], "data.window.season", win["season"]);
  const features = prep["features"];
  if (Array.isArray(features) && Array.isArray(source["features"])) {
    const twice = repeated(features);
    if (twice !== undefined) bad("prep.features", `names ${shownValue(twice)} twice`);
    const want = [...(source["features"] as string[]), ...derivedNames(data["calendar"] as string[] | undefined, dataDerive as DeriveSpec[])];
    agree("features", features, "the data block's features and derived features", want);
  }
  const counts = prep["counts"];
  if (isRecord(counts) && typeof prep["rows"] === "number") {
    const total = ["train", "validation", "test"].reduce((a, k) => a + (typeof counts[k] === "number" ? (counts[k] as number) : 0), 0);
    if (total > prep["rows"]) bad("prep.counts", `add up to ${total} windows, more than the ${prep["rows"]} rows of prep.rows`);
  }
  // One output scaling per output: a number for a model of one output, else a list.
  if (typeof prep["horizon"] === "number" && (typeof prep["target"] === "string" || Array.isArray(prep["target"]))) {
    const outputs = outputCount(prep as { horizon: number; steps?: "last" | "all"; target: string | string[] });
    for (const key of ["targetOffset", "targetScale"]) {
      const v = prep[key];
      if (outputs === 1 && Array.isArray(v)) bad(`prep.${key}`, "is a list, but the model forecasts one output: it must be one number");
      if (outputs > 1 && !Array.isArray(v)) bad(`prep.${key}`, `must be a list of ${outputs} numbers, one per output, not ${shownValue(v)}`);
    }
  }
  // The fitted numbers, in the ranges training writes.
  const inRange = (field: string, v: unknown, scale: boolean): void => {
    const ok = typeof v === "number" && Number.isFinite(v) && (scale ? v >= PREP_SCALE_MIN && v <= PREP_NUMBER_LIMIT : Math.abs(v) <= PREP_NUMBER_LIMIT);
    if (!ok)
      bad(
        `prep.${field}`,
        scale
          ? `must be a scale from ${PREP_SCALE_MIN} to ${PREP_NUMBER_LIMIT.toPrecision(2)}, not ${shownValue(v)}`
          : `must be a number from -${PREP_NUMBER_LIMIT.toPrecision(2)} to ${PREP_NUMBER_LIMIT.toPrecision(2)}, not ${shownValue(v)}`,
      );
  };
  for (const [key, scale] of [
    ["offset", false],
    ["scale", true],
    ["targetOffset", false],
    ["targetScale", true],
  ] as const) {
    const v = prep[key];
    if (Array.isArray(v)) v.forEach((x, i) => inRange(`${key}[${i}]`, x, scale));
    else inRange(key, v, scale);
  }
}

/** attnc.json against the topology: the IR's nodes are its layers, and the fitted preprocessing fits its input and output. */
export function checkMeta(dir: string, meta: unknown, topo: ReturnType<typeof checkTopology>): Record<string, unknown> {
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
    if (
      ports !== undefined &&
      (!isRecord(ports) || Object.keys(ports).some((k) => k !== "weights") || (ports["weights"] !== undefined && layer!.outs.length < 2))
    )
      bad(`ir.nodes[${i}].ports`, "names outputs the layer does not have");
    if (op === "lstm" && ports !== undefined) {
      const att = (n["attrs"] as Record<string, unknown> | undefined)?.["input_attention"];
      if (!isRecord(att) || (att["kind"] !== "temporal" && att["kind"] !== "features"))
        bad(`ir.nodes[${i}].attrs.input_attention`, "must say the kind of input attention");
    }
  });
  for (const key of ["inputs", "outputs"]) if (!Array.isArray(ir[key])) bad(`ir.${key}`, "must be a list");
  const task = meta["task"];
  const prep = meta["prep"];
  if (task !== "text" && task !== "series") return bad("task", `must be text or series, not ${shownValue(task)}`);
  if (!isRecord(prep)) return bad("prep", `is missing: the fitted ${task === "text" ? "vocabulary and labels" : "scaling"} are needed`);
  if (prep["kind"] !== task) bad("prep.kind", `must be ${task}, as task says`);
  if (!isRecord(meta["data"])) return bad("data", "must be an object");
  checkPrepAgainstData(prep, meta["data"], bad);
  const train = meta["train"];
  if (!isRecord(train)) return bad("train", "must be an object");
  if (!isCount(train["batch"], 1, 1 << 20)) bad("train.batch", `must be a whole number from 1 to ${1 << 20}`);
  const counts = prep["counts"];
  if (!isRecord(counts) || !["train", "validation", "test"].every((k) => isCount(counts[k]))) bad("prep.counts", "must give train, validation and test counts");
  const strings = (key: string, min: number, max: number): string[] => {
    const v = prep[key];
    if (!Array.isArray(v) || v.length < min || v.length > max || !v.every((x) => typeof x === "string" && x.length <= 10_000))
      bad(`prep.${key}`, `must be a list of ${min} to ${max} strings`);
    return v as string[];
  };
  const outUnits = topo.output[topo.output.length - 1];
  if (task === "text") {
    if (!isCount(prep["maxLen"], 1, MODELDIR_LIMITS.steps))
      bad("prep.maxLen", `must be a whole number from 1 to ${MODELDIR_LIMITS.steps}, not ${shownValue(prep["maxLen"])}`);
    if (topo.input.length !== 1 || topo.input[0] !== prep["maxLen"])
      bad("prep.maxLen", `${shownValue(prep["maxLen"])} disagrees with the model's input [B, ${topo.input.map(String).join(", ")}]`);
    const emb = Array.from(topo.layers.values()).find((l) => l.cls === "AttnEmbedding");
    const rows = emb ? (emb.config["vocab"] as number) : 0;
    strings("vocab", 2, Math.max(2, rows));
    const labels = strings("labels", 2, 1 << 16);
    if (new Set(labels).size !== labels.length) bad("prep.labels", "has a label twice");
    if (!(outUnits === labels.length || (outUnits === 1 && labels.length === 2)))
      bad("prep.labels", `has ${labels.length} labels, but the model's output has ${String(outUnits)} units`);
    if (prep["tokenizer"] !== "words" && prep["tokenizer"] !== "chars") bad("prep.tokenizer", "must be words or chars");
    if (typeof prep["lowercase"] !== "boolean") bad("prep.lowercase", "must be true or false");
    if (typeof prep["textColumn"] !== "string") bad("prep.textColumn", "must be a string");
  } else {
    const features = strings("features", 1, 1 << 16);
    if (topo.input.length !== 2 || topo.input[1] !== features.length)
      bad("prep.features", `has ${features.length} features, but the model's input is [B, ${topo.input.map(String).join(", ")}]`);
    if (!isCount(prep["window"], 1, MODELDIR_LIMITS.steps) || topo.input[0] !== prep["window"])
      bad("prep.window", `${shownValue(prep["window"])} disagrees with the model's input [B, ${topo.input.map(String).join(", ")}]`);
    const derived = derivedNames(prep["calendar"] as string[] | undefined, prep["derive"] as DeriveSpec[] | undefined);
    const sources = features.slice(0, features.length - derived.length);
    if (sources.length === 0 || derived.some((d, i) => features[sources.length + i] !== d))
      bad("prep.features", `must end with the derived features (${derived.join(", ")}) after at least one column of the file`);
    const target = prep["target"];
    const targets = typeof target === "string" ? [target] : Array.isArray(target) ? target : [];
    if (targets.length === 0 || !targets.every((t) => typeof t === "string") || (Array.isArray(target) && new Set(targets).size !== targets.length))
      bad("prep.target", "must be a string or a list of distinct strings");
    if (prep["predict"] === "delta" && !targets.every((t) => sources.includes(t as string)))
      bad("prep.target", "must be one of the file's feature columns (each target, for several): the model forecasts its change");
    if (prep["steps"] !== undefined && prep["steps"] !== "last" && prep["steps"] !== "all") bad("prep.steps", "must be last or all");
    if (prep["steps"] === "all" && !isCount(prep["horizon"], 1, MODELDIR_LIMITS.steps)) bad("prep.steps", "is all, but the horizon is not 1 or more");
    const outputs = (prep["steps"] === "all" && typeof prep["horizon"] === "number" ? prep["horizon"] : 1) * targets.length;
    for (const key of ["offset", "scale"]) {
      const v = prep[key];
      if (!Array.isArray(v) || v.length !== features.length || !v.every((x) => typeof x === "number" && Number.isFinite(x)))
        bad(`prep.${key}`, `must be ${features.length} finite numbers, one per feature`);
    }
    if (!(prep["scale"] as number[]).every((x) => x !== 0)) bad("prep.scale", "must not hold 0");
    for (const key of ["targetOffset", "targetScale"]) {
      const v = prep[key];
      if (
        outputs === 1
          ? typeof v !== "number" || !Number.isFinite(v)
          : !Array.isArray(v) || v.length !== outputs || !v.every((x) => typeof x === "number" && Number.isFinite(x))
      )
        bad(`prep.${key}`, outputs === 1 ? "must be a finite number" : `must be ${outputs} finite numbers, one per output`);
    }
    if (prep["targetScale"] === 0 || (Array.isArray(prep["targetScale"]) && prep["targetScale"].includes(0))) bad("prep.targetScale", "must not be 0");
    if (prep["predict"] !== "value" && prep["predict"] !== "delta" && prep["predict"] !== "residual") bad("prep.predict", "must be value, delta or residual");
    if (prep["predict"] === "residual") {
      const linear = prep["linear"];
      const n = outputs * (features.length * (prep["window"] as number) + 1);
      if (!isRecord(linear)) bad("prep.linear", "must be an object (lambda, weights): the model forecasts its difference from that linear forecast");
      const { lambda, weights } = linear as Record<string, unknown>;
      if (typeof lambda !== "number" || !(lambda >= 0) || !Number.isFinite(lambda)) bad("prep.linear.lambda", "must be a finite number, 0 or more");
      if (!Array.isArray(weights) || weights.length !== n || !weights.every((x) => typeof x === "number" && Math.abs(x) <= PREP_NUMBER_LIMIT))
        bad("prep.linear.weights", `must be ${n} numbers within ±${PREP_NUMBER_LIMIT.toPrecision(2)} (window x features + 1 per output)`);
    } else if (prep["linear"] !== undefined) bad("prep.linear", `is only for predict residual, and predict is ${shownValue(prep["predict"])}`);
    if (outUnits !== outputs)
      bad("prep", `is a forecaster's of ${outputs} output${outputs === 1 ? "" : "s"}, but the model's output has ${String(outUnits)} units`);
  }
  return meta;
}

/** All of the above for a directory whose files have been read: model.json, attnc.json and the weights file's size. */
export function checkModelDirContents(dir: string, manifest: Manifest, modelJson: unknown, meta: unknown, weightBytes: number): void {
  if (!isRecord(modelJson)) throw damagedDir(dir, "model.json: the document must be an object");
  const topo = checkTopology(dir, modelJson["modelTopology"]);
  checkWeightSpecs(dir, modelJson, manifest, topo.expected, weightBytes);
  checkMeta(dir, meta, topo);
}
