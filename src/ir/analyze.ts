import type { DiagnosticBag, RelatedInfo } from "../diagnostics/diagnostic.js";
import type { Span } from "../diagnostics/span.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { assertNever } from "../util.js";
import { fillDefaults } from "./defaults.js";
import type { Lowered, RawModel } from "./lower.js";
import { DATA_SETTINGS, LAYERS, TRAIN_SETTINGS } from "./signatures.js";
import type { Attrs, IrDim, IrModel, IrNode, IrWeight, OpName } from "./types.js";

/** Models beyond this many float32 parameters (4 GiB) are refused at compile time. */
export const MAX_PARAMS = 2 ** 30;

/** What flows along an edge of the graph. */
interface Value {
  readonly shape: readonly IrDim[];
  readonly dtype: "int32" | "float32";
  readonly mask: boolean;
  /** Where it was produced, for messages that name both ends. */
  readonly name: string;
  readonly span: Span;
}

type Mutable = { [key: string]: unknown };

export function formatShape(shape: readonly IrDim[]): string {
  return `[${shape.join(", ")}]`;
}

const GATES = "gates i, f, g, o in blocks of H along the last axis";

/**
 * Binds dimensions from the data block, infers every node's shape, mask and weights, and checks the
 * data and train blocks against the model. Nodes whose attributes failed validation are skipped.
 */
export function analyze(lowered: Lowered, failedPaths: readonly string[], bag: DiagnosticBag): IrModel {
  return new Analysis(lowered, failedPaths, bag).run();
}

class Analysis {
  private readonly ir: RawModel;
  private readonly failed: readonly string[];
  private readonly dims: { [name: string]: number | null };
  private readonly values = new Map<string, Value | undefined>();
  private readonly nodes: IrNode[] = [];

  constructor(
    private readonly lowered: Lowered,
    failed: readonly string[],
    private readonly bag: DiagnosticBag,
  ) {
    this.ir = lowered.ir;
    this.failed = failed;
    this.dims = { ...lowered.ir.dims };
  }

  private isFailed(path: string): boolean {
    return this.failed.some((f) => f === path || f.startsWith(`${path}/`) || path.startsWith(`${f}/`));
  }
  private span(path: string): Span {
    return this.lowered.spans.nearest(path)!.span;
  }
  private size(d: IrDim): number | null {
    return typeof d === "number" ? d : (this.dims[d] ?? null);
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
      this.bag.report("NoInput", this.lowered.decl.name.loc, this.ir.inputs.length === 0 ? `model ${this.ir.model} declares no input (input name: int[T] or float[T, F])` : `model ${this.ir.model} has no layers (input -> layer -> ...)`);
    }
    let total = 0;
    this.ir.nodes.forEach((n, i) => {
      const node = this.node(n, i);
      this.nodes.push(node);
      total += node.params ?? 0;
    });
    if (data && task) this.checkTask(data, train, task);

    const out: IrModel = {
      irVersion: 1,
      model: this.ir.model,
      dims: this.dims,
      inputs: this.ir.inputs,
      nodes: this.nodes,
      outputs: this.ir.outputs,
      params: total,
      ...(this.ir.data ? { data: this.ir.data as Attrs } : {}),
      ...(this.ir.train ? { train: this.ir.train as Attrs } : {}),
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

  /** Binds T (and F) from the data block; returns the task the data describes. */
  private bindData(data: Mutable): "text" | "series" | undefined {
    const source = data["source"] as Mutable;
    const input = this.ir.inputs[0];
    const tokenizer = data["tokenizer"] as Mutable | undefined;
    const window = data["window"] as Mutable | undefined;
    const blockSpan = this.span("/data");
    const related = (path: string, message: string): RelatedInfo[] => (input ? [{ message, span: this.span(path) }] : []);
    if (tokenizer && window) {
      this.bag.report("DataKindMismatch", this.span("/data/window"), "a data block is either text (tokenizer) or a time series (window), not both", { related: [{ message: "tokenizer given here", span: this.span("/data/tokenizer") }] });
      return undefined;
    }
    if (tokenizer) {
      delete data["scale"]; // scaling is for series; the default must not show up in a text task's IR
      for (const col of ["text", "label"]) if (source[col] === undefined) this.bag.report("MissingColumn", this.span("/data/source"), `text classification needs the ${col} column: add ${col}: "..." to the source`);
      if (input && input.dtype !== "int32") {
        this.bag.report("DataKindMismatch", this.span("/data/tokenizer"), `the tokenizer makes token ids, but input ${input.name} is float`, { related: related("/inputs/0", `input ${input.name} declared here; use int[T]`) });
        return undefined;
      }
      if (input) this.bindDim(input.shape[1], tokenizer["max_len"] as number, this.span("/data/tokenizer/max_len"), "max_len", "DimensionMismatch", "/inputs/0");
      return "text";
    }
    if (window) {
      for (const col of ["features", "target"]) if (source[col] === undefined) this.bag.report("MissingColumn", this.span("/data/source"), `forecasting needs the ${col} column${col === "features" ? "s" : ""}: add ${col}: ${col === "features" ? '["..."]' : '"..."'} to the source`);
      if (input && (input.dtype !== "float32" || input.shape.length !== 3)) {
        this.bag.report("DataKindMismatch", this.span("/data/window"), `windows of a series need a float input [T, F], but input ${input.name} is ${input.dtype === "int32" ? "int" : "float"}${formatShape(input.shape.slice(1))}`, { related: related("/inputs/0", `input ${input.name} declared here`) });
        return undefined;
      }
      const features = source["features"] as unknown[] | undefined;
      if (window["predict"] === "delta" && features && source["target"] !== undefined && !features.includes(source["target"])) {
        this.bag.report("DeltaNeedsTarget", this.span("/data/window/predict"), `predicting the change of ${JSON.stringify(source["target"])} needs its last value, so it must be one of the features`, {
          related: [{ message: "features given here", span: this.span("/data/source/features") }],
        });
      }
      if (input) {
        this.bindDim(input.shape[1], window["size"] as number, this.span("/data/window/size"), "the window", "DimensionMismatch", "/inputs/0");
        const features = source["features"] as unknown[] | undefined;
        if (features) this.bindDim(input.shape[2], features.length, this.span("/data/source/features"), `the features list (${features.length} column${features.length === 1 ? "" : "s"})`, "FeatureCountMismatch", "/inputs/0");
      }
      return "series";
    }
    this.bag.report("MissingArgument", blockSpan, "the data block needs a 'tokenizer' (text classification) or a 'window' (forecasting)");
    return undefined;
  }

  // ---- shapes

  private node(n: RawModel["nodes"][number], i: number): IrNode {
    const path = `/nodes/${i}`;
    const op = n.op as OpName;
    const base = { name: n.name, op, inputs: n.inputs, attrs: n.attrs as Attrs };
    const failed = this.isFailed(path);
    if (!failed) fillDefaults(n.attrs, LAYERS[op]);
    const x = this.input(n.inputs[0]!, `${path}/inputs/0`);
    if (failed || !x) {
      this.values.set(n.name, undefined);
      return base;
    }
    const r = this.infer(op, n.attrs as Mutable, x, path);
    if (!r) {
      this.values.set(n.name, undefined);
      return base;
    }
    const params = r.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    if (params > MAX_PARAMS) {
      const gib = (params * 4) / 2 ** 30;
      this.bag.report("TooLarge", this.span(path), `${n.op} ${n.name} would have ${params.toExponential(2)} parameters (${gib >= 1024 ? `${(gib / 1024).toFixed(1)} TiB` : `${gib.toFixed(1)} GiB`} of float32); the limit is ${MAX_PARAMS.toExponential(2)} (4 GiB)`);
      this.values.set(n.name, undefined);
      return base;
    }
    this.values.set(n.name, { shape: r.shape, dtype: "float32", mask: r.mask, name: n.name, span: this.span(path) });
    for (const [port, shape] of Object.entries(r.ports ?? {})) {
      this.values.set(`${n.name}.${port}`, { shape, dtype: "float32", mask: false, name: `${n.name}.${port}`, span: this.span(path) });
    }
    return { ...base, shape: r.shape, mask: r.mask, params, weights: r.weights, ...(r.ports ? { ports: r.ports } : {}) };
  }

  private input(ref: string, path: string): Value | undefined {
    if (ref === "_unresolved") return undefined;
    if (this.values.has(ref)) return this.values.get(ref);
    const [node, port] = ref.split(".") as [string, string];
    const producer = this.values.get(node);
    if (producer === undefined) return undefined;
    const ports = Object.keys(this.nodes.find((n) => n.name === node)?.ports ?? {});
    const s = didYouMean(port, ports);
    this.bag.report("UnknownPort", this.span(path), `${node} has no output '${port}'${ports.length > 0 ? `; its outputs are: ${ports.join(", ")}` : "; only attention layers have a second output (weights)"}`, s !== undefined ? { suggestion: s } : {});
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
    this.bag.report("NeedsFloat", this.span(path), `${op} needs vectors, but ${x.name} gives int token ids ${this.showShape(x.shape)}; put an embedding before it`, {
      related: [{ message: `${x.name} is declared here`, span: x.span }],
    });
    return false;
  }

  private featureSize(op: string, x: Value, path: string): number | undefined {
    const d = x.shape[x.shape.length - 1]!;
    const s = this.size(d);
    if (s !== null) return s;
    this.bag.report("UnboundDimension", this.span(path), `${op} needs the size of dimension ${String(d)} of ${x.name}: give it in the input (${String(d)} = 3) or bind it with a data block's features`, {
      related: [{ message: `${x.name} is declared here`, span: x.span }],
    });
    return undefined;
  }

  private infer(op: OpName, a: Mutable, x: Value, path: string): { shape: IrDim[]; mask: boolean; weights: IrWeight[]; ports?: Record<string, IrDim[]> } | undefined {
    const B = x.shape[0]!;
    switch (op) {
      case "embedding": {
        if (x.dtype !== "int32" || x.shape.length !== 2) {
          this.bag.report("NeedsTokens", this.span(path), `embedding needs int token ids [B, T], but ${x.name} gives ${x.dtype === "int32" ? "int" : "float"} ${this.showShape(x.shape)}`, {
            related: [{ message: `${x.name} is produced here`, span: x.span }],
          });
          return undefined;
        }
        const V = a["vocab"] as number;
        const E = a["dim"] as number;
        return { shape: [B, x.shape[1]!, E], mask: a["mask_zero"] === true, weights: [{ name: "embeddings", shape: [V, E], layout: "row v is the vector of token id v; id 0 is padding" }] };
      }
      case "lstm":
      case "bilstm": {
        if (!this.needVectors(op, x, path) || !this.needSequence(op, x, path, "")) return undefined;
        const F = this.featureSize(op, x, path);
        if (F === undefined) return undefined;
        const H = a["units"] as number;
        const T = x.shape[1]!;
        const cell = (prefix: string, direction: string): IrWeight[] => [
          { name: `${prefix}kernel`, shape: [F, 4 * H], layout: `${direction}input weights W, x @ W; ${GATES}` },
          { name: `${prefix}recurrent_kernel`, shape: [H, 4 * H], layout: `${direction}recurrent weights U, h @ U; ${GATES}` },
          { name: `${prefix}bias`, shape: [4 * H], layout: `${direction}bias b; ${GATES}${a["unit_forget_bias"] === true ? "; f block initialised to 1" : ""}` },
        ];
        if (op === "bilstm") {
          const merge = a["merge"] as string;
          return {
            shape: [B, T, merge === "concat" ? 2 * H : H],
            mask: x.mask,
            weights: [...cell("forward_", "forward direction: "), ...cell("backward_", "backward direction (reads the sequence reversed): ")],
          };
        }
        const att = a["input_attention"] as Mutable | undefined;
        if (!att) return { shape: [B, T, H], mask: x.mask, weights: cell("", "") };
        const A = att["units"] as number;
        if (att["kind"] === "temporal") {
          return {
            shape: [B, T, H],
            mask: x.mask,
            weights: [
              ...cell("", ""),
              { name: "attention_W_h", shape: [H, A], layout: "e_{t,i} = v . tanh(h_{t-1} @ W_h + x_i @ W_x + b)" },
              { name: "attention_W_x", shape: [F, A], layout: "x_i @ W_x, computed once per sequence" },
              { name: "attention_b", shape: [A], layout: "bias b of the score" },
              { name: "attention_v", shape: [A], layout: "score vector v" },
            ],
            ports: { weights: [B, T, T] },
          };
        }
        const Tn = this.size(T);
        if (Tn === null) {
          this.bag.report("NeedsFixedLength", this.span(`${path}/attrs/input_attention`), `feature input attention scores each series over the whole window, so T must have a size: give it in the input (T = 24) or bind it with a data block's window`, {
            related: [{ message: `${x.name} has length ${String(T)}`, span: x.span }],
          });
          return undefined;
        }
        return {
          shape: [B, T, H],
          mask: x.mask,
          weights: [
            ...cell("", ""),
            { name: "attention_W_e", shape: [2 * H, A], layout: "e_t^k = v . tanh([h_{t-1}; c_{t-1}] @ W_e + x^k @ U_e)" },
            { name: "attention_U_e", shape: [Tn, A], layout: "x^k (series k over the window, length T) @ U_e" },
            { name: "attention_v", shape: [A], layout: "score vector v" },
          ],
          ports: { weights: [B, T, x.shape[2]!] },
        };
      }
      case "attention_pool": {
        if (!this.needVectors(op, x, path) || !this.needSequence(op, x, path, "; attention_pool reduces over time, so it needs the whole sequence")) return undefined;
        const D = this.featureSize(op, x, path);
        if (D === undefined) return undefined;
        const T = x.shape[1]!;
        if (a["score"] === "zhou") {
          return { shape: [B, x.shape[2]!], mask: false, weights: [{ name: "w", shape: [D], layout: "e_t = w . tanh(h_t)" }], ports: { weights: [B, T] } };
        }
        const A = a["units"] as number | undefined;
        if (A === undefined) {
          this.bag.report("MissingArgument", this.span(path), "attention_pool with the additive score needs 'units' (the attention size A)");
          return undefined;
        }
        return {
          shape: [B, x.shape[2]!],
          mask: false,
          weights: [
            { name: "W", shape: [D, A], layout: "u_t = tanh(h_t @ W + b)" },
            { name: "b", shape: [A], layout: "bias of u_t" },
            { name: "v", shape: [A], layout: "e_t = v . u_t" },
          ],
          ports: { weights: [B, T] },
        };
      }
      case "last":
      case "mean_pool":
      case "max_pool":
        if (!this.needVectors(op, x, path) || !this.needSequence(op, x, path, "; it is already reduced over time")) return undefined;
        return { shape: [B, x.shape[2]!], mask: false, weights: [] };
      case "dropout":
        return { shape: [...x.shape], mask: x.mask, weights: [] };
      case "dense": {
        if (!this.needVectors(op, x, path)) return undefined;
        const D = this.featureSize(op, x, path);
        if (D === undefined) return undefined;
        const U = a["units"] as number;
        return {
          shape: [...x.shape.slice(0, -1), U],
          mask: x.shape.length === 3 && x.mask,
          weights: [
            { name: "kernel", shape: [D, U], layout: "y = x @ kernel + bias" },
            { name: "bias", shape: [U], layout: "bias" },
          ],
        };
      }
      default:
        return assertNever(op);
    }
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
      if (emb >= 0) {
        const V = this.nodes[emb]!.attrs["vocab"] as number;
        if (tok["vocab"] === undefined) tok["vocab"] = V;
        else if ((tok["vocab"] as number) > V) {
          this.bag.report("VocabMismatch", this.span("/data/tokenizer/vocab"), `the tokenizer keeps ${String(tok["vocab"])} ids, but the embedding has only ${V} rows`, {
            related: [{ message: "embedding vocabulary", span: this.span(`/nodes/${emb}/attrs/vocab`) }],
          });
        }
      }
    }
    const out = this.output();
    const labelPath = task === "text" ? "/data/source/label" : "/data/source/target";
    if (out) {
      const shape = out.node.shape!;
      const where = this.span(`/nodes/${out.index}`);
      const dataEnd: RelatedInfo[] = [{ message: task === "text" ? "one label per example" : "one target value per window", span: this.span(labelPath) }];
      if (shape.length !== 2) {
        this.bag.report("OutputTargetMismatch", where, `output ${out.node.name} gives a sequence ${formatShape(shape)}, but each example has one ${task === "text" ? "label" : "target"}; reduce the sequence first (last, mean_pool, max_pool or attention_pool)`, { related: dataEnd });
      } else if (task === "series" && shape[1] !== 1) {
        this.bag.report("OutputTargetMismatch", where, `output ${out.node.name} gives ${String(shape[1])} values per window, but the data has one target column; use dense(1)`, { related: dataEnd });
      } else if (task === "text" && out.node.op === "dense") {
        const act = out.node.attrs["activation"];
        const units = out.node.attrs["units"] as number;
        if (!(act === "softmax" && units >= 2) && !(act === "sigmoid" && units === 1)) {
          this.bag.report("OutputTargetMismatch", where, `a classifier's output must be dense(C, activation: softmax) with C >= 2 classes, or dense(1, activation: sigmoid); ${out.node.name} is dense(${units}, activation: ${String(act)})`, { related: dataEnd });
        }
      }
    }
    if (!train) return;
    const loss = train["loss"] as string | undefined;
    const lossOk = task === "text" ? ["cross_entropy"] : ["mse", "mae", "huber"];
    if (loss !== undefined && !lossOk.includes(loss)) {
      this.bag.report("LossMismatch", this.span("/train/loss"), `loss ${loss} does not fit ${task === "text" ? "classification" : "forecasting"}; use ${lossOk.join(" or ")}`, {
        related: [{ message: task === "text" ? "the data is labelled text" : "the data is a series", span: this.span(task === "text" ? "/data/tokenizer" : "/data/window") }],
      });
    }
    const metricOk = task === "text" ? ["accuracy", "macro_f1"] : ["rmse", "mae", "mape"];
    ((train["metrics"] as string[] | undefined) ?? []).forEach((m, i) => {
      if (!metricOk.includes(m)) this.bag.report("MetricMismatch", this.span(`/train/metrics/${i}`), `metric ${m} does not fit ${task === "text" ? "classification" : "forecasting"}; use ${metricOk.join(", ")}`);
    });
    const stop = train["early_stop"] as Mutable | undefined;
    if (stop && String(stop["monitor"]).startsWith("val_") && !((split?.["validation"] as number | undefined) ?? 0)) {
      this.bag.report("MonitorWithoutValidation", this.span("/train/early_stop"), `early stopping watches ${String(stop["monitor"])}, but the split has no validation part`, {
        related: [{ message: "split given here", span: this.span(split ? "/data/split" : "/data") }],
      });
    }
  }
}
