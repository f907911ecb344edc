import { Codes, type CodeName, type Severity } from "./catalogue.js";
import type { Span } from "./span.js";

/** A secondary location that explains the primary one ("the other end"). */
export interface RelatedInfo {
  readonly message: string;
  readonly span: Span;
}

/** A user-facing problem. Compiler bugs are thrown; user mistakes are returned as these. */
export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  /** Name of the source the span belongs to. */
  readonly file: string;
  readonly span: Span;
  readonly related?: readonly RelatedInfo[];
  /** A replacement the user probably meant ("did you mean ..."). */
  readonly suggestion?: string;
}

export interface DiagnosticInit {
  readonly related?: readonly RelatedInfo[];
  readonly suggestion?: string;
}

/** Messages are cut to this length: they quote names from the spec, which may be long. */
export const MAX_MESSAGE = 1000;

function cut(s: string): string {
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE - 3)}...` : s;
}

/** Collects diagnostics for one source. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  constructor(readonly file: string) {}

  report(name: CodeName, span: Span, message: string, init: DiagnosticInit = {}): void {
    const entry = Codes[name];
    this.items.push({
      code: entry.code,
      severity: entry.severity,
      message: cut(message),
      file: this.file,
      span,
      ...(init.related && init.related.length > 0 ? { related: init.related.map((r) => ({ ...r, message: cut(r.message) })) } : {}),
      ...(init.suggestion !== undefined ? { suggestion: init.suggestion } : {}),
    });
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }
}

/** Sorts by file, position, then code, and drops exact duplicates. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  const sorted = [...list].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.span.start - b.span.start ||
      a.span.end - b.span.end ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
  const out: Diagnostic[] = [];
  for (const d of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.file === d.file && prev.code === d.code && prev.span.start === d.span.start && prev.message === d.message) continue;
    out.push(d);
  }
  return out;
}
