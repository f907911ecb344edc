/**
 * The layer kinds of the language, in the order the language lists them. Adding a kind is one module in this
 * folder, its runtime class in src/runtime (registered by registerLayers), and one entry here: the IR's node
 * type, OP_NAMES, the LAYERS table, the JSON Schema, lowering, analysis, model building, both code generators,
 * the language server, grammar/REFERENCE.md and the fuzzers' dictionary all read it from here.
 */
import type { IrNodeOf } from "./node.js";
import type { CallFamily, Signature } from "./params.js";
import { attentionPool } from "./attention-pool.js";
import { bilstm } from "./bilstm.js";
import { dense } from "./dense.js";
import { dropout } from "./dropout.js";
import { embedding } from "./embedding.js";
import { bigru, gru } from "./gru.js";
import type { LayerKind, OpInfo } from "./kind.js";
import { lstm } from "./lstm.js";
import { reduce } from "./reduce.js";

export const LAYER_KINDS = [embedding, lstm, bilstm, gru, bigru, attentionPool, reduce, dropout, dense] as const;

/** The node type of a kind. */
export type NodeOf<K> = K extends LayerKind<infer N> ? N : never;

/** A node of any registered kind; switching on `op` narrows its attributes. */
export type LayerNode = NodeOf<(typeof LAYER_KINDS)[number]>;
export type OpName = LayerNode["op"];

/** Every op name, in the registry's order. */
export const OP_NAMES: readonly OpName[] = LAYER_KINDS.flatMap((k) => Object.keys(k.ops) as OpName[]);

const KIND_OF = new Map<string, LayerKind<IrNodeOf<string, object>>>(LAYER_KINDS.flatMap((k) => Object.keys(k.ops).map((op) => [op, k] as const)));

export function isOp(name: string): name is OpName {
  return KIND_OF.has(name);
}

/**
 * The kind of a node, typed by the node: the one place that ties a node of the union to its kind's functions
 * (each kind is registered under exactly its own ops, so the kind found handles this node's type).
 */
export function kindOf<N extends LayerNode>(node: N): LayerKind<N> {
  return KIND_OF.get(node.op) as LayerKind<N>;
}

/** An op's signature and one-line summary. */
export function opInfo(op: OpName): OpInfo {
  return (KIND_OF.get(op)!.ops as { readonly [op: string]: OpInfo })[op]!;
}

/** What every layer accepts: types, ranges, defaults and the order of positional arguments. */
export const LAYERS: { readonly [op in OpName]: Signature } = Object.fromEntries(OP_NAMES.map((op) => [op, opInfo(op).signature])) as {
  readonly [op in OpName]: Signature;
};

/** The call families layers' arguments use (input attention), each once. */
export const LAYER_CALL_FAMILIES: readonly CallFamily[] = [
  ...new Set(LAYER_KINDS.flatMap((k): readonly CallFamily[] => ("families" in k ? k.families : []) ?? [])),
];
