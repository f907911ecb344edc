/**
 * The parts of the IR a layer kind's module needs: dimensions, attribute values, weights and the shape of one
 * node. The IR as a whole, with its node union over the registered kinds, is src/ir/types.ts.
 */

/** A dimension: a size, or a symbol that stays named (`B` is the batch). */
export type IrDim = number | string;

export type Attrs = { readonly [key: string]: AttrValue };
export type AttrValue = number | string | boolean | readonly AttrValue[] | Attrs;

export function formatShape(shape: readonly IrDim[]): string {
  return `[${shape.join(", ")}]`;
}

/** One trainable tensor, documented so that another tool can load it without reading attnc. */
export interface IrWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly layout: string;
}

/** A node of op `Op` whose attributes are `A` (every default filled in by analysis). */
export interface IrNodeOf<Op extends string, A> {
  readonly name: string;
  readonly op: Op;
  /** Producers: an input or node name, or `node.port` for a secondary output. */
  readonly inputs: readonly string[];
  /** The kind's attributes; read as plain JSON (`Attrs`) by code that serialises any node. */
  readonly attrs: A & Attrs;
  readonly shape?: readonly IrDim[];
  /** True when a padding mask [B, T] travels with this node's output. */
  readonly mask?: boolean;
  readonly params?: number;
  readonly weights?: readonly IrWeight[];
  /** Secondary named outputs, such as attention weights. */
  readonly ports?: { readonly [port: string]: readonly IrDim[] };
}
