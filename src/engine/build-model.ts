import * as tf from "@tensorflow/tfjs";
import type { IrModel, IrNode } from "../ir/types.js";
import { assertNever } from "../util.js";
import {
  AttentionPool,
  BiLstm,
  Dense,
  Dropout,
  Embedding,
  layerSeed,
  Lstm,
  Reduce,
  registerLayers,
  type Activation,
  type InputAttention,
  type Merge,
} from "../runtime/layers.js";
import type { RecurrentActivation } from "../runtime/ops.js";

type SymbolicTensor = tf.SymbolicTensor;

function layerFor(node: IrNode, seed: number): tf.layers.Layer {
  const a = node.attrs as Record<string, unknown>;
  const name = node.name;
  switch (node.op) {
    case "embedding":
      return new Embedding({ name, vocab: a["vocab"] as number, dim: a["dim"] as number, maskZero: a["mask_zero"] as boolean, seed });
    case "lstm":
      return new Lstm({
        name,
        units: a["units"] as number,
        recurrentActivation: a["recurrent_activation"] as RecurrentActivation,
        unitForgetBias: a["unit_forget_bias"] as boolean,
        inputAttention: (a["input_attention"] as InputAttention | undefined) ?? null,
        seed,
      });
    case "bilstm":
      return new BiLstm({
        name,
        units: a["units"] as number,
        merge: a["merge"] as Merge,
        recurrentActivation: a["recurrent_activation"] as RecurrentActivation,
        unitForgetBias: a["unit_forget_bias"] as boolean,
        seed,
      });
    case "attention_pool":
      return new AttentionPool({ name, units: (a["units"] as number | undefined) ?? null, score: a["score"] as "additive" | "zhou", seed });
    case "last":
      return new Reduce({ name, mode: "last" });
    case "mean_pool":
      return new Reduce({ name, mode: "mean" });
    case "max_pool":
      return new Reduce({ name, mode: "max" });
    case "dropout":
      return new Dropout({ name, rate: a["rate"] as number, seed });
    case "dense":
      return new Dense({ name, units: a["units"] as number, activation: a["activation"] as Activation, seed });
    default:
      return assertNever(node.op);
  }
}

/** The attention weights a model exposes, by node: pooling [B, T], temporal [B, T, T], features [B, T, F]. */
export interface AttentionOutput {
  node: string;
  kind: "pool" | "temporal" | "features";
}

export function attentionOutputs(ir: IrModel): AttentionOutput[] {
  const out: AttentionOutput[] = [];
  for (const n of ir.nodes) {
    if (!n.ports?.["weights"]) continue;
    const att = (n.attrs as Record<string, unknown>)["input_attention"] as { kind: "temporal" | "features" } | undefined;
    out.push({ node: n.name, kind: n.op === "attention_pool" ? "pool" : att!.kind });
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
