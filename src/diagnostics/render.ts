import type { Diagnostic } from "./diagnostic.js";
import { LineMap, type Span } from "./span.js";
import { assertNever } from "../util.js";

export type DiagnosticFormat = "pretty" | "plain" | "json" | "github";
export const DIAGNOSTIC_FORMATS: readonly DiagnosticFormat[] = ["pretty", "plain", "json", "github"];

/** Source texts by file name, for code frames. */
export type SourceTexts = ReadonlyMap<string, string>;

interface Style {
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  gray(s: string): string;
  bold(s: string): string;
}
const noStyle: Style = { red: (s) => s, yellow: (s) => s, cyan: (s) => s, gray: (s) => s, bold: (s) => s };
const ansi = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const colorStyle: Style = {
  red: ansi(31, 39),
  yellow: ansi(33, 39),
  cyan: ansi(36, 39),
  gray: ansi(90, 39),
  bold: ansi(1, 22),
};

function headline(d: Diagnostic): string {
  return d.suggestion !== undefined ? `${d.message}; did you mean '${d.suggestion}'?` : d.message;
}

/** Tabs become one space so that the underline lines up with what the terminal shows. */
function frame(lines: LineMap, span: Span, style: Style, mark: (s: string) => string): string[] {
  const lineNo = String(span.line);
  const text = lines.lineText(span.line).replace(/\t/g, " ");
  const startCol = span.column;
  const endCol = span.endLine === span.line ? Math.max(span.endColumn, startCol + 1) : text.length + 1;
  const width = Math.max(1, Math.min(endCol, text.length + 1) - startCol);
  const gutter = " ".repeat(lineNo.length);
  return [
    `${style.gray(lineNo)} ${text}`,
    `${gutter} ${" ".repeat(Math.max(0, startCol - 1))}${mark("~".repeat(width))}`,
  ];
}

function renderText(diags: readonly Diagnostic[], sources: SourceTexts, style: Style): string {
  const maps = new Map<string, LineMap>();
  const mapFor = (file: string): LineMap | undefined => {
    let m = maps.get(file);
    if (!m) {
      const text = sources.get(file);
      if (text === undefined) return undefined;
      m = new LineMap(text);
      maps.set(file, m);
    }
    return m;
  };
  const blocks: string[] = [];
  for (const d of diags) {
    const sev = d.severity === "error" ? style.red(d.severity) : style.yellow(d.severity);
    const out = [`${style.cyan(d.file)}:${style.yellow(`${d.span.line}:${d.span.column}`)} - ${sev} ${style.gray(d.code)}: ${headline(d)}`];
    const lm = mapFor(d.file);
    if (lm) {
      out.push("", ...frame(lm, d.span, style, d.severity === "error" ? style.red : style.yellow));
    }
    for (const r of d.related ?? []) {
      out.push("", `  ${style.cyan(d.file)}:${style.yellow(`${r.span.line}:${r.span.column}`)} - ${r.message}`);
      if (lm) out.push(...frame(lm, r.span, style, style.cyan).map((l) => `  ${l}`));
    }
    blocks.push(out.join("\n"));
  }
  return blocks.length === 0 ? "" : blocks.join("\n\n") + "\n";
}

function summary(diags: readonly Diagnostic[]): string {
  const errors = diags.filter((d) => d.severity === "error").length;
  const warnings = diags.length - errors;
  const parts: string[] = [];
  if (errors > 0) parts.push(`${errors} error${errors === 1 ? "" : "s"}`);
  if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? "" : "s"}`);
  return parts.length === 0 ? "" : `\nFound ${parts.join(" and ")}.\n`;
}

/** GitHub workflow command values escape %, CR, LF (and , : in properties). */
function ghData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
function ghProp(s: string): string {
  return ghData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

export function renderDiagnostics(
  diags: readonly Diagnostic[],
  format: DiagnosticFormat,
  sources: SourceTexts,
  options: { color?: boolean } = {},
): string {
  switch (format) {
    case "pretty":
      return renderText(diags, sources, options.color ? colorStyle : noStyle) + summary(diags);
    case "plain":
      return renderText(diags, sources, noStyle);
    case "json":
      return JSON.stringify(diags, null, 2) + "\n";
    case "github":
      return diags
        .map(
          (d) =>
            `::${d.severity} file=${ghProp(d.file)},line=${d.span.line},col=${d.span.column},endLine=${d.span.endLine},endColumn=${d.span.endColumn},title=${ghProp(d.code)}::${ghData(headline(d))}\n`,
        )
        .join("");
    default:
      return assertNever(format);
  }
}
