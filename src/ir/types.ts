/**
 * The attnc IR: plain JSON, one document per model, validated against schema/attnc-ir.schema.json.
 * Nodes form a graph by name; every node carries its inferred output shape, mask and weights.
 */
import type { DataSettings, TrainSettings } from "../runtime/settings.js";

/** A dimension: a size, or a symbol that stays named (`B` is the batch). */
export type IrDim = number | string;

export type Attrs = { readonly [key: string]: AttrValue };
export type AttrValue = number | string | boolean | readonly AttrValue[] | Attrs;

export interface IrInput {
  readonly name: string;
  readonly dtype: "int32" | "float32";
  readonly shape: readonly IrDim[];
}

/** One trainable tensor, documented so that another tool can load it without reading attnc. */
export interface IrWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly layout: string;
}

export interface IrNode {
  readonly name: string;
  readonly op: OpName;
  /** Producers: an input or node name, or `node.port` for a secondary output. */
  readonly inputs: readonly string[];
  readonly attrs: Attrs;
  readonly shape?: readonly IrDim[];
  /** True when a padding mask [B, T] travels with this node's output. */
  readonly mask?: boolean;
  readonly params?: number;
  readonly weights?: readonly IrWeight[];
  /** Secondary named outputs, such as attention weights. */
  readonly ports?: { readonly [port: string]: readonly IrDim[] };
}

export interface IrModel {
  readonly irVersion: 1;
  readonly model: string;
  /** Sizes of the named dimensions; null for a dimension left symbolic. */
  readonly dims: { readonly [name: string]: number | null };
  readonly inputs: readonly IrInput[];
  readonly nodes: readonly IrNode[];
  readonly outputs: readonly string[];
  readonly params?: number;
  /** The data block, defaults filled (src/runtime/settings.ts declares its settings). */
  readonly data?: DataSettings;
  /** The train block, defaults filled. */
  readonly train?: TrainSettings;
}

export const OP_NAMES = ["embedding", "lstm", "bilstm", "attention_pool", "last", "mean_pool", "max_pool", "dropout", "dense"] as const;
export type OpName = (typeof OP_NAMES)[number];
