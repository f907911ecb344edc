import type * as A from "./ast.js";
import type { Span } from "../diagnostics/span.js";
import { assertNever } from "../util.js";

/**
 * The canonical layout of a spec (`attnc fmt`): one declaration after another with a blank line between,
 * two-space indent, every `-> layer` of a chain on its own line, `key: value` settings. Comments are kept:
 * a comment on its own line stays before the element that follows it, a comment at the end of a line stays
 * at the end of that element's line. Single blank lines inside blocks are kept. Only error-free ASTs print.
 */
export function printSpec(spec: A.SpecFile): string {
  return new Printer(spec.comments).spec(spec);
}

export function printValue(v: A.Value): string {
  switch (v.kind) {
    case "Number":
    case "String":
      return v.raw;
    case "Word":
      return v.value;
    case "List":
      return `[${v.items.map(printValue).join(", ")}]`;
    case "Call":
      return `${v.callee.value}(${v.args.map(printArg).join(", ")})`;
    default:
      return assertNever(v);
  }
}

function printArg(a: A.Arg): string {
  return a.name ? `${a.name.value}: ${printValue(a.value)}` : printValue(a.value);
}

function printDim(d: A.Dim): string {
  if (d.name && d.size) return `${d.name.value} = ${d.size.raw}`;
  return d.name ? d.name.value : d.size!.raw;
}

class Printer {
  private readonly out: string[] = [];
  private next = 0;
  /** End line of the last printed element, for blank-line keeping. */
  private lastLine = 0;

  constructor(private readonly comments: readonly A.Comment[]) {}

  spec(spec: A.SpecFile): string {
    spec.declarations.forEach((d, i) => {
      if (i > 0) this.out.push("");
      this.leading(d.loc, "", i > 0);
      switch (d.kind) {
        case "Model":
          this.model(d);
          break;
        case "Data":
        case "Train":
          this.block(d);
          break;
        default:
          assertNever(d);
      }
    });
    // Comments after the last declaration.
    if (this.next < this.comments.length) {
      if (spec.declarations.length > 0) this.out.push("");
      while (this.next < this.comments.length) this.out.push(this.comments[this.next++]!.text);
    }
    return this.out.length === 0 ? "" : `${this.out.join("\n")}\n`;
  }

  /**
   * Comments before `span` on lines of their own. One blank line is kept wherever the source had one between
   * two printed things; `keepBlank` says whether that applies before the first of them too.
   */
  private leading(span: Span, indent: string, keepBlank: boolean): void {
    let allowBlank = keepBlank;
    const blank = (line: number): void => {
      if (allowBlank && this.lastLine > 0 && line > this.lastLine + 1 && this.out[this.out.length - 1] !== "") this.out.push("");
    };
    while (this.next < this.comments.length && this.comments[this.next]!.loc.start < span.start) {
      const c = this.comments[this.next++]!;
      blank(c.loc.line);
      this.out.push(indent + c.text);
      this.lastLine = c.loc.endLine;
      allowBlank = true;
    }
    blank(span.line);
  }

  /**
   * A line for an element, with its end-of-line comment if the source had one there. `before` is where the
   * next element starts: a comment after it belongs to that element, even on the same source line.
   */
  private line(text: string, span: Span, before = Infinity): void {
    let s = text;
    while (this.next < this.comments.length) {
      const c = this.comments[this.next]!;
      if (c.loc.line !== span.endLine || c.loc.start < span.end || c.loc.start > before) break;
      s += ` ${c.text}`;
      this.next++;
      this.lastLine = c.loc.endLine;
    }
    this.out.push(s);
    this.lastLine = Math.max(this.lastLine, span.endLine);
  }

  private header(text: string, openSpan: Span, before: number): void {
    this.line(`${text} {`, openSpan, before);
  }

  private close(decl: A.Declaration, indent: string): void {
    // Comments left inside the block go before its closing brace.
    const end = { ...decl.loc, start: decl.loc.end - 1, line: decl.loc.endLine };
    this.leading(end, indent + "  ", true);
    this.line(`${indent}}`, { ...end, end: decl.loc.end });
  }

  private model(m: A.ModelDecl): void {
    this.header(`model ${m.name.value}`, m.name.loc, m.body[0]?.loc.start ?? m.loc.end);
    m.body.forEach((st, i) => {
      const nextStart = m.body[i + 1]?.loc.start ?? m.loc.end;
      this.leading(st.loc, "  ", i > 0);
      if (st.kind === "Input") {
        this.line(`  input ${st.name.value}: ${st.dtype.value}[${st.dims.map(printDim).join(", ")}]`, st.loc, nextStart);
      } else {
        this.line(`  ${st.source.name.value}${st.source.port ? `.${st.source.port.value}` : ""}`, st.source.loc, st.layers[0]?.loc.start ?? nextStart);
        st.layers.forEach((l, j) => {
          this.leading(l.loc, "    ", false);
          const args = l.args ? `(${l.args.map(printArg).join(", ")})` : "";
          this.line(`    -> ${l.op.value}${args}${l.alias ? ` as ${l.alias.value}` : ""}`, l.loc, st.layers[j + 1]?.loc.start ?? nextStart);
        });
      }
    });
    this.close(m, "");
  }

  private block(b: A.BlockDecl): void {
    this.header(`${b.kind === "Data" ? "data" : "train"} ${b.model.value}`, b.model.loc, b.settings[0]?.loc.start ?? b.loc.end);
    b.settings.forEach((s, i) => {
      this.leading(s.loc, "  ", i > 0);
      this.line(`  ${s.key.value}: ${s.clauses.map((c) => c.terms.map(printValue).join(" ")).join(", ")}`, s.loc, b.settings[i + 1]?.loc.start ?? b.loc.end);
    });
    this.close(b, "");
  }
}
