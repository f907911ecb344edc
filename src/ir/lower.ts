import type * as A from "../language/ast.js";
import { DiagnosticBag } from "../diagnostics/diagnostic.js";
import type { Span } from "../diagnostics/span.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { DATA_SETTINGS, LIMITS, TRAIN_SETTINGS, type Param, type Signature } from "./signatures.js";
import type { AttrValue, IrDim } from "./types.js";
import { isOp, LAYERS, OP_NAMES } from "../layers/registry.js";
import { child, SpanMap } from "./spans.js";
import { dict, own } from "../util.js";

type Mutable = { [key: string]: AttrValue };

/** The IR of one model as lowered from the AST, before validation and shape inference. */
export interface RawModel {
  irVersion: 1;
  model: string;
  dims: { [name: string]: number | null };
  inputs: { name: string; dtype: "int32" | "float32"; shape: IrDim[] }[];
  nodes: { name: string; op: string; inputs: string[]; attrs: Mutable }[];
  outputs: string[];
  data?: Mutable;
  train?: Mutable;
}

export interface Lowered {
  readonly ir: RawModel;
  /** Problems found while lowering this model (kept apart so that a model with syntax errors can be skipped). */
  readonly bag: DiagnosticBag;
  readonly spans: SpanMap;
  readonly decl: A.ModelDecl;
  readonly dataDecl?: A.BlockDecl;
  readonly trainDecl?: A.BlockDecl;
}

/** What TensorFlow.js accepts as a layer or input name (weights are named `<node>/<weight>`). */
const TF_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;

const DTYPES: { readonly [name: string]: "int32" | "float32" } = { int: "int32", float: "float32" };

/** Lowers every model of a spec, with its data and train blocks, to raw IR and reports naming errors. */
export function lower(spec: A.SpecFile, bag: DiagnosticBag): Lowered[] {
  const models = new Map<string, A.ModelDecl>();
  const blocks = { Data: new Map<string, A.BlockDecl>(), Train: new Map<string, A.BlockDecl>() };
  for (const d of spec.declarations) {
    if (d.kind === "Model") {
      const prev = models.get(d.name.value);
      if (prev)
        bag.report("DuplicateDeclaration", d.name.loc, `model '${d.name.value}' is declared twice`, {
          related: [{ message: "first declared here", span: prev.name.loc }],
        });
      else models.set(d.name.value, d);
    } else {
      const map = blocks[d.kind];
      const word = d.kind === "Data" ? "data" : "train";
      const prev = map.get(d.model.value);
      if (prev)
        bag.report("DuplicateDeclaration", d.model.loc, `model '${d.model.value}' has two ${word} blocks`, {
          related: [{ message: `first ${word} block`, span: prev.model.loc }],
        });
      else if (!models.has(d.model.value) && !spec.declarations.some((m) => m.kind === "Model" && m.name.value === d.model.value)) {
        bag.report("UnknownModel", d.model.loc, `${word} block for unknown model '${d.model.value}'`, { ...suggest(d.model.value, [...models.keys()]) });
      } else map.set(d.model.value, d);
    }
  }
  const out: Lowered[] = [];
  for (const decl of models.values()) {
    const dataDecl = blocks.Data.get(decl.name.value);
    const trainDecl = blocks.Train.get(decl.name.value);
    out.push(new ModelLowering(decl, new DiagnosticBag(bag.file)).run(dataDecl, trainDecl));
  }
  return out;
}

function suggest(word: string, candidates: Iterable<string>): { suggestion?: string } {
  const s = didYouMean(word, candidates);
  return s !== undefined ? { suggestion: s } : {};
}

class ModelLowering {
  readonly spans = new SpanMap();
  private readonly ir: RawModel;
  constructor(
    private readonly decl: A.ModelDecl,
    private readonly bag: DiagnosticBag,
  ) {
    this.ir = { irVersion: 1, model: decl.name.value, dims: dict(), inputs: [], nodes: [], outputs: [] };
    this.spans.set("", { span: decl.name.loc, label: `model ${decl.name.value}` });
  }

  run(dataDecl?: A.BlockDecl, trainDecl?: A.BlockDecl): Lowered {
    const names = new Map<string, Span>();
    const dimSpans = new Map<string, Span>();
    const declare = (name: A.Name, what: string, path: string): boolean => {
      if (!TF_NAME.test(name.value)) {
        this.bag.report(
          "InvalidName",
          name.loc,
          `${what} name '${name.value}' must start with a letter: TensorFlow.js names the model's tensors after its inputs and layers, and its names cannot start with '_'`,
        );
        this.spans.markReported(path);
      }
      const prev = names.get(name.value);
      if (prev) {
        this.bag.report("DuplicateName", name.loc, `'${name.value}' is already defined in model ${this.ir.model}`, {
          related: [{ message: "first defined here", span: prev }],
        });
        return false;
      }
      names.set(name.value, name.loc);
      return true;
    };

    // Inputs first: chains may come before or after them in the text.
    for (const st of this.decl.body) {
      if (st.kind !== "Input") continue;
      const dtype = own(DTYPES, st.dtype.value);
      if (!dtype)
        this.bag.report(
          "UnknownDType",
          st.dtype.loc,
          `unknown input type '${st.dtype.value}': use int (token ids) or float (series)`,
          suggest(st.dtype.value, Object.keys(DTYPES)),
        );
      if (!declare(st.name, "input", `/inputs/${this.ir.inputs.length}/name`)) continue;
      const shape: IrDim[] = ["B"];
      st.dims.forEach((d, i) => {
        const size = d.size?.value;
        const sizeOk = size !== undefined && Number.isInteger(size) && size >= 1 && size <= LIMITS.length;
        if (size !== undefined && !sizeOk) {
          this.bag.report("OutOfRange", d.size!.loc, `a dimension size must be a whole number from 1 to ${LIMITS.length}, not ${d.size!.raw}`);
        }
        const okSize = sizeOk ? size : undefined;
        if (d.name) {
          const n = d.name.value;
          if (n === "B") this.bag.report("DuplicateName", d.name.loc, "'B' is the batch dimension and is implicit; name this dimension otherwise");
          const prev = own(this.ir.dims, n);
          if (prev !== undefined && prev !== null && okSize !== undefined && prev !== okSize) {
            this.bag.report("DimensionMismatch", d.loc, `dimension ${n} is ${okSize} here but ${prev} before`, {
              related: [{ message: `${n} = ${prev}`, span: dimSpans.get(n)! }],
            });
          }
          if (prev === undefined || prev === null) {
            this.ir.dims[n] = okSize ?? null;
            dimSpans.set(n, d.loc);
          }
          shape.push(n);
        } else shape.push(okSize ?? 1);
        this.spans.set(`/inputs/${this.ir.inputs.length}/shape/${i + 1}`, { span: d.loc, label: d.name ? `dimension ${d.name.value}` : "dimension" });
      });
      this.spans.set(`/inputs/${this.ir.inputs.length}`, { span: st.loc, label: `input ${st.name.value}` });
      this.ir.inputs.push({ name: st.name.value, dtype: dtype ?? "float32", shape });
    }

    // Auto names (`lstm`, `lstm_1`, ...) skip every alias of the model, wherever it is declared.
    const aliases = new Set<string>();
    for (const st of this.decl.body) if (st.kind === "Chain") for (const l of st.layers) if (l.alias) aliases.add(l.alias.value);
    for (const i of this.ir.inputs) aliases.add(i.name);
    const autoName = autoNamer(aliases);

    for (const st of this.decl.body) {
      if (st.kind !== "Chain") continue;
      const ref = st.source;
      let prev: string | undefined = ref.name.value;
      if (!names.has(ref.name.value)) {
        const later = aliases.has(ref.name.value);
        this.bag.report(
          "UnknownReference",
          ref.name.loc,
          later
            ? `'${ref.name.value}' is used before the layer that defines it`
            : `unknown name '${ref.name.value}': not an input or a named layer of model ${this.ir.model}`,
          later ? {} : suggest(ref.name.value, names.keys()),
        );
        prev = undefined;
      }
      let from = prev !== undefined ? (ref.port ? `${prev}.${ref.port.value}` : prev) : undefined;
      let fromLoc: Span = ref.loc;
      for (const layer of st.layers) {
        const name = layer.alias?.value ?? autoName(layer.op.value);
        const index = this.ir.nodes.length;
        const ptr = `/nodes/${index}`;
        const sig = isOp(layer.op.value) ? LAYERS[layer.op.value] : undefined;
        this.spans.set(ptr, { span: layer.loc, label: `${layer.op.value} (${name})` });
        this.spans.set(child(ptr, "op"), { span: layer.op.loc, label: "layer", keys: OP_NAMES });
        const attrs: Mutable = dict();
        this.spans.set(child(ptr, "attrs"), { span: layer.loc, label: layer.op.value, keys: sig ? Object.keys(sig.params) : [] });
        if (layer.args) this.args(layer.args, sig, child(ptr, "attrs"), layer.op.value, attrs);
        const ok = layer.alias ? declare(layer.alias, "layer", `${ptr}/name`) : (names.set(name, layer.op.loc), true);
        this.ir.nodes.push({ name: ok ? name : `${name}__duplicate${index}`, op: layer.op.value, inputs: from !== undefined ? [from] : [], attrs });
        this.spans.set(`${ptr}/inputs/0`, { span: fromLoc, label: from ?? "input" });
        from = name;
        fromLoc = layer.loc;
      }
    }
    // Nodes whose producer failed to resolve still get a placeholder so that validation passes through them.
    for (const n of this.ir.nodes) if (n.inputs.length === 0) n.inputs.push("_unresolved");

    const fed = new Set<string>();
    for (const n of this.ir.nodes) for (const i of n.inputs) fed.add(i.split(".")[0]!);
    this.ir.outputs = this.ir.nodes.filter((n) => !fed.has(n.name)).map((n) => n.name);
    if (this.ir.nodes.length === 0) this.spans.markReported("/outputs"); // reported as NoInput

    if (dataDecl) this.ir.data = this.block(dataDecl, DATA_SETTINGS, "/data", "data");
    if (trainDecl) this.ir.train = this.block(trainDecl, TRAIN_SETTINGS, "/train", "train");
    return { ir: this.ir, bag: this.bag, spans: this.spans, decl: this.decl, ...(dataDecl ? { dataDecl } : {}), ...(trainDecl ? { trainDecl } : {}) };
  }

  /** Positional and named arguments into `into`, following the signature's positional order. */
  private args(args: readonly A.Arg[], sig: Signature | undefined, ptr: string, label: string, into: Mutable): void {
    let positional = 0;
    const seen = new Map<string, Span>();
    for (const arg of args) {
      let key: string;
      let keySpan: Span;
      if (arg.name) {
        key = arg.name.value;
        keySpan = arg.name.loc;
      } else {
        const names = sig?.positional ?? [];
        const k = names[positional++];
        if (k === undefined) {
          if (sig) {
            const takes =
              names.length === 0
                ? "takes no positional arguments"
                : `takes ${names.length} positional argument${names.length === 1 ? "" : "s"} (${names.join(", ")})`;
            this.bag.report("TooManyPositional", arg.loc, `${label} ${takes}; name this one`);
          }
          continue;
        }
        key = k;
        keySpan = arg.value.loc;
      }
      const prev = seen.get(key);
      if (prev) {
        this.bag.report("DuplicateArgument", keySpan, `argument '${key}' of ${label} is given twice`, {
          related: [{ message: "first given here", span: prev }],
        });
        continue;
      }
      seen.set(key, keySpan);
      const p = ptr + "/" + key;
      into[key] = this.value(arg.value, sig ? own(sig.params, key) : undefined, p, `${key} of ${label}`);
      this.spans.set(p, { ...this.spans.get(p)!, keySpan });
    }
  }

  private value(v: A.Value, param: Param | undefined, ptr: string, label: string): AttrValue {
    this.spans.set(ptr, { span: v.loc, label });
    switch (v.kind) {
      case "Number":
        if (!Number.isFinite(v.value)) {
          this.bag.report("OutOfRange", v.loc, `${v.raw} is too large to be a number`);
          this.spans.markReported(ptr);
          return 0;
        }
        // An integer literal beyond 2^53 would be silently rounded (a float such as 1e30 is read as written).
        if (/^-?\d+$/.test(v.raw) && Math.abs(v.value) > Number.MAX_SAFE_INTEGER) {
          this.bag.report(
            "OutOfRange",
            v.loc,
            `${v.raw} is larger than 2^53 - 1, beyond which whole numbers are not exact; no setting takes a value this large`,
          );
          this.spans.markReported(ptr);
          return 0;
        }
        return v.value;
      case "String":
        return v.value;
      case "Word":
        if (v.value === "true" || v.value === "false") return v.value === "true";
        if (param?.type === "call")
          return this.call({ kind: "Call", callee: { kind: "Name", value: v.value, loc: v.loc }, args: [], loc: v.loc }, param, ptr, label);
        return v.value;
      case "List":
        return v.items.map((item, i) => this.value(item, param?.type === "list" ? param.items : undefined, `${ptr}/${i}`, label));
      case "Call":
        return this.call(v, param, ptr, label);
    }
  }

  private call(v: A.Call, param: Param | undefined, ptr: string, label: string): AttrValue {
    const family = param?.type === "call" ? param.family : undefined;
    const sig = family ? own(family.calls, v.callee.value) : undefined;
    const obj: Mutable = dict();
    obj["kind"] = v.callee.value;
    this.spans.set(ptr, { span: v.loc, label: `${v.callee.value}(...)`, keys: sig ? ["kind", ...Object.keys(sig.params)] : [] });
    this.spans.set(`${ptr}/kind`, { span: v.callee.loc, label: family?.name ?? label, keys: family ? Object.keys(family.calls) : [] });
    this.args(v.args, sig, ptr, `${v.callee.value}(...)`, obj);
    return obj;
  }

  /** A data or train block: each setting is one value, or clauses that fill a record. */
  private block(decl: A.BlockDecl, sig: Signature & { clauses: { readonly [key: string]: readonly string[] } }, ptr: string, word: string): Mutable {
    const out: Mutable = dict();
    this.spans.set(ptr, { span: decl.loc, label: `${word} block`, keys: Object.keys(sig.params) });
    const seen = new Map<string, Span>();
    for (const s of decl.settings) {
      const key = s.key.value;
      const p = child(ptr, key);
      const prev = seen.get(key);
      if (prev) {
        this.bag.report("DuplicateArgument", s.key.loc, `setting '${key}' is given twice`, { related: [{ message: "first given here", span: prev }] });
        continue;
      }
      seen.set(key, s.key.loc);
      const param = own(sig.params, key);
      const label = key;
      if (param?.type === "record") {
        const rec: Mutable = dict();
        this.spans.set(p, { span: s.loc, keySpan: s.key.loc, label, keys: Object.keys(param.record.params) });
        const positionalNames = own(sig.clauses, key) ?? [];
        const args: A.Arg[] = [];
        for (const c of s.clauses) {
          const n = c.terms.length;
          const pairKey = n >= 2 ? c.terms[n - 2] : undefined;
          if (n === 1) args.push({ kind: "Arg", value: c.terms[0]!, loc: c.loc });
          else if (pairKey?.kind === "Word") {
            for (const t of c.terms.slice(0, n - 2)) args.push({ kind: "Arg", value: t, loc: t.loc });
            args.push({ kind: "Arg", name: { kind: "Name", value: pairKey.value, loc: pairKey.loc }, value: c.terms[n - 1]!, loc: c.loc });
          } else {
            this.bag.report("UnreadableClause", c.loc, `cannot read this part of '${key}': write a value or 'name value'`);
            this.spans.markReported(p);
          }
        }
        this.args(args, { ...param.record, positional: positionalNames }, p, key, rec);
        out[key] = rec;
      } else if (param?.type === "list") {
        out[key] =
          s.clauses.length === 1 && s.clauses[0]!.terms.length === 1 && s.clauses[0]!.terms[0]!.kind === "List"
            ? this.value(s.clauses[0]!.terms[0]!, param, p, label)
            : this.value({ kind: "List", items: s.clauses.flatMap((c) => c.terms), loc: s.loc }, param, p, label);
        this.spans.set(p, { ...this.spans.get(p)!, keySpan: s.key.loc });
      } else {
        const only = s.clauses[0]!.terms[0]!;
        if (s.clauses.length > 1 || s.clauses[0]!.terms.length > 1) {
          this.bag.report("UnreadableClause", s.loc, `'${key}' takes one value`);
          this.spans.markReported(p);
        }
        out[key] = this.value(only, param, p, label);
        this.spans.set(p, { ...this.spans.get(p)!, keySpan: s.key.loc });
      }
    }
    return out;
  }
}

/**
 * The names of unnamed layers, in chain order: the op (`lstm`), then `lstm_1`, `lstm_2`, ..., skipping every name
 * in `taken` (the model's inputs and `as` aliases, wherever declared). The language server names nodes the same way.
 */
export function autoNamer(taken: ReadonlySet<string>): (op: string) => string {
  const counters = new Map<string, number>();
  return (op) => {
    for (;;) {
      const n = counters.get(op) ?? 0;
      counters.set(op, n + 1);
      const name = n === 0 ? op : `${op}_${n}`;
      if (!taken.has(name)) return name;
    }
  };
}
