import type { Span } from "../diagnostics/span.js";

/**
 * The .attn syntax tree. Read-only, tagged by `kind`, every node with its source span.
 * Parts that error recovery had to invent are absent (undefined), never placeholder names.
 */
export interface Name {
  readonly kind: "Name";
  readonly value: string;
  readonly loc: Span;
}

export interface NumberLit {
  readonly kind: "Number";
  readonly value: number;
  /** The lexeme as written (kept by fmt). */
  readonly raw: string;
  readonly loc: Span;
}

export interface StringLit {
  readonly kind: "String";
  readonly value: string;
  readonly raw: string;
  readonly loc: Span;
}

/** A bare identifier in value position: `softmax`, `true`, `val_loss`. */
export interface Word {
  readonly kind: "Word";
  readonly value: string;
  readonly loc: Span;
}

export interface ListLit {
  readonly kind: "List";
  readonly items: readonly Value[];
  readonly loc: Span;
}

/** `name(args)` in value position: `csv("a.csv", text: "t")`, `adam(lr: 1e-3)`, `temporal(units: 32)`. */
export interface Call {
  readonly kind: "Call";
  readonly callee: Name;
  readonly args: readonly Arg[];
  readonly loc: Span;
}

export type Value = NumberLit | StringLit | Word | ListLit | Call;

/** A positional (`name` absent) or named argument. */
export interface Arg {
  readonly kind: "Arg";
  readonly name?: Name;
  readonly value: Value;
  readonly loc: Span;
}

export interface Dim {
  readonly kind: "Dim";
  readonly name?: Name;
  readonly size?: NumberLit;
  readonly loc: Span;
}

export interface InputDecl {
  readonly kind: "Input";
  readonly name: Name;
  readonly dtype: Name;
  readonly dims: readonly Dim[];
  readonly loc: Span;
}

export interface Reference {
  readonly kind: "Reference";
  readonly name: Name;
  readonly port?: Name;
  readonly loc: Span;
}

export interface Layer {
  readonly kind: "Layer";
  readonly op: Name;
  /** Absent when written without parentheses (`last`). */
  readonly args?: readonly Arg[];
  readonly alias?: Name;
  readonly loc: Span;
}

export interface Chain {
  readonly kind: "Chain";
  readonly source: Reference;
  readonly layers: readonly Layer[];
  readonly loc: Span;
}

export type ModelStatement = InputDecl | Chain;

export interface ModelDecl {
  readonly kind: "Model";
  readonly name: Name;
  readonly body: readonly ModelStatement[];
  readonly loc: Span;
}

/** One comma-separated part of a setting: `0.8`, `train 0.8`, `chronological train 0.8`. */
export interface Clause {
  readonly kind: "Clause";
  readonly terms: readonly Value[];
  readonly loc: Span;
}

export interface Setting {
  readonly kind: "Setting";
  readonly key: Name;
  readonly clauses: readonly Clause[];
  readonly loc: Span;
}

export interface BlockDecl {
  readonly kind: "Data" | "Train";
  readonly model: Name;
  readonly settings: readonly Setting[];
  readonly loc: Span;
}

export type Declaration = ModelDecl | BlockDecl;

export interface Comment {
  readonly kind: "Comment";
  readonly text: string;
  readonly loc: Span;
}

export interface SpecFile {
  readonly kind: "Spec";
  readonly declarations: readonly Declaration[];
  readonly comments: readonly Comment[];
  readonly loc: Span;
}

export type AstNode = SpecFile | Declaration | ModelStatement | Setting | Clause | Layer | Reference | Dim | Arg | Value | Name | Comment;
