/**
 * The attnc IR: plain JSON, one document per model, validated against schema/attnc-ir.schema.json.
 * Nodes form a graph by name; every node carries its inferred output shape, mask and weights.
 */
import type { LAYER_KINDS, NodeOf } from "../layers/registry.js";
import type { IrDim } from "../layers/node.js";
import type { DataSettings, TrainSettings } from "../runtime/settings.js";

export type { AttrValue, Attrs, IrDim, IrNodeOf, IrWeight } from "../layers/node.js";
export { OP_NAMES, type OpName } from "../layers/registry.js";

export interface IrInput {
  readonly name: string;
  readonly dtype: "int32" | "float32";
  readonly shape: readonly IrDim[];
}

/**
 * A node of one of the registered layer kinds (src/layers/registry.ts): `IrNodeOf<op, attributes>` for each op, with
 * EmbeddingAttrs, LstmAttrs, BiLstmAttrs, AttentionPoolAttrs, ReduceAttrs, DropoutAttrs or DenseAttrs; switching on
 * `op` gives the attributes their type.
 */
export type IrNode = NodeOf<(typeof LAYER_KINDS)[number]>;

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
