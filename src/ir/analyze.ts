import type { DiagnosticBag, RelatedInfo } from "../diagnostics/diagnostic.js";
import type { Span } from "../diagnostics/span.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { dict, own } from "../util.js";
import { derivedNames, type DeriveSpec } from "../runtime/derive.js";
import { fillDefaults } from "./defaults.js";
import type { Lowered, RawModel } from "./lower.js";
import { DATA_SETTINGS, LIMITS, TRAIN_SETTINGS } from "./signatures.js";
import { defaultPredict, type DataSettings, type TrainSettings } from "../runtime/settings.js";
import { RIDGE_MAX_INPUTS } from "../runtime/ridge.js";
import { formatShape } from "../layers/node.js";
import type { IrDim, IrModel, IrNode, OpName } from "./types.js";
import type { InferContext, LayerValue } from "../layers/kind.js";
import { kindOf, LAYERS } from "../layers/registry.js";

/**
 * Models beyond this many float32 parameters are refused at compile time: 256 MiB of weights, about 1 GiB in
 * training with their gradients and Adam's two moments.
 */
export const MAX_PARAMS = 2 ** 26;

/**
 * The activation memory one training batch may need, by the estimate of `activationFloats` (the values kept
 * for the backward pass and their gradients), so that a model that checks also trains.
 */
export const MAX_ACTIVATION_BYTES = 2 ** 31;

/** The batch size the memory estimate assumes when the train block gives none (its default). */
const DEFAULT_BATCH = 32;

/** What flows along an edge of the graph. */
type Value = LayerValue;

type Mutable = { [key: string]: unknown };

export { formatShape };

/**
 * Binds dimensions from the data block, infers every node's shape, mask and weights, and checks the
 * data and train blocks against the model. Nodes whose attributes failed validation are skipped.
 */
export function analyze(lowered: Lowered, failedPaths: readonly string[], bag: DiagnosticBag): IrModel {
  return new Analysis(lowered, failedPaths, bag).run();
}

class Analysis {
  private readonly ir: RawModel;
  private readonly failedExact: ReadonlySet<string>;
  private readonly failedAround = new Set<string>();
  /** Producers by name, for messages about ports. */
  private readonly built = new Map<string, IrNode>();
  private readonly dims: { [name: string]: number | null };
  private readonly values = new Map<string, Value | undefined>();
  private readonly nodes: IrNode[] = [];

  constructor(
    private readonly lowered: Lowered,
    failed: readonly string[],
    private readonly bag: DiagnosticBag,
  ) {
    this.ir = lowered.ir;
    this.failedExact = new Set(failed);
    // Every failed path and its ancestors: a lookup per path instead of a scan of the failures.
    for (const f of failed) for (let p = f; p !== "" && !this.failedAround.has(p); p = p.slice(0, Math.max(0, p.lastIndexOf("/")))) this.failedAround.add(p);
    this.dims = Object.assign(dict<number | null>(), lowered.ir.dims);
  }

  /** A path failed validation if it, one of its ancestors or one of its descendants did. */
  private isFailed(path: string): boolean {
    if (this.failedAround.has(path)) return true;
    for (let p = path; p.lastIndexOf("/") > 0;) {
      p = p.slice(0, p.lastIndexOf("/"));
      if (this.failedExact.has(p)) return true;
    }
    return false;
  }
  private span(path: string): Span {
    return this.lowered.spans.nearest(path)!.span;
  }
  private size(d: IrDim): number | null {
    return typeof d === "number" ? d : (own(this.dims, d) ?? null);
  }
  private showShape(shape: readonly IrDim[]): string {
    return formatShape(shape);
  }

  run(): IrModel {
    const data = this.ir.data && !this.isFailed("/data") ? (this.ir.data as Mutable) : undefined;
    const train = this.ir.train && !this.isFailed("/train") ? (this.ir.train as Mutable) : undefined;
    if (data) fillDefaults(data as never, DATA_SETTINGS);
    if (train) fillDefaults(train as never, TRAIN_SETTINGS);
    const task = data ? this.bindData(data) : undefined;

    this.ir.inputs.forEach((inp, i) => {
      this.values.set(inp.name, { shape: inp.shape, dtype: inp.dtype, mask: false, name: inp.name, span: this.span(`/inputs/${i}`) });
    });
    if (this.ir.inputs.length === 0 || this.ir.nodes.length === 0) {
      this.bag.report(
        "NoInput",
        this.lowered.decl.name.loc,
        this.ir.inputs.length === 0
          ? `model ${this.ir.model} declares no input (input name: int[T] or float[T, F])`
          : `model ${this.ir.model} has no layers (input -> layer -> ...)`,
      );
    }
    this.oneInputOneOutput();
    let total = 0;
    this.ir.nodes.forEach((n, i) => {
      const node = this.node(n, i);
      this.nodes.push(node);
      this.built.set(node.name, node);
      total += node.params ?? 0;
    });
    if (total > MAX_PARAMS && this.nodes.every((n) => (n.params ?? 0) <= MAX_PARAMS)) {
      this.bag.report(
        "TooLarge",
        this.lowered.decl.name.loc,
        `model ${this.ir.model} would have ${total.toExponential(2)} parameters in all (${gibibytes(total * 4)} of float32); the limit is ${MAX_PARAMS.toExponential(2)} (${gibibytes(MAX_PARAMS * 4)})`,
      );
    }
    if (data && task) this.checkTask(data, train, task);
    if (data) this.checkSource(data);
    this.checkMemory(train);

    const out: IrModel = {
      irVersion: 1,
      model: this.ir.model,
      dims: this.dims,
      inputs: this.ir.inputs,
      nodes: this.nodes,
      outputs: this.ir.outputs,
      params: total,
      // Validated against the settings tables and filled above; the types hold for a model without errors (a block
      // with errors is kept as written, for the editor, and never reaches the runtime).
      ...(this.ir.data ? { data: this.ir.data as unknown as DataSettings } : {}),
      ...(this.ir.train ? { train: this.ir.train as unknown as TrainSettings } : {}),
    };
    return out;
  }

  // ---- data binding

  private bindDim(d: IrDim | undefined, size: number, where: Span, what: string, code: "DimensionMismatch" | "FeatureCountMismatch", inputPath: string): void {
    if (d === undefined) return;
    const current = this.size(d);
    if (current === null && typeof d === "string") {
      this.dims[d] = size;
      return;
    }
    if (current !== size) {
      this.bag.report(code, where, `${what} gives ${size}, but the input declares ${typeof d === "string" ? `${d} = ${current}` : String(current)}`, {
        related: [{ message: "declared here", span: this.span(inputPath) }],
      });
    }
  }

  /**
   * A forecaster's output width from its data block: S * K, with S the steps forecast (the horizon with `steps all`,
   * else 1) and K the targets; with `stepsOnly`, S.
   */
  private outputWidth(stepsOnly = false): number {
    const data = this.ir.data as Mutable | undefined;
    const window = data?.["window"] as Mutable | undefined;
    const target = (data?.["source"] as Mutable | undefined)?.["target"];
    const S = window?.["steps"] === "all" && typeof window["horizon"] === "number" && window["horizon"] > 0 ? window["horizon"] : 1;
    const K = Array.isArray(target) ? Math.max(1, target.length) : 1;
    return stepsOnly ? S : S * K;
  }

  /** Binds T (and F) from the data block; returns the task the data describes. */
  private bindData(data: Mutable): "text" | "series" | undefined {
    const source = data["source"] as Mutable;
    const input = this.ir.inputs[0];
    const tokenizer = data["tokenizer"] as Mutable | undefined;
    const window = data["window"] as Mutable | undefined;
    const blockSpan = this.span("/data");
    const related = (path: string, message: string): RelatedInfo[] => (input ? [{ message, span: this.span(path) }] : []);
    if (tokenizer && window) {
      this.bag.report("DataKindMismatch", this.span("/data/window"), "a data block is either text (tokenizer) or a time series (window), not both", {
        related: [{ message: "tokenizer given here", span: this.span("/data/tokenizer") }],
      });
      return undefined;
    }
    if (tokenizer) {
      delete data["scale"]; // scaling is for series; the default must not show up in a text task's IR
      for (const key of ["calendar", "derive"])
        if (data[key] !== undefined)
          this.bag.report("DataKindMismatch", this.span(`/data/${key}`), `${key} features are for forecasting (a window), not for text classification`, {
            related: [{ message: "tokenizer given here", span: this.span("/data/tokenizer") }],
          });
      for (const key of ["features", "target", "time"])
        if (source[key] !== undefined)
          this.bag.report(
            "DataKindMismatch",
            this.span(`/data/source/${key}`),
            `${key} is for forecasting (a window); text classification reads the text and label columns`,
            {
              related: [{ message: "tokenizer given here", span: this.span("/data/tokenizer") }],
            },
          );
      for (const col of ["text", "label"])
        if (source[col] === undefined)
          this.bag.report("MissingColumn", this.span("/data/source"), `text classification needs the ${col} column: add ${col}: "..." to the source`);
      if (input && input.dtype !== "int32") {
        this.bag.report("DataKindMismatch", this.span("/data/tokenizer"), `the tokenizer makes token ids, but input ${input.name} is float`, {
          related: related("/inputs/0", `input ${input.name} declared here; use int[T]`),
        });
        return undefined;
      }
      if (input)
        this.bindDim(input.shape[1], tokenizer["max_len"] as number, this.span("/data/tokenizer/max_len"), "max_len", "DimensionMismatch", "/inputs/0");
      return "text";
    }
    if (window) {
      for (const key of ["text", "label"])
        if (source[key] !== undefined)
          this.bag.report(
            "DataKindMismatch",
            this.span(`/data/source/${key}`),
            `${key} is for text classification (a tokenizer); a series reads its features and target columns`,
            {
              related: [{ message: "window given here", span: this.span("/data/window") }],
            },
          );
      for (const col of ["features", "target"])
        if (source[col] === undefined)
          this.bag.report(
            "MissingColumn",
            this.span("/data/source"),
            `forecasting needs the ${col} column${col === "features" ? "s" : ""}: add ${col}: ${col === "features" ? '["..."]' : '"..."'} to the source`,
          );
      if (input && (input.dtype !== "float32" || input.shape.length !== 3)) {
        this.bag.report(
          "DataKindMismatch",
          this.span("/data/window"),
          `windows of a series need a float input [T, F], but input ${input.name} is ${input.dtype === "int32" ? "int" : "float"}${formatShape(input.shape.slice(1))}`,
          { related: related("/inputs/0", `input ${input.name} declared here`) },
        );
        return undefined;
      }
      const features = source["features"] as unknown[] | undefined;
      const targets = source["target"] === undefined ? [] : Array.isArray(source["target"]) ? (source["target"] as unknown[]) : [source["target"]];
      const derived = this.derivedFeatures(data, source);
      const inputs = typeof window["size"] === "number" && features && derived ? window["size"] * (features.length + derived.length) : Infinity;
      // A network of the window alone loses to a linear model of it on series that one describes well, and forecasting
      // a level that leaves the training range loses to persistence: the difference from the linear baseline is the
      // default where a linear forecast can be fitted, else the change where it can be learnt (settings.ts).
      if (window["predict"] === undefined)
        window["predict"] = defaultPredict(
          targets.length > 0 && targets.every((t) => features?.includes(t)),
          (window["horizon"] as number | undefined) ?? 1,
          inputs,
        );
      const missing = features ? targets.filter((t) => !features.includes(t)) : [];
      if (window["predict"] === "delta" && missing.length > 0) {
        this.bag.report(
          "DeltaNeedsTarget",
          this.span("/data/window/predict"),
          `predicting the change of ${missing.map((t) => JSON.stringify(t)).join(", ")} needs ${missing.length === 1 ? "its" : "their"} last value, so ${missing.length === 1 ? "it" : "each"} must be one of the features`,
          {
            related: [{ message: "features given here", span: this.span("/data/source/features") }],
          },
        );
      }
      if (window["steps"] === "all" && window["horizon"] === 0) {
        this.bag.report(
          "StepsNeedHorizon",
          this.span("/data/window/steps"),
          "steps all forecasts every step 1..horizon after the window, but the horizon is 0; use horizon 1 or more",
          {
            related: [{ message: "horizon given here", span: this.span("/data/window/horizon") }],
          },
        );
      }
      if (window["predict"] === "delta" && window["horizon"] === 0) {
        this.bag.report(
          "DeltaNeedsHorizon",
          this.span("/data/window/predict"),
          "with horizon 0 the target is the window's last value, so its change since that value is always 0; use horizon 1 or more, or predict value",
          {
            related: [{ message: "horizon given here", span: this.span("/data/window/horizon") }],
          },
        );
      }
      if (window["predict"] === "residual" && Number.isFinite(inputs) && inputs > RIDGE_MAX_INPUTS) {
        this.bag.report(
          "ResidualTooWide",
          this.span("/data/window/predict"),
          `predict residual adds the model's output to a linear forecast of the window, which is fitted on at most ${RIDGE_MAX_INPUTS} inputs; this window has ${inputs} (${window["size"]} steps x ${features!.length + derived!.length} features): use a shorter window, fewer features, or predict delta`,
          {
            related: [{ message: "window given here", span: this.span("/data/window/size") }],
          },
        );
      }
      if (input) {
        this.bindDim(input.shape[1], window["size"] as number, this.span("/data/window/size"), "the window", "DimensionMismatch", "/inputs/0");
        if (features && derived) {
          const all = [...(features as string[]), ...derived];
          this.bindDim(
            input.shape[2],
            all.length,
            this.span("/data/source/features"),
            derived.length > 0
              ? `the data block's features (${all.join(", ")}: ${features.length} column${features.length === 1 ? "" : "s"} of the file, ${derived.length} derived)`
              : `the features list (${features.length} column${features.length === 1 ? "" : "s"})`,
            "FeatureCountMismatch",
            "/inputs/0",
          );
        }
      }
      return "series";
    }
    this.bag.report("MissingArgument", blockSpan, "the data block needs a 'tokenizer' (text classification) or a 'window' (forecasting)");
    return undefined;
  }

  /**
   * The names of the calendar and derived features, after checking that a calendar has a time column and that
   * no two features share a name; undefined when they cannot be named (a setting failed validation).
   */
  private derivedFeatures(data: Mutable, source: Mutable): string[] | undefined {
    if (this.isFailed("/data/calendar") || this.isFailed("/data/derive")) return undefined;
    const calendar = (data["calendar"] as string[] | undefined) ?? [];
    const derive = (data["derive"] as unknown as DeriveSpec[] | undefined) ?? [];
    if (calendar.length > 0 && source["time"] === undefined)
      this.bag.report("MissingColumn", this.span("/data/calendar"), 'calendar features are computed from the time column: add time: "..." to the source');
    derive.forEach((d, i) => {
      if (d.column === "") this.bag.report("InvalidValue", this.span(`/data/derive/${i}/column`), "a derived feature's column name must not be empty");
    });
    const seen = new Map<string, string>();
    for (const [i, f] of ((source["features"] as string[] | undefined) ?? []).entries()) if (!seen.has(f)) seen.set(f, `/data/source/features/${i}`);
    const paths = [...calendar.flatMap((_, i) => [`/data/calendar/${i}`, `/data/calendar/${i}`]), ...derive.map((_, i) => `/data/derive/${i}`)];
    derivedNames(calendar, derive).forEach((name, i) => {
      const prev = seen.get(name);
      if (prev !== undefined) {
        if (prev !== paths[i])
          this.bag.report("DuplicateFeature", this.span(paths[i]!), `this makes a feature named ${JSON.stringify(name)}, a name another feature already has`, {
            related: [{ message: `${name} given here`, span: this.span(prev) }],
          });
      } else seen.set(name, paths[i]!);
    });
    return derivedNames(calendar, derive);
  }

  // ---- shapes

  private node(n: RawModel["nodes"][number], i: number): IrNode {
    const path = `/nodes/${i}`;
    const op = n.op as OpName;
    // Validated against the schema (or skipped when it failed): the attributes are the op's, defaults filled below.
    const base = { name: n.name, op, inputs: n.inputs, attrs: n.attrs } as IrNode;
    const failed = this.isFailed(path);
    if (!failed) fillDefaults(n.attrs, LAYERS[op]);
    const x = this.input(n.inputs[0]!, `${path}/inputs/0`);
    if (failed || !x) {
      this.values.set(n.name, undefined);
      return base;
    }
    const r = kindOf(base).infer(base, x, this.context(path));
    if (!r) {
      this.values.set(n.name, undefined);
      return base;
    }
    const params = r.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    if (params > MAX_PARAMS) {
      this.bag.report(
        "TooLarge",
        this.span(path),
        `${n.op} ${n.name} would have ${params.toExponential(2)} parameters (${gibibytes(params * 4)} of float32); the limit is ${MAX_PARAMS.toExponential(2)} (${gibibytes(MAX_PARAMS * 4)})`,
      );
      this.values.set(n.name, undefined);
      return base;
    }
    this.values.set(n.name, { shape: r.shape, dtype: "float32", mask: r.mask, name: n.name, span: this.span(path) });
    for (const [port, shape] of Object.entries(r.ports ?? {})) {
      this.values.set(`${n.name}.${port}`, { shape, dtype: "float32", mask: false, name: `${n.name}.${port}`, span: this.span(path) });
    }
    return { ...base, shape: r.shape, mask: r.mask, params, weights: r.weights, ...(r.ports ? { ports: r.ports } : {}) };
  }

  /** What a kind's inference may ask of the analysis, for the node at `path`. */
  private context(path: string): InferContext {
    return {
      path,
      size: (d) => this.size(d),
      span: (p) => this.span(p),
      report: (code, span, message, init) => this.bag.report(code, span, message, init),
      needVectors: (op, x) => this.needVectors(op, x, path),
      needSequence: (op, x, hint) => this.needSequence(op, x, path, hint),
      featureSize: (op, x) => this.featureSize(op, x, path),
    };
  }

  private input(ref: string, path: string): Value | undefined {
    if (ref === "_unresolved") return undefined;
    if (this.values.has(ref)) return this.values.get(ref);
    const [node, port] = ref.split(".") as [string, string];
    const producer = this.values.get(node);
    if (producer === undefined) return undefined;
    const ports = Object.keys(this.built.get(node)?.ports ?? {});
    const s = didYouMean(port, ports);
    this.bag.report(
      "UnknownPort",
      this.span(path),
      `${node} has no output '${port}'${ports.length > 0 ? `; its outputs are: ${ports.join(", ")}` : "; only attention layers have a second output (weights)"}`,
      s !== undefined ? { suggestion: s } : {},
    );
    return undefined;
  }

  private needSequence(op: string, x: Value, path: string, hint: string): boolean {
    if (x.shape.length === 3) return true;
    this.bag.report("NeedsSequence", this.span(path), `${op} needs a sequence [B, T, D], but ${x.name} gives ${this.showShape(x.shape)}${hint}`, {
      related: [{ message: `${x.name} is produced here`, span: x.span }],
    });
    return false;
  }

  private needVectors(op: string, x: Value, path: string): boolean {
    if (x.dtype === "float32") return true;
    this.bag.report(
      "NeedsFloat",
      this.span(path),
      `${op} needs vectors, but ${x.name} gives int token ids ${this.showShape(x.shape)}; put an embedding before it`,
      {
        related: [{ message: `${x.name} is declared here`, span: x.span }],
      },
    );
    return false;
  }

  private featureSize(op: string, x: Value, path: string): number | undefined {
    const d = x.shape[x.shape.length - 1]!;
    const s = this.size(d);
    if (s !== null) return s;
    // A data block with errors binds nothing; its own errors say what to fix, and F = 3 would be a wrong hint.
    if (this.ir.data && this.isFailed("/data")) return undefined;
    this.bag.report(
      "UnboundDimension",
      this.span(path),
      `${op} needs the size of dimension ${String(d)} of ${x.name}: give it in the input (${String(d)} = 3) or bind it with a data block's features`,
      {
        related: [{ message: `${x.name} is declared here`, span: x.span }],
      },
    );
    return undefined;
  }

  // ---- what training needs

  /** attnc trains a model of one input and one output head (the generated program and `attnc train` alike). */
  private oneInputOneOutput(): void {
    const first = this.ir.inputs[0];
    this.ir.inputs.slice(1).forEach((inp, k) => {
      this.bag.report(
        "OneInputOneOutput",
        this.span(`/inputs/${k + 1}`),
        `model ${this.ir.model} has a second input '${inp.name}'; attnc trains models with one input and one output head`,
        {
          related: [{ message: `the first input, ${first!.name}`, span: this.span("/inputs/0") }],
        },
      );
    });
    const outputs = this.ir.outputs;
    // After a naming error the graph is a guess (unresolved or renamed producers): its heads would be too.
    if (outputs.length <= 1 || this.lowered.bag.hasErrors) return;
    const last = outputs[outputs.length - 1]!;
    const index = new Map(this.ir.nodes.map((n, i) => [n.name, i]));
    for (const o of outputs.slice(0, -1)) {
      this.bag.report(
        "OneInputOneOutput",
        this.span(`/nodes/${index.get(o)!}`),
        `${o} is a second output head of model ${this.ir.model} (nothing reads it); attnc trains models with one input and one output head: remove it or continue its chain`,
        {
          related: [{ message: `the output head, ${last}`, span: this.span(`/nodes/${index.get(last)!}`) }],
        },
      );
    }
  }

  /** A csv delimiter is one character that cannot be confused with quoting or line ends; names are not empty. */
  private checkSource(data: Mutable): void {
    const source = data["source"] as Mutable | undefined;
    if (!source || this.isFailed("/data/source")) return;
    const d = source["delimiter"];
    if (typeof d === "string" && (d.length !== 1 || d === '"' || d === "\r" || d === "\n")) {
      this.bag.report(
        "InvalidValue",
        this.span("/data/source/delimiter"),
        `delimiter must be one character other than a quote or a line break, not ${JSON.stringify(d)}`,
      );
    }
    for (const key of ["path", "text", "label", "time", "target"]) {
      if (source[key] === "") this.bag.report("InvalidValue", this.span(`/data/source/${key}`), `${key} must not be empty`);
    }
    if (Array.isArray(source["target"])) {
      const seen = new Map<unknown, number>();
      source["target"].forEach((t, i) => {
        if (t === "") this.bag.report("InvalidValue", this.span(`/data/source/target/${i}`), "a target column name must not be empty");
        const prev = seen.get(t);
        if (prev !== undefined)
          this.bag.report(
            "InvalidValue",
            this.span(`/data/source/target/${i}`),
            `the target ${JSON.stringify(t)} is listed twice; each target is forecast once`,
            {
              related: [{ message: "first listed here", span: this.span(`/data/source/target/${prev}`) }],
            },
          );
        else seen.set(t, i);
      });
    }
    ((source["features"] as unknown[] | undefined) ?? []).forEach((f, i) => {
      if (f === "") this.bag.report("InvalidValue", this.span(`/data/source/features/${i}`), "a feature column name must not be empty");
    });
    // The time column orders the rows (and feeds the calendar); forecasting it would forecast the clock.
    const time = source["time"];
    const targets = Array.isArray(source["target"]) ? source["target"] : [source["target"]];
    targets.forEach((t, i) => {
      if (typeof time === "string" && t === time)
        this.bag.report(
          "InvalidValue",
          this.span(Array.isArray(source["target"]) ? `/data/source/target/${i}` : "/data/source/target"),
          `the target ${JSON.stringify(t)} is the time column; the time column orders the rows and is not forecast`,
          { related: [{ message: "the time column", span: this.span("/data/source/time") }] },
        );
    });
  }

  /**
   * Refuses models whose activations for one batch would not fit in memory. The estimate counts, per example,
   * each node's output, the gates and states every recurrent step keeps for the backward pass, and attention's
   * scores (temporal attention scores the whole window at every step: T x T x A), twice (values and gradients).
   */
  private checkMemory(train: Mutable | undefined): void {
    const batch = typeof train?.["batch"] === "number" ? train["batch"] : DEFAULT_BATCH;
    let floats = 0;
    let worst: { node: IrNode; index: number; floats: number } | undefined;
    this.nodes.forEach((node, index) => {
      const f = this.activationFloats(node);
      if (f === undefined) return;
      floats += f;
      if (!worst || f > worst.floats) worst = { node, index, floats: f };
    });
    const bytes = floats * 2 * 4 * batch;
    if (bytes <= MAX_ACTIVATION_BYTES || !worst) return;
    const w = worst as { node: IrNode; index: number; floats: number };
    this.bag.report(
      "TooMuchMemory",
      this.span(`/nodes/${w.index}`),
      `training model ${this.ir.model} would need about ${gibibytes(bytes)} of activations per batch of ${batch} (most of it for ${w.node.name}); the limit is ${gibibytes(MAX_ACTIVATION_BYTES)}: use a smaller batch, shorter sequences or fewer units`,
      {
        related: train?.["batch"] !== undefined && !this.isFailed("/train/batch") ? [{ message: "batch size", span: this.span("/train/batch") }] : [],
      },
    );
  }

  /** Floats one example keeps for the backward pass at this node; undefined when a size is unknown. */
  private activationFloats(node: IrNode): number | undefined {
    if (!node.shape) return undefined;
    const dims = node.shape.slice(1).map((d) => this.size(d));
    if (dims.some((d) => d === null)) return undefined;
    let f = (dims as number[]).reduce((a, b) => a * b, 1);
    const input = this.values.get(node.inputs[0]!);
    const T = input && input.shape.length === 3 ? this.size(input.shape[1]!) : null;
    const F = input && input.shape.length === 3 ? this.size(input.shape[2]!) : null;
    if (T !== null) f += kindOf(node).extraFloats?.(node, T, F) ?? 0;
    return f;
  }

  // ---- data and train against the model

  private output(): { node: IrNode; index: number } | undefined {
    const name = this.ir.outputs[this.ir.outputs.length - 1];
    const index = this.nodes.findIndex((n) => n.name === name);
    return index >= 0 && this.nodes[index]!.shape ? { node: this.nodes[index]!, index } : undefined;
  }

  private checkTask(data: Mutable, train: Mutable | undefined, task: "text" | "series"): void {
    const split = data["split"] as Mutable | undefined;
    if (split && !this.isFailed("/data/split")) {
      const sum = (split["train"] as number) + (split["validation"] as number) + (split["test"] as number);
      if (Math.abs(sum - 1) > 1e-9) this.bag.report("SplitSum", this.span("/data/split"), `the split fractions add up to ${+sum.toFixed(6)}, not 1`);
      split["order"] ??= task === "series" ? "chronological" : "shuffled";
    }
    if (task === "text") {
      const tok = data["tokenizer"] as Mutable;
      const emb = this.nodes.findIndex((n) => n.op === "embedding");
      const embedding = this.nodes[emb];
      if (embedding?.op === "embedding") {
        const V = embedding.attrs.vocab;
        if (tok["vocab"] === undefined) tok["vocab"] = V;
        else if ((tok["vocab"] as number) > V) {
          this.bag.report(
            "VocabMismatch",
            this.span("/data/tokenizer/vocab"),
            `the tokenizer keeps ${String(tok["vocab"])} ids, but the embedding has only ${V} rows`,
            {
              related: [{ message: "embedding vocabulary", span: this.span(`/nodes/${emb}/attrs/vocab`) }],
            },
          );
        }
      }
    }
    const out = this.output();
    const labelPath = task === "text" ? "/data/source/label" : "/data/source/target";
    if (out) {
      const shape = out.node.shape!;
      const where = this.span(`/nodes/${out.index}`);
      const dataEnd: RelatedInfo[] = [
        {
          message: task === "text" ? "one label per example" : this.outputWidth() === 1 ? "one target value per window" : "the targets forecast",
          span: this.span(labelPath),
        },
      ];
      if (shape.length !== 2) {
        this.bag.report(
          "OutputTargetMismatch",
          where,
          `output ${out.node.name} gives a sequence ${formatShape(shape)}, but each example has one ${task === "text" ? "label" : "target"}; reduce the sequence first (last, mean_pool, max_pool or attention_pool)`,
          { related: dataEnd },
        );
      } else if (task === "series" && shape[1] !== this.outputWidth()) {
        const S = this.outputWidth(true);
        const K = this.outputWidth() / S;
        const what = `${S === 1 ? "one step" : `${S} steps (steps all)`} of ${K === 1 ? "one target column" : `${K} target columns`}`;
        this.bag.report(
          "OutputWidthMismatch",
          where,
          `output ${out.node.name} gives ${String(shape[1])} value${shape[1] === 1 ? "" : "s"} per window, but the data block forecasts ${what}: ${S * K} value${S * K === 1 ? "" : "s"}; ${S * K <= LIMITS.denseUnits ? `use dense(${S * K})` : `a dense layer gives at most ${LIMITS.denseUnits}: forecast fewer steps or targets`}`,
          // Not a "did you mean" suggestion: those replace a misspelt word, and the editor's quick fix applies them.
          { related: dataEnd },
        );
      } else if (task === "text" && out.node.op === "dense") {
        const act = out.node.attrs.activation;
        const units = out.node.attrs.units;
        if (!(act === "softmax" && units >= 2) && !(act === "sigmoid" && units === 1)) {
          this.bag.report(
            "OutputTargetMismatch",
            where,
            `a classifier's output must be dense(C, activation: softmax) with C >= 2 classes, or dense(1, activation: sigmoid); ${out.node.name} is dense(${units}, activation: ${String(act)})`,
            { related: dataEnd },
          );
        }
      }
    }
    if (!train) return;
    const loss = train["loss"] as string | undefined;
    const lossOk = task === "text" ? ["cross_entropy"] : ["mse", "mae", "huber"];
    if (loss !== undefined && !lossOk.includes(loss)) {
      this.bag.report(
        "LossMismatch",
        this.span("/train/loss"),
        `loss ${loss} does not fit ${task === "text" ? "classification" : "forecasting"}; use ${lossOk.join(" or ")}`,
        {
          related: [
            {
              message: task === "text" ? "the data is labelled text" : "the data is a series",
              span: this.span(task === "text" ? "/data/tokenizer" : "/data/window"),
            },
          ],
        },
      );
    }
    const metricOk = task === "text" ? ["accuracy", "macro_f1"] : ["rmse", "mae", "mape"];
    ((train["metrics"] as string[] | undefined) ?? []).forEach((m, i) => {
      if (!metricOk.includes(m))
        this.bag.report(
          "MetricMismatch",
          this.span(`/train/metrics/${i}`),
          `metric ${m} does not fit ${task === "text" ? "classification" : "forecasting"}; use ${metricOk.join(", ")}`,
        );
    });
    const stop = train["early_stop"] as Mutable | undefined;
    const watched = stop ? String(stop["monitor"]).replace(/^val_/, "") : "loss";
    const metrics = (train["metrics"] as string[] | undefined) ?? [];
    if (stop && watched !== "loss" && !metrics.includes(watched)) {
      this.bag.report(
        "MonitorNotComputed",
        this.span("/train/early_stop"),
        `early stopping watches ${String(stop["monitor"])}, but ${watched} is not among the metrics this run computes; add it to metrics: [${[...metrics, watched].join(", ")}]`,
        {
          related: [{ message: "metrics given here", span: this.span(train["metrics"] !== undefined ? "/train/metrics" : "/train") }],
        },
      );
    }
    if (stop && String(stop["monitor"]).startsWith("val_") && !((split?.["validation"] as number | undefined) ?? 0)) {
      this.bag.report(
        "MonitorWithoutValidation",
        this.span("/train/early_stop"),
        `early stopping watches ${String(stop["monitor"])}, but the split has no validation part`,
        {
          related: [{ message: "split given here", span: this.span(split ? "/data/split" : "/data") }],
        },
      );
    }
  }
}

function gibibytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  if (gib >= 1024) return `${(gib / 1024).toFixed(1)} TiB`;
  return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${(gib * 1024).toFixed(0)} MiB`;
}
