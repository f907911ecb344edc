import * as tf from "@tensorflow/tfjs";
import type { IrModel, IrNode } from "../ir/types.js";
import { runtimeLayer } from "../layers/kind.js";
import { kindOf } from "../layers/registry.js";
import { LAYER_CLASSES, layerSeed, registerLayers } from "../runtime/layers.js";

type SymbolicTensor = tf.SymbolicTensor;
/** The runtime's registered layer classes by the name the generated programs import them under. */
const RUNTIME_CLASSES: ReadonlyMap<string, (typeof LAYER_CLASSES)[keyof typeof LAYER_CLASSES]> = new Map(Object.entries(LAYER_CLASSES));

/** The runtime layer a node becomes: the class and arguments its kind names (codegen/emit.ts writes the same). */
function layerFor(node: IrNode, seed: number): tf.layers.Layer {
  const { className, config, seeded } = runtimeLayer(kindOf(node), node);
  const cls = RUNTIME_CLASSES.get(className);
  if (!cls) throw new Error(`compiler bug: ${node.op} names the runtime layer ${className}, which src/runtime/layers.ts's LAYER_CLASSES does not list`);
  return Reflect.construct(cls, [{ name: node.name, ...config, ...(seeded ? { seed } : {}) }]) as tf.layers.Layer;
}

/** The attention weights a model exposes, by node: pooling [B, T], temporal [B, T, T], features [B, T, F]. */
export interface AttentionOutput {
  node: string;
  kind: "pool" | "temporal" | "features";
}

export function attentionOutputs(ir: IrModel): AttentionOutput[] {
  const out: AttentionOutput[] = [];
  for (const n of ir.nodes) {
    const kind = n.ports?.["weights"] ? kindOf(n).attention?.(n) : undefined;
    if (!kind) continue;
    out.push({ node: n.name, kind });
  }
  return out;
}

/**
 * Builds the validated IR as a TensorFlow.js functional model. The IR is a graph of named nodes; each node
 * becomes one layer of the same name, so weight names read `<node>/<weight>` as documented in the IR.
 */
export function buildModel(ir: IrModel, seed: number): tf.LayersModel {
  registerLayers();
  const values = new Map<string, SymbolicTensor>();
  const inputs = ir.inputs.map((i) => {
    const shape = i.shape.slice(1).map((d) => (typeof d === "number" ? d : Object.hasOwn(ir.dims, d) ? ir.dims[d]! : null));
    const t = tf.input({ shape, dtype: i.dtype, name: i.name });
    values.set(i.name, t);
    return t;
  });
  ir.nodes.forEach((node, index) => {
    const [src, port] = node.inputs[0]!.split(".") as [string, string | undefined];
    const x = values.get(port ? `${src}.${port}` : src);
    if (!x) throw new Error(`compiler bug: node ${node.name} reads ${node.inputs[0]}, which is not built`);
    const out = layerFor(node, layerSeed(seed, index)).apply(x) as SymbolicTensor | SymbolicTensor[];
    if (Array.isArray(out)) {
      values.set(node.name, out[0]!);
      values.set(`${node.name}.weights`, out[1]!);
    } else values.set(node.name, out);
  });
  return tf.model({ inputs, outputs: ir.outputs.map((o) => values.get(o)!), name: ir.model });
}

/** A model with the main output followed by every attention weight output, sharing the trained layers. */
export function explainModel(model: tf.LayersModel, attention: readonly AttentionOutput[]): tf.LayersModel {
  const outs = attention.map((a) => {
    const o = model.getLayer(a.node).output as SymbolicTensor | SymbolicTensor[];
    if (!Array.isArray(o)) throw new Error(`compiler bug: ${a.node} has no weights output`);
    return o[1]!;
  });
  return tf.model({ inputs: model.inputs, outputs: [...(model.outputs as SymbolicTensor[]), ...outs] });
}
