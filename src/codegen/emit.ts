/**
 * Emits one TypeScript training program per model: explicit layer-by-layer model code with each layer's equation
 * above it and the data and train blocks as literals. The program imports attnc's runtime (the same source that
 * `attnc train` runs) from one module that `attnc build` writes beside it, RUNTIME_MODULE. Strings from the spec
 * reach the program only as JSON literals; names only as validated identifiers, renamed where they would clash with
 * the language or with the names the program imports.
 */
import { formatShape } from "../ir/analyze.js";
import type { IrDim, IrModel, IrNode } from "../ir/types.js";
import { runtimeLayer, type RuntimeValue } from "../layers/kind.js";
import { kindOf, LAYER_KINDS } from "../layers/registry.js";

/** The runtime module `attnc build` writes once per output folder; the programs import it. */
export const RUNTIME_MODULE = "attnc-runtime.ts";

export interface EmitOptions {
  /** The spec's path relative to the output directory, for the header. */
  readonly specPath: string;
  /** sha256 of the spec text, hex. */
  readonly specHash: string;
  /** The data file the spec names, relative to the output directory. */
  readonly dataPath: string;
}

/** What a program imports from the runtime module: the layer classes, the seed rule and the entry point. */
const RUNTIME_IMPORTS = [...new Set(LAYER_KINDS.map((k) => k.runtimeClass)), "layerSeed", "programMain", "registerLayers"].sort();
const RUNTIME_TYPES = ["DataConfig", "TrainConfig"] as const;

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "as implements interface let package private protected public static yield any boolean constructor declare get module require number set string symbol type from of async await undefined NaN Infinity arguments eval " +
    "tf seed inputs outputs process console globalThis"
  ).split(" "),
);

/** Comment-safe text: every control and line-separator character escaped, no comment terminators. */
export function commentText(s: string): string {
  return JSON.stringify(s)
    .slice(1, -1)
    .replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .replace(/\*\//g, "*\\/");
}

function shapeText(shape: readonly IrDim[] | undefined): string {
  return shape ? formatShape(shape) : "[?]";
}

const group = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** The equation a layer computes, as a comment (LANGUAGE.md's notation). */
export function equation(n: IrNode): string[] {
  return kindOf(n).equations(n);
}

/** What a model directory needs of the IR; the full IR, weight layouts included, is <Model>.ir.json beside the program. */
export function slimIr(ir: IrModel): object {
  return {
    irVersion: ir.irVersion,
    model: ir.model,
    dims: ir.dims,
    inputs: ir.inputs,
    nodes: ir.nodes.map((n) => ({ name: n.name, op: n.op, inputs: n.inputs, attrs: n.attrs, shape: n.shape, ...(n.ports ? { ports: n.ports } : {}) })),
    outputs: ir.outputs,
  };
}

function js(v: unknown): string {
  return JSON.stringify(v);
}

/** A runtime constructor argument as TypeScript: JSON, with objects written as object literals. */
function literal(v: RuntimeValue): string {
  if (typeof v !== "object") return js(v);
  return `{ ${Object.entries(v)
    .flatMap(([k, x]) => (x === undefined ? [] : [`${k}: ${literal(x)}`]))
    .join(", ")} }`;
}

/** `new <Class>({ name, ...config, seed })`: the runtime layer build-model constructs for the node. */
export function layerExpr(n: IrNode, index: number): string {
  const { className, config, seeded } = runtimeLayer(kindOf(n), n);
  const args = { name: n.name, ...config };
  return `new ${className}(${literal(args).replace(/ }$/, seeded ? `, seed: layerSeed(seed, ${index}) }` : " }")})`;
}

/** Program identifiers for spec names: unchanged unless reserved or taken, then suffixed. */
class Names {
  private readonly used = new Set<string>();
  private readonly map = new Map<string, string>();
  constructor(private readonly taken: ReadonlySet<string>) {}
  of(specName: string): string {
    let v = this.map.get(specName);
    if (v) return v;
    const base = /^[A-Za-z_][A-Za-z0-9_]*$/.test(specName) ? specName : `v_${specName.replace(/[^A-Za-z0-9_]/g, "_")}`;
    v = base;
    for (let k = 1; RESERVED.has(v) || this.taken.has(v) || this.used.has(v); k++) v = `${base}_${k}`;
    this.used.add(v);
    this.map.set(specName, v);
    return v;
  }
}

export function emitProgram(ir: IrModel, o: EmitOptions): string {
  const names = new Names(new Set([...RUNTIME_IMPORTS, ...RUNTIME_TYPES, "DATA", "TRAIN", "IR", "DEFAULT_DATA"]));
  const producers = new Map<string, IrNode>(ir.nodes.map((n) => [n.name, n]));
  const inputShapes = new Map(ir.inputs.map((i) => [i.name, i.shape]));
  const consumed = new Set(ir.nodes.map((m) => m.inputs[0]));
  const build = names.of(`build${ir.model}`);
  const lines: string[] = [];
  lines.push(`// Code generated by attnc from ${commentText(o.specPath)}. DO NOT EDIT.`);
  lines.push(`// Spec sha256: ${o.specHash}`);
  lines.push("//");
  lines.push(`// Trains model ${ir.model} as its spec says, with no dependency on attnc: it imports TensorFlow.js and attnc's`);
  lines.push(`// runtime module ${RUNTIME_MODULE}, which attnc build writes beside it. Run it with \`npx tsx <file>.ts [options]\``);
  lines.push("// (or compile it with tsc and run the .js with node); `--help` lists the options.");
  lines.push("");
  lines.push(`import * as tf from "@tensorflow/tfjs";`);
  lines.push(
    `import { ${RUNTIME_IMPORTS.join(", ")}, ${RUNTIME_TYPES.map((t) => `type ${t}`).join(", ")} } from ${js(`./${RUNTIME_MODULE.replace(/\.ts$/, ".js")}`)};`,
  );
  lines.push("");
  lines.push(`// ---- model ${ir.model}`);
  lines.push("");
  lines.push(`/** The data file named by the spec, relative to this program. */`);
  lines.push(`const DEFAULT_DATA = ${js(o.dataPath)};`);
  lines.push("");
  lines.push(`/** The spec's data block. */`);
  lines.push(`const DATA: DataConfig = ${js(ir.data)};`);
  lines.push("");
  lines.push(`/** The spec's train block. */`);
  lines.push(`const TRAIN: TrainConfig = ${js(ir.train)};`);
  lines.push("");
  lines.push(`/** The model's graph as the IR gives it (shapes, attention outputs), written into the model directory. */`);
  lines.push(`const IR = ${js(slimIr(ir))};`);
  lines.push("");
  lines.push(`/** Builds ${ir.model} with fresh weights; the same seed gives the same weights as attnc train. */`);
  lines.push(`function ${build}(seed: number): tf.LayersModel {`);
  lines.push("registerLayers();");
  for (const inp of ir.inputs) {
    const v = names.of(inp.name);
    const shape = inp.shape.slice(1).map((d) => (typeof d === "number" ? d : (ir.dims[d] ?? null)));
    lines.push("");
    const sizes = inp.shape
      .filter((d): d is string => typeof d === "string" && d !== "B" && ir.dims[d] !== undefined && ir.dims[d] !== null)
      .map((d) => `${d} = ${String(ir.dims[d])}`);
    lines.push(
      `// input ${inp.name}: ${inp.dtype === "int32" ? "token ids" : "floats"} ${shapeText(inp.shape)}${sizes.length > 0 ? `, ${sizes.join(", ")}` : ""}`,
    );
    lines.push(`const ${v} = tf.input({ shape: ${js(shape)}, dtype: ${js(inp.dtype)}, name: ${js(inp.name)} });`);
  }
  ir.nodes.forEach((n, i) => {
    const [src, port] = n.inputs[0]!.split(".") as [string, string | undefined];
    const from = port ? names.of(`${src}.${port}`) : names.of(src);
    lines.push("");
    const inShape = port ? producers.get(src)?.ports?.[port] : (producers.get(src)?.shape ?? inputShapes.get(src));
    lines.push(`// ${n.name} = ${n.op}(${n.inputs[0]}): ${shapeText(inShape)} -> ${shapeText(n.shape)}${n.params ? `, ${group(n.params)} parameters` : ""}`);
    for (const e of equation(n)) lines.push(`//   ${e}`);
    if (n.ports?.["weights"]) {
      const used = consumed.has(`${n.name}.weights`);
      lines.push(`// second output: the attention weights ${formatShape(n.ports["weights"])}${used ? "" : " (attnc explain reads them)"}`);
      lines.push(`const [${names.of(n.name)}${used ? `, ${names.of(`${n.name}.weights`)}` : ""}] = ${layerExpr(n, i)}.apply(${from}) as tf.SymbolicTensor[];`);
    } else {
      lines.push(`const ${names.of(n.name)} = ${layerExpr(n, i)}.apply(${from}) as tf.SymbolicTensor;`);
    }
  });
  lines.push("");
  lines.push(
    `return tf.model({ inputs: [${ir.inputs.map((i) => names.of(i.name)).join(", ")}], outputs: [${ir.outputs.map((n) => names.of(n)).join(", ")}], name: ${js(ir.model)} });`,
  );
  lines.push("}");
  lines.push("");
  lines.push("// ---- entry point");
  lines.push("");
  lines.push(`programMain(process.argv.slice(2), { ir: IR, data: DATA, train: TRAIN, build: ${build}, defaultData: DEFAULT_DATA }).then(`);
  lines.push("(code) => {");
  lines.push("process.exitCode = code;");
  lines.push("},");
  lines.push("(e: unknown) => {");
  lines.push("process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\\n`);");
  lines.push("process.exitCode = 70;");
  lines.push("},");
  lines.push(");");
  return `${lines.join("\n")}\n`;
}
