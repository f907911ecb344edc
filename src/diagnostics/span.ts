/** A half-open range [start, end) of UTF-16 offsets into one source, with 1-based line/column of its start and end. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}

/** A source text and the name it is reported under (a path relative to where attnc was run). */
export interface Source {
  readonly name: string;
  readonly text: string;
}

/** Maps offsets to 1-based line/column; built once per source. */
export class LineMap {
  private readonly starts: number[] = [0];
  /** LF, CRLF and a lone CR each end a line, as they do for the lexer. */
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      }
    }
  }
  get lineCount(): number {
    return this.starts.length;
  }
  position(offset: number): { line: number; column: number } {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: o - this.starts[lo]! + 1 };
  }
  span(start: number, end: number): Span {
    const a = this.position(start);
    const b = this.position(end);
    return { start, end, line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
  }
  /** The text of a 1-based line, without its line break. */
  lineText(line: number): string {
    const s = this.starts[line - 1];
    if (s === undefined) return "";
    const next = this.starts[line];
    let e = next === undefined ? this.text.length : next;
    if (e > s && this.text.charCodeAt(e - 1) === 10) e--;
    if (e > s && this.text.charCodeAt(e - 1) === 13) e--;
    return this.text.slice(s, e);
  }
}

export function joinSpans(a: Span, b: Span): Span {
  const first = a.start <= b.start ? a : b;
  const last = a.end >= b.end ? a : b;
  return {
    start: first.start,
    end: last.end,
    line: first.line,
    column: first.column,
    endLine: last.endLine,
    endColumn: last.endColumn,
  };
}
