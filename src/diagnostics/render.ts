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
  return clip(visible(d.suggestion !== undefined ? `${d.message}; did you mean '${d.suggestion}'?` : d.message), MAX_HEADLINE);
}

function more(n: number): string {
  return `and ${n} more diagnostic${n === 1 ? "" : "s"}`;
}

/** Text formats show at most this many diagnostics, then how many more there are. */
export const MAX_RENDERED = 100;
/** A source line in a code frame is cut to this many columns around its span. */
export const MAX_FRAME_WIDTH = 200;
/** A message is cut to this many characters. */
export const MAX_HEADLINE = 400;

/**
 * Characters that would act on a terminal instead of showing (C0 and C1 controls, DEL, bidirectional
 * overrides, line and paragraph separators, lone surrogates, BOM) are shown as `\u{..}` escapes.
 */
const UNSAFE =
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  // A byte that was not UTF-8, as src/language/source.ts decodeSource keeps it (U+DC00 + byte).
  if (code >= 0xdc80 && code <= 0xdcff) return `\\x{${(code - 0xdc00).toString(16)}}`;
  return `\\u{${code.toString(16)}}`;
}

/** A string safe to print on a terminal, tabs included (as `\t`). */
export function visible(s: string): string {
  return s.replace(/\t/g, "\\t").replace(UNSAFE, escapeChar);
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/**
 * A source line as shown: tabs become one space, unsafe characters their escapes, so that the underline lines
 * up with what the terminal shows; `at[i]` is where source column i + 1 lands.
 */
function displayLine(text: string): { shown: string; at: number[] } {
  let shown = "";
  const at: number[] = [];
  for (let i = 0; i < text.length; i++) {
    at.push(shown.length);
    const c = text[i]!;
    const code = c.charCodeAt(0);
    const low = text.charCodeAt(i + 1);
    if (c === "\t") shown += " ";
    else if (code >= 0xd800 && code <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
      shown += text.slice(i, i + 2);
      at.push(shown.length - 1);
      i++;
    } else shown += c.replace(UNSAFE, escapeChar);
  }
  at.push(shown.length);
  return { shown, at };
}

function frame(lines: LineMap, span: Span, style: Style, mark: (s: string) => string): string[] {
  const lineNo = String(span.line);
  const raw = lines.lineText(span.line);
  const { shown, at } = displayLine(raw);
  const col = (c: number): number => at[Math.max(0, Math.min(c - 1, raw.length))]!;
  const start = col(span.column);
  const end = span.endLine === span.line ? Math.max(col(span.endColumn), start + 1) : shown.length + 1;
  // Long lines show a window that starts a little before the span.
  let from = 0;
  let text = shown;
  if (shown.length > MAX_FRAME_WIDTH) {
    from = Math.max(0, Math.min(start - 40, shown.length - MAX_FRAME_WIDTH));
    const to = from + MAX_FRAME_WIDTH;
    text = `${from > 0 ? "..." : ""}${shown.slice(from, to)}${to < shown.length ? "..." : ""}`;
    from -= from > 0 ? 3 : 0;
  }
  const s = start - from;
  const width = Math.max(1, Math.min(end - from, text.length + 1, MAX_FRAME_WIDTH + 3) - s);
  const gutter = " ".repeat(lineNo.length);
  return [`${style.gray(lineNo)} ${text}`, `${gutter} ${" ".repeat(Math.max(0, s))}${mark("~".repeat(width))}`];
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
  for (const d of diags.slice(0, MAX_RENDERED)) {
    const sev = d.severity === "error" ? style.red(d.severity) : style.yellow(d.severity);
    const out = [`${style.cyan(visible(d.file))}:${style.yellow(`${d.span.line}:${d.span.column}`)} - ${sev} ${style.gray(d.code)}: ${headline(d)}`];
    const lm = mapFor(d.file);
    if (lm) {
      out.push("", ...frame(lm, d.span, style, d.severity === "error" ? style.red : style.yellow));
    }
    for (const r of d.related ?? []) {
      out.push("", `  ${style.cyan(visible(d.file))}:${style.yellow(`${r.span.line}:${r.span.column}`)} - ${clip(visible(r.message), MAX_HEADLINE)}`);
      if (lm) out.push(...frame(lm, r.span, style, style.cyan).map((l) => `  ${l}`));
    }
    blocks.push(out.join("\n"));
  }
  if (diags.length > MAX_RENDERED) blocks.push(more(diags.length - MAX_RENDERED));
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

export function renderDiagnostics(diags: readonly Diagnostic[], format: DiagnosticFormat, sources: SourceTexts, options: { color?: boolean } = {}): string {
  switch (format) {
    case "pretty":
      return renderText(diags, sources, options.color ? colorStyle : noStyle) + summary(diags);
    case "plain":
      return renderText(diags, sources, noStyle);
    case "json":
      return JSON.stringify(diags, null, 2) + "\n";
    case "github":
      return (
        diags
          .slice(0, MAX_RENDERED)
          .map(
            (d) =>
              `::${d.severity} file=${ghProp(visible(d.file))},line=${d.span.line},col=${d.span.column},endLine=${d.span.endLine},endColumn=${d.span.endColumn},title=${ghProp(d.code)}::${ghData(headline(d))}\n`,
          )
          .join("") + (diags.length > MAX_RENDERED ? `::notice::${more(diags.length - MAX_RENDERED)}\n` : "")
      );
    default:
      return assertNever(format);
  }
}
