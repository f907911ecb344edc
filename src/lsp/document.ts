import { compile, type CompileResult } from "../compile.js";
import type * as A from "../language/ast.js";
import type { Span } from "../diagnostics/span.js";
import type { IrInput, IrModel, IrNode } from "../ir/types.js";
import { autoNamer } from "../ir/lower.js";

/** A name that a chain can start from: an input, or a layer (by alias, or by its automatic name). */
export interface NodeDef {
  readonly name: string;
  readonly kind: "input" | "layer";
  /** The name as written: the input's name, the alias, or the op of an unaliased layer. */
  readonly nameSpan: Span;
  /** True when the name is written in the source (inputs and aliases), so that it can be renamed. */
  readonly explicit: boolean;
  readonly input?: A.InputDecl;
  readonly layer?: A.Layer;
  /** From the compiled IR, when the model compiled far enough. */
  readonly irInput?: IrInput;
  readonly irNode?: IrNode;
}

/** A chain's source: `name` or `name.port`. */
export interface RefUse {
  readonly ref: A.Reference;
  readonly def?: NodeDef;
}

export interface ModelIndex {
  readonly decl: A.ModelDecl;
  readonly ir?: IrModel;
  readonly defs: ReadonlyMap<string, NodeDef>;
  readonly refs: readonly RefUse[];
  /** Layer to its node (in chain order, as lowering numbers them). */
  readonly layers: ReadonlyMap<A.Layer, NodeDef>;
  readonly blocks: readonly A.BlockDecl[];
}

export interface Analysis {
  readonly text: string;
  readonly result: CompileResult;
  readonly models: ReadonlyMap<string, ModelIndex>;
}

/** Compiles a document and indexes what editor features need: names, their uses and the IR of each layer. */
export async function analyzeText(name: string, text: string): Promise<Analysis> {
  const result = await compile({ name, text });
  return { text, result, models: indexModels(result) };
}

function indexModels(result: CompileResult): Map<string, ModelIndex> {
  const out = new Map<string, ModelIndex>();
  const irByName = new Map(result.models.map((m) => [m.model, m]));
  for (const d of result.ast.declarations) {
    if (d.kind !== "Model" || out.has(d.name.value)) continue;
    out.set(d.name.value, indexModel(d, irByName.get(d.name.value), result.ast));
  }
  return out;
}

/** Mirrors lowering's naming: inputs first, then every layer in chain order, auto names skipping aliases. */
function indexModel(decl: A.ModelDecl, ir: IrModel | undefined, spec: A.SpecFile): ModelIndex {
  const defs = new Map<string, NodeDef>();
  const layers = new Map<A.Layer, NodeDef>();
  for (const st of decl.body) {
    if (st.kind !== "Input" || defs.has(st.name.value)) continue;
    const irInput = ir?.inputs.find((i) => i.name === st.name.value);
    defs.set(st.name.value, { name: st.name.value, kind: "input", nameSpan: st.name.loc, explicit: true, input: st, ...(irInput ? { irInput } : {}) });
  }
  const aliases = new Set<string>(defs.keys());
  for (const st of decl.body) if (st.kind === "Chain") for (const l of st.layers) if (l.alias) aliases.add(l.alias.value);
  const autoName = autoNamer(aliases);
  const refs: RefUse[] = [];
  let index = 0;
  for (const st of decl.body) {
    if (st.kind !== "Chain") continue;
    const src = defs.get(st.source.name.value);
    refs.push({ ref: st.source, ...(src ? { def: src } : {}) });
    for (const l of st.layers) {
      const name = l.alias?.value ?? autoName(l.op.value);
      const irNode = ir?.nodes[index];
      index++;
      const def: NodeDef = {
        name,
        kind: "layer",
        nameSpan: l.alias?.loc ?? l.op.loc,
        explicit: l.alias !== undefined,
        layer: l,
        ...(irNode && (irNode.name === name || irNode.name.startsWith(`${name}__duplicate`)) ? { irNode } : {}),
      };
      layers.set(l, def);
      if (!defs.has(name)) defs.set(name, def);
    }
  }
  // A chain may start from a layer defined further down only in error; uses still resolve for navigation.
  for (let i = 0; i < refs.length; i++) {
    const r = refs[i]!;
    if (!r.def) {
      const def = defs.get(r.ref.name.value);
      if (def) refs[i] = { ref: r.ref, def };
    }
  }
  const blocks = spec.declarations.filter((d): d is A.BlockDecl => d.kind !== "Model" && d.model.value === decl.name.value);
  return { decl, ...(ir ? { ir } : {}), defs, refs, layers, blocks };
}

export function contains(span: Span, offset: number): boolean {
  return offset >= span.start && offset <= span.end;
}

/** What the cursor is on, most specific first. */
export type Target =
  | { readonly kind: "modelName"; readonly model: ModelIndex; readonly span: Span }
  | { readonly kind: "blockModel"; readonly block: A.BlockDecl; readonly model?: ModelIndex; readonly span: Span }
  | { readonly kind: "def"; readonly model: ModelIndex; readonly def: NodeDef; readonly span: Span }
  | { readonly kind: "ref"; readonly model: ModelIndex; readonly use: RefUse; readonly span: Span }
  | { readonly kind: "port"; readonly model: ModelIndex; readonly use: RefUse; readonly port: A.Name; readonly span: Span }
  | { readonly kind: "op"; readonly model: ModelIndex; readonly layer: A.Layer; readonly span: Span }
  | {
      readonly kind: "arg";
      readonly owner: string;
      readonly family?: "layer" | "call";
      readonly layer?: A.Layer;
      readonly call?: A.Call;
      readonly arg: A.Arg;
      readonly span: Span;
    }
  | { readonly kind: "call"; readonly call: A.Call; readonly setting?: A.Setting; readonly block?: A.BlockDecl; readonly span: Span }
  | { readonly kind: "setting"; readonly block: A.BlockDecl; readonly setting: A.Setting; readonly span: Span }
  | { readonly kind: "word"; readonly block: A.BlockDecl; readonly setting: A.Setting; readonly word: A.Word; readonly span: Span }
  | { readonly kind: "input"; readonly model: ModelIndex; readonly input: A.InputDecl; readonly span: Span };

/** Finds the named thing at an offset (the end of a name counts, as editors place the cursor after it). */
export function targetAt(a: Analysis, offset: number): Target | undefined {
  for (const d of a.result.ast.declarations) {
    if (!contains(d.loc, offset)) continue;
    if (d.kind === "Model") {
      const model = a.models.get(d.name.value);
      if (!model || model.decl !== d) {
        if (contains(d.name.loc, offset) && model) return { kind: "modelName", model, span: d.name.loc };
        continue;
      }
      if (contains(d.name.loc, offset)) return { kind: "modelName", model, span: d.name.loc };
      for (const st of d.body) {
        if (!contains(st.loc, offset)) continue;
        if (st.kind === "Input") {
          const def = model.defs.get(st.name.value);
          if (contains(st.name.loc, offset) && def && def.input === st) return { kind: "def", model, def, span: st.name.loc };
          return { kind: "input", model, input: st, span: st.loc };
        }
        const use = model.refs.find((r) => r.ref === st.source);
        if (use && st.source.port && contains(st.source.port.loc, offset)) return { kind: "port", model, use, port: st.source.port, span: st.source.port.loc };
        if (use && contains(st.source.name.loc, offset)) return { kind: "ref", model, use, span: st.source.name.loc };
        for (const l of st.layers) {
          if (!contains(l.loc, offset)) continue;
          const def = model.layers.get(l);
          if (l.alias && contains(l.alias.loc, offset) && def) return { kind: "def", model, def, span: l.alias.loc };
          if (contains(l.op.loc, offset)) return { kind: "op", model, layer: l, span: l.op.loc };
          const inArgs = argTarget(l.args ?? [], offset, l.op.value, "layer", l);
          if (inArgs) return inArgs;
          return { kind: "op", model, layer: l, span: l.op.loc };
        }
      }
      continue;
    }
    const model = a.models.get(d.model.value);
    if (contains(d.model.loc, offset)) return { kind: "blockModel", block: d, ...(model ? { model } : {}), span: d.model.loc };
    for (const s of d.settings) {
      if (!contains(s.loc, offset)) continue;
      if (contains(s.key.loc, offset)) return { kind: "setting", block: d, setting: s, span: s.key.loc };
      for (const c of s.clauses)
        for (const t of c.terms) {
          const found = valueTarget(t, offset, s, d);
          if (found) return found;
        }
      return { kind: "setting", block: d, setting: s, span: s.key.loc };
    }
  }
  return undefined;
}

function argTarget(args: readonly A.Arg[], offset: number, owner: string, family: "layer" | "call", layer?: A.Layer, call?: A.Call): Target | undefined {
  for (const arg of args) {
    if (!contains(arg.loc, offset)) continue;
    if (arg.name && (contains(arg.name.loc, offset) || (arg.value.kind === "Word" && contains(arg.value.loc, offset)))) {
      const span = contains(arg.name.loc, offset) ? arg.name.loc : arg.value.loc;
      return { kind: "arg", owner, family, ...(layer ? { layer } : {}), ...(call ? { call } : {}), arg, span };
    }
    const inner = valueTarget(arg.value, offset);
    if (inner) return inner;
  }
  return undefined;
}

function valueTarget(v: A.Value, offset: number, setting?: A.Setting, block?: A.BlockDecl): Target | undefined {
  if (!contains(v.loc, offset)) return undefined;
  if (v.kind === "Call") {
    if (contains(v.callee.loc, offset)) return { kind: "call", call: v, ...(setting ? { setting } : {}), ...(block ? { block } : {}), span: v.callee.loc };
    return argTarget(v.args, offset, v.callee.value, "call", undefined, v);
  }
  if (v.kind === "Word" && setting && block) return { kind: "word", block, setting, word: v, span: v.loc };
  if (v.kind === "List")
    for (const item of v.items) {
      const t = valueTarget(item, offset, setting, block);
      if (t) return t;
    }
  return undefined;
}
