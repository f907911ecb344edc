/**
 * Emits one PyTorch training program per model (`attnc build --target pytorch`): the model as a torch module with
 * each layer's equation above it, the data and train blocks as literals, and an entry point that trains under
 * `torchrun` (DistributedDataParallel) and writes an attnc model directory. The program imports the runtime module
 * PY_RUNTIME_MODULE, which `attnc build` writes beside it. Strings from the spec reach the program only as
 * escaped string literals; names only as validated identifiers, renamed where they would clash with Python.
 * The output is formatted here (4 spaces, lines broken at 110 columns), so it is byte-stable.
 */
import { formatShape } from "../ir/analyze.js";
import type { IrDim, IrModel, IrNode } from "../ir/types.js";
import { kindOf } from "../layers/registry.js";
import { PY_GENERATED_HEADER } from "../cli/paths.js";
import { equation, slimIr, type EmitOptions } from "./emit.js";

/** The runtime module `attnc build --target pytorch` writes once per output folder; the programs import it. */
export const PY_RUNTIME_MODULE = "attnc_runtime.py";

const WIDTH = 110;

const PY_RESERVED = new Set(
  (
    "False None True and as assert async await break class continue def del elif else except finally for from global if import in is " +
    "lambda nonlocal not or pass raise return try while with yield match case type _ self rt torch seed layers weights " +
    // The program's own module-level names.
    "os sys importlib _here _spec DATA TRAIN IR DEFAULT_DATA TOPOLOGY main"
  ).split(" "),
);

/** Comment-safe text: control and line-separator characters escaped. */
function commentText(s: string): string {
  return JSON.stringify(s)
    .slice(1, -1)
    .replace(/[\u007f-\u009f\u2028\u2029\u0085]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A Python string literal: JSON's escapes (all valid in Python), and every non-ASCII code point escaped. */
export function pyString(s: string): string {
  let out = "";
  for (const ch of JSON.stringify(s)) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x7f) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return out;
}

function pyNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return JSON.stringify(n);
}

/** A Python literal for a JSON value, on one line when it fits, else one item per line. */
export function pyLiteral(v: unknown, indent = 0, used = 0): string {
  const flat = pyFlat(v);
  if (indent + used + flat.length <= WIDTH || v === null || typeof v !== "object") return flat;
  const pad = " ".repeat(indent + 4);
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return `[\n${v.map((x) => `${pad}${pyLiteral(x, indent + 4)},`).join("\n")}\n${" ".repeat(indent)}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  return `{\n${entries
    .map(([k, x]) => {
      const key = `${pyString(k)}: `;
      return `${pad}${key}${pyLiteral(x, indent + 4, key.length)},`;
    })
    .join("\n")}\n${" ".repeat(indent)}}`;
}

function pyFlat(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return pyNumber(v);
  if (typeof v === "string") return pyString(v);
  if (Array.isArray(v)) return `[${v.map(pyFlat).join(", ")}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${pyString(k)}: ${pyFlat(x)}`)
    .join(", ")}}`;
}

/** `name(arg, ...)` on one line when it fits at `indent`, else one argument per line. */
function pyCall(fn: string, args: readonly string[], indent: number, prefix = "", suffix = ""): string {
  const flat = `${prefix}${fn}(${args.join(", ")})${suffix}`;
  if (indent + flat.length <= WIDTH) return `${" ".repeat(indent)}${flat}`;
  const pad = " ".repeat(indent + 4);
  return `${" ".repeat(indent)}${prefix}${fn}(\n${args.map((a) => `${pad}${a},`).join("\n")}\n${" ".repeat(indent)})${suffix}`;
}

/** Program identifiers for spec names: unchanged unless reserved or taken, then suffixed. */
class PyNames {
  private readonly used = new Set<string>();
  private readonly map = new Map<string, string>();
  /** The identifier for `specName` (or, for a derived key such as a node's mask, for `wanted`). */
  of(specName: string, wanted: string = specName): string {
    let v = this.map.get(specName);
    if (v) return v;
    const base = /^[A-Za-z_][A-Za-z0-9_]*$/.test(wanted) ? wanted : `v_${wanted.replace(/[^A-Za-z0-9_]/g, "_")}`;
    v = base;
    for (let k = 1; PY_RESERVED.has(v) || this.used.has(v); k++) v = `${base}_${k}`;
    this.used.add(v);
    this.map.set(specName, v);
    return v;
  }
}

function shapeText(shape: readonly IrDim[] | undefined): string {
  return shape ? formatShape(shape) : "[?]";
}

const group = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** A dimension's size: a number, or the IR's size for a named one. */
function size(ir: IrModel, d: IrDim | undefined): number {
  const v = typeof d === "number" ? d : d === undefined ? undefined : ir.dims[d];
  if (typeof v !== "number") throw new Error(`dimension ${String(d)} has no size`);
  return v;
}

/** The layer's constructor and its arguments. */
function layerCall(ir: IrModel, n: IrNode, index: number, inShape: readonly IrDim[]): [string, readonly string[]] {
  const t = inShape[1];
  const { fn, args } = kindOf(n).pytorch(n, {
    features: () => size(ir, inShape[inShape.length - 1]),
    steps: () => (typeof t === "number" || (typeof t === "string" && typeof ir.dims[t] === "number") ? size(ir, t) : null),
    literal: pyFlat,
    seed: `seed=rt.layer_seed(seed, ${index})`,
  });
  return [fn, args];
}

export function emitPytorchProgram(ir: IrModel, o: EmitOptions): string {
  const names = new PyNames();
  const producers = new Map<string, IrNode>(ir.nodes.map((n) => [n.name, n]));
  const inputShapes = new Map(ir.inputs.map((i) => [i.name, i.shape]));
  const cls = names.of(ir.model);
  const L: string[] = [];
  L.push(`${PY_GENERATED_HEADER} from ${commentText(o.specPath)}. DO NOT EDIT.`);
  L.push(`# Spec sha256: ${o.specHash}`);
  L.push("#");
  L.push(`# Trains model ${ir.model} as its spec says, on PyTorch: it imports torch, numpy and attnc's runtime module`);
  L.push(`# ${PY_RUNTIME_MODULE}, which attnc build writes beside it, and writes an attnc model directory.`);
  L.push("# One process: python <file>.py [options]. Several (DistributedDataParallel, gloo on CPU, nccl on GPUs):");
  L.push("# torchrun --standalone --nproc-per-node N <file>.py [options]. `--help` lists the options.");
  L.push("");
  L.push("import importlib.util");
  L.push("import os");
  L.push("import sys");
  L.push("");
  L.push(`# ${PY_RUNTIME_MODULE} is loaded from this program's folder by its path. Run as a program, the folder comes`);
  L.push("# first on the module path, where a program named like a module (torch.py, json.py) would stand in for it:");
  L.push("# it is taken off.");
  L.push("_here = os.path.dirname(os.path.abspath(__file__))");
  L.push('if __name__ == "__main__":');
  L.push("    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]");
  L.push(`rt = sys.modules.get("${PY_RUNTIME_MODULE.replace(/\.py$/, "")}")`);
  L.push(`if rt is None or os.path.abspath(rt.__file__) != os.path.join(_here, "${PY_RUNTIME_MODULE}"):`);
  L.push(`    _spec = importlib.util.spec_from_file_location("${PY_RUNTIME_MODULE.replace(/\.py$/, "")}", os.path.join(_here, "${PY_RUNTIME_MODULE}"))`);
  L.push("    rt = importlib.util.module_from_spec(_spec)");
  L.push(`    sys.modules["${PY_RUNTIME_MODULE.replace(/\.py$/, "")}"] = rt`);
  L.push("    _spec.loader.exec_module(rt)");
  L.push("");
  L.push(`# ---- model ${ir.model}`);
  L.push("");
  L.push("# The data file named by the spec, relative to this program.");
  L.push(`DEFAULT_DATA = ${pyString(o.dataPath)}`);
  L.push("");
  L.push("# The spec's data block.");
  L.push(`DATA = ${pyLiteral(ir.data ?? null, 0, 7)}`);
  L.push("");
  L.push("# The spec's train block.");
  L.push(`TRAIN = ${pyLiteral(ir.train ?? null, 0, 8)}`);
  L.push("");
  L.push("# The model's graph as the IR gives it (shapes, attention outputs), written into the model directory.");
  L.push(`IR = ${pyLiteral(slimIr(ir), 0, 5)}`);
  L.push("");
  L.push("");
  L.push(`class ${cls}(rt.Model):`);
  L.push(`    """Model ${ir.model}: the IR's nodes in order, each weight named and laid out as the IR says."""`);
  L.push("");
  L.push(`    node_names = (${ir.nodes.map((n) => pyString(n.name)).join(", ")}${ir.nodes.length === 1 ? "," : ""})`);
  L.push("");
  L.push("    def __init__(self, seed):");
  L.push("        super().__init__()");
  L.push("        layers = []");
  const inShapes: (readonly IrDim[])[] = [];
  ir.nodes.forEach((n, i) => {
    const [src, port] = n.inputs[0]!.split(".") as [string, string | undefined];
    const inShape = port ? producers.get(src)?.ports?.[port] : (producers.get(src)?.shape ?? inputShapes.get(src));
    if (!inShape) throw new Error(`node ${n.name} reads ${n.inputs[0]}, which has no shape`);
    inShapes.push(inShape);
    L.push(
      `        # ${commentText(n.name)} = ${n.op}(${commentText(n.inputs[0]!)}): ${shapeText(inShape)} -> ${shapeText(n.shape)}${n.params ? `, ${group(n.params)} parameters` : ""}`,
    );
    for (const e of equation(n)) L.push(`        #   ${e}`);
    const [fn, args] = layerCall(ir, n, i, inShape);
    L.push(pyCall(fn, args, 8, "layers.append(", ")"));
  });
  L.push("        self.layers = rt.nn.ModuleList(layers)");
  L.push("");
  const inputs = ir.inputs.map((i) => names.of(i.name));
  L.push(`    def forward(self, ${inputs.join(", ")}):`);
  L.push(`        """The output head ${commentText(ir.outputs[ir.outputs.length - 1] ?? "")} and the attention weights by node name."""`);
  for (const inp of ir.inputs) L.push(`        ${names.of(`${inp.name}#mask`, `${inp.name}_mask`)} = None`);
  const attention: string[] = [];
  ir.nodes.forEach((n, i) => {
    const [src, port] = n.inputs[0]!.split(".") as [string, string | undefined];
    const from = port ? names.of(`${src}.${port}`, `${src}_${port}`) : names.of(src);
    const fromMask = port ? "None" : names.of(`${src}#mask`, `${src}_mask`);
    const out = names.of(n.name);
    const weights = n.ports?.["weights"] ? names.of(`${n.name}.weights`, `${n.name}_weights`) : "_";
    if (weights !== "_") attention.push(`${pyString(n.name)}: ${weights}`);
    L.push(`        ${out}, ${names.of(`${n.name}#mask`, `${n.name}_mask`)}, ${weights} = self.layers[${i}](${from}, ${fromMask})`);
  });
  const head = ir.outputs[ir.outputs.length - 1]!;
  L.push(`        return ${names.of(head)}, {${attention.join(", ")}}`);
  L.push("");
  L.push("");
  L.push("# ---- entry point");
  L.push("");
  L.push('if __name__ == "__main__":');
  L.push(pyCall("rt.main", ["sys.argv[1:]", cls, "ir=IR", "data=DATA", "train=TRAIN", "default_data=DEFAULT_DATA", "program=__file__"], 4, "sys.exit(", ")"));
  return `${L.join("\n")}\n`;
}

/**
 * model.json's `modelTopology` for a model, as TensorFlow.js writes it for the layers attnc builds with `seed`
 * (docs/model-directory.md), computed from the IR without building the model. A PyTorch program writes it into
 * its model directory beside its weights. test/pytorch/numerics.test.ts checks it against TensorFlow.js' own.
 */
export function modelTopology(ir: IrModel, seed: number): object {
  const layerSeed = (index: number): number => ((seed + 1) * 7919 + index * 104729) % 2147483647;
  const layers: object[] = ir.inputs.map((i) => ({
    name: i.name,
    class_name: "InputLayer",
    config: {
      batch_input_shape: [null, ...i.shape.slice(1).map((d) => (typeof d === "number" ? d : (ir.dims[d] ?? null)))],
      dtype: i.dtype,
      sparse: false,
      name: i.name,
    },
    inbound_nodes: [],
  }));
  ir.nodes.forEach((n, index) => {
    const [src, port] = n.inputs[0]!.split(".") as [string, string | undefined];
    const { className: cls, config } = kindOf(n).topology(n, layerSeed(index));
    layers.push({ name: n.name, class_name: cls, config: { name: n.name, trainable: true, ...config }, inbound_nodes: [[[src, 0, port ? 1 : 0, {}]]] });
  });
  return {
    class_name: "Model",
    config: {
      name: ir.model,
      layers,
      input_layers: ir.inputs.map((i) => [i.name, 0, 0]),
      output_layers: ir.outputs.map((o) => [o, 0, 0]),
    },
    keras_version: "tfjs-layers 4.22.0",
    backend: "tensor_flow.js",
  };
}

/** `<Model>.model.json`: the topology a PyTorch program writes into its model directory (model.json without weights). */
export function topologyFile(ir: IrModel): string {
  const seed = Number(ir.train?.["seed"] ?? 0);
  return `${JSON.stringify({ format: "layers-model", generatedBy: "TensorFlow.js tfjs-layers v4.22.0", convertedBy: null, modelTopology: modelTopology(ir, seed) })}\n`;
}
