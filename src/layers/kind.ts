/**
 * What one layer kind is, in one module (src/layers/<kind>.ts): its op names with their signatures and one-line
 * summaries, its shape, mask and weight inference, its equations, the runtime layer it becomes, and its PyTorch
 * code. The registry (./registry.ts) lists the kinds; everything else reads them from there. Nothing here loads
 * TensorFlow.js: the runtime classes are named, and engine/build-model.ts constructs them by that name.
 */
import type { CodeName } from "../diagnostics/catalogue.js";
import type { DiagnosticInit } from "../diagnostics/diagnostic.js";
import type { Span } from "../diagnostics/span.js";
import type { Attrs, IrDim, IrNodeOf, IrWeight } from "./node.js";
import type { CallFamily, Signature } from "./params.js";

/** What flows along an edge of the graph, as analysis sees it. */
export interface LayerValue {
  readonly shape: readonly IrDim[];
  readonly dtype: "int32" | "float32";
  readonly mask: boolean;
  /** Where it was produced, for messages that name both ends. */
  readonly name: string;
  readonly span: Span;
}

/** What inference may ask of the analysis: sizes, spans, diagnostics, and the checks most kinds share. */
export interface InferContext {
  /** The node's JSON pointer in the IR (`/nodes/3`); `${path}/attrs/...` points at an argument. */
  readonly path: string;
  /** A dimension's size, or null while it is symbolic. */
  size(d: IrDim): number | null;
  span(path: string): Span;
  report(code: CodeName, span: Span, message: string, init?: DiagnosticInit): void;
  /** x holds float vectors (not token ids); reports NeedsFloat if not. */
  needVectors(op: string, x: LayerValue): boolean;
  /** x is a sequence [B, T, D]; reports NeedsSequence (message ending in `hint`) if not. */
  needSequence(op: string, x: LayerValue, hint: string): boolean;
  /** The size of x's last dimension; reports UnboundDimension when it has none. */
  featureSize(op: string, x: LayerValue): number | undefined;
}

/** A node's inferred output: shape, whether a mask travels with it, its weights and its secondary outputs. */
export interface Inferred {
  readonly shape: IrDim[];
  readonly mask: boolean;
  readonly weights: IrWeight[];
  readonly ports?: Record<string, IrDim[]>;
}

/** A value in a runtime layer's constructor arguments: JSON, with objects written as object literals. */
export type RuntimeValue = number | string | boolean | { readonly [key: string]: RuntimeValue | undefined };

/**
 * The runtime layer a node becomes: the class that src/runtime/layers.ts exports and registers, and its
 * constructor arguments besides `name` and `seed`. engine/build-model.ts constructs it and codegen/emit.ts writes
 * `new <className>({ name, ...config, seed })`, so the built model and the generated program are the same.
 */
export interface RuntimeLayer {
  readonly className: string;
  /** Its constructor arguments, in the order the generated program writes them; undefined entries are left out. */
  readonly config: { readonly [key: string]: RuntimeValue | undefined };
  /** Whether the layer takes a seed (the layer's seed is fixed by the run's seed and the node's index). */
  readonly seeded: boolean;
}

/** What a kind's PyTorch code generation may ask about the node's input and the program. */
export interface PytorchContext {
  /** The size of the input's last dimension (throws when it has none: call it only for kinds that need it). */
  features(): number;
  /** The input's length T when it has a size, else null. */
  steps(): number | null;
  /** A Python literal for a JSON value. */
  literal(v: unknown): string;
  /** The seed argument, `seed=rt.layer_seed(seed, <index>)`. */
  readonly seed: string;
}

/** One op of a kind: what it accepts and what it computes, in one line (hover and completion docs). */
export interface OpInfo {
  readonly signature: Signature;
  readonly summary: string;
  /**
   * A small model that uses the op, for the registry tests: the chain after the input `x`, which is token ids
   * `int[T = 5]` or a series `float[T = 5, F = 3]`.
   */
  readonly example: { readonly input: "tokens" | "series"; readonly chain: string };
}

export interface LayerKind<N extends IrNodeOf<string, object> = IrNodeOf<string, object>> {
  /** The kind's ops in the order the language lists them, with their signatures (the LAYERS table) and docs. */
  readonly ops: { readonly [op in N["op"]]: OpInfo };
  /** Call families its arguments use (input attention), for the language server and the grammar. */
  readonly families?: readonly CallFamily[];
  /** Output shape, mask and weights; reports a diagnostic and returns undefined when the input does not fit. */
  infer(n: N, x: LayerValue, ctx: InferContext): Inferred | undefined;
  /**
   * Floats one example keeps for the backward pass beyond the node's output (gates, states, attention scores),
   * for the activation-memory estimate; T is the input's length, F its feature size when known.
   */
  extraFloats?(n: N, T: number, F: number | null): number;
  /** For a node with a `weights` port: what its attention weights are over. */
  attention?(n: N): "pool" | "temporal" | "features" | undefined;
  /** The equations it computes, one line each (the generated programs' comments). */
  equations(n: N): string[];
  /** The class src/runtime/layers.ts exports and registers for this kind (`Lstm`). */
  readonly runtimeClass: string;
  /** The node's runtime layer: its constructor arguments besides `name` and `seed`, and whether it takes a seed. */
  runtime(n: N): Omit<RuntimeLayer, "className">;
  /** The PyTorch runtime's constructor (`rt.Lstm`) and its arguments. */
  pytorch(n: N, ctx: PytorchContext): { readonly fn: string; readonly args: readonly string[] };
  /**
   * The layer as TensorFlow.js writes it into model.json (class_name and config after `name` and `trainable`),
   * for the topology a PyTorch program writes.
   */
  topology(n: N, seed: number): { readonly className: string; readonly config: object };
}

/** A kind, checked against its node type; the identity, for inference of `N`. */
export function layerKind<N extends IrNodeOf<string, object>>(kind: LayerKind<N>): LayerKind<N> {
  return kind;
}

/** `key=value` PyTorch arguments for attributes, in the order given; an absent attribute is `None`. */
export function pyArgs(ctx: PytorchContext, attrs: Attrs, keys: readonly string[]): string[] {
  return keys.map((k) => `${k}=${ctx.literal(attrs[k] ?? null)}`);
}

/** The runtime layer a node of `kind` becomes. */
export function runtimeLayer<N extends IrNodeOf<string, object>>(kind: LayerKind<N>, node: N): RuntimeLayer {
  return { className: kind.runtimeClass, ...kind.runtime(node) };
}
