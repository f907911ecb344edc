import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { emitProgram, RUNTIME_MODULE } from "../codegen/emit.js";
import { formatTypeScript } from "../codegen/format.js";
import { emitPytorchProgram, PY_RUNTIME_MODULE, topologyFile } from "../codegen/pytorch.js";
import { compile, serializeIr, type CompileResult } from "../compile.js";
import { DiagnosticBag, sortDiagnostics, type Diagnostic } from "../diagnostics/diagnostic.js";
import { renderDiagnostics, type DiagnosticFormat } from "../diagnostics/render.js";
import { formatShape } from "../ir/analyze.js";
import type { IrModel } from "../ir/types.js";
import { parse } from "../language/parse.js";
import { printSpec } from "../language/printer.js";
import { dataFileProblem, DataError, readRows, type SourceConfig } from "../runtime/csv.js";
import { realPathOf } from "../runtime/paths.js";
import { DataFileCheck } from "./data-check.js";
import { CliError, displayPath, packageRoot, readIfExists, readText, writeAtomic, type CliIo } from "./io.js";
import { checkDirTarget, checkReplaceable, ioError, within, type AttncFileKind } from "./paths.js";

const posix = (p: string): string => p.split(sep).join("/");

let runtimeText: string | undefined;
/** The runtime module generated programs import, bundled from src/runtime when attnc itself is built. */
export function runtimeModule(): string {
  runtimeText ??= readFileSync(join(packageRoot(), "dist", RUNTIME_MODULE), "utf8");
  return runtimeText;
}

let pyRuntimeText: string | undefined;
/** The Python runtime module PyTorch programs import, copied from src/codegen/pytorch when attnc itself is built. */
export function pytorchRuntimeModule(): string {
  pyRuntimeText ??= readFileSync(join(packageRoot(), "dist", PY_RUNTIME_MODULE), "utf8");
  return pyRuntimeText;
}

/** What `attnc build --target` writes for a model with data and train blocks. */
export type BuildTarget = "typescript" | "pytorch";

interface Loaded {
  readonly path: string;
  readonly name: string;
  readonly text: string;
}

function load(io: CliIo, paths: readonly string[]): Loaded[] {
  return paths.map((p) => ({ path: p, name: displayPath(io, p), text: readText(io, p) }));
}

function useColor(io: CliIo): boolean {
  if (io.env["NO_COLOR"] !== undefined && io.env["NO_COLOR"] !== "") return false;
  if (io.env["FORCE_COLOR"] !== undefined && io.env["FORCE_COLOR"] !== "0") return true;
  return io.stderr.isTTY === true;
}

/** Prints diagnostics in the chosen format; json goes to stdout, the others to stderr. */
function report(io: CliIo, diags: readonly Diagnostic[], sources: readonly Loaded[], format: string | undefined): void {
  const fmt = (format ?? (io.stderr.isTTY ? "pretty" : "plain")) as DiagnosticFormat;
  if (diags.length === 0 && fmt !== "json") return;
  const text = renderDiagnostics(diags, fmt, new Map(sources.map((s) => [s.name, s.text])), { color: useColor(io) });
  (fmt === "json" ? io.stdout : io.stderr).write(text);
}

async function compileAll(io: CliIo, paths: readonly string[]): Promise<{ sources: Loaded[]; results: CompileResult[]; diagnostics: Diagnostic[] }> {
  const sources = load(io, paths);
  const results: CompileResult[] = [];
  for (const s of sources) results.push(await compile({ name: s.name, text: s.text }));
  return { sources, results, diagnostics: results.flatMap((r) => r.diagnostics) };
}

export async function checkCommand(io: CliIo, paths: string[], opts: { format?: string; allowOutside?: boolean }): Promise<number> {
  const { sources, results, diagnostics } = await compileAll(io, paths);
  // A spec that compiles is checked against its data files too, where they exist.
  const dataDiags: Diagnostic[] = [];
  for (const [i, r] of results.entries()) if (r.ok) dataDiags.push(...(await checkDataFiles(io, sources[i]!, r, opts.allowOutside === true)));
  const all = sortDiagnostics([...diagnostics, ...dataDiags]);
  report(io, all, sources, opts.format);
  return results.every((r) => r.ok) && !all.some((d) => d.severity === "error") ? 0 : 1;
}

/**
 * Each model's data file against its data block (src/cli/data-check.ts), reported at the data setting each
 * problem concerns. A file that does not exist yet, or lies outside the working directory, is not read: a warning.
 */
export async function checkDataFiles(
  io: CliIo,
  src: { readonly path: string; readonly name: string },
  r: CompileResult,
  allowOutside = false,
): Promise<Diagnostic[]> {
  const bag = new DiagnosticBag(src.name);
  for (const m of r.models) {
    const source = m.data?.["source"] as { path?: unknown; kind?: unknown; delimiter?: unknown } | undefined;
    const spans = r.spans.get(m.model);
    if (!m.data || !source || typeof source.path !== "string" || !spans) continue;
    const at = (path: string) => spans.nearest(path)!.span;
    const path = resolve(dirname(resolve(io.cwd, src.path)), source.path);
    const shown = displayPath(io, path);
    let abs: string;
    try {
      abs = within(io, path, "the data file", allowOutside);
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      bag.report("DataFileNotRead", at("/data/source/path"), `${e.message}; check did not read it`);
      continue;
    }
    if (!existsSync(abs)) {
      bag.report("DataFileNotRead", at("/data/source/path"), `${shown} does not exist (yet): its columns and windows are not checked`);
      continue;
    }
    const problem = dataFileProblem(abs);
    if (problem !== undefined) {
      bag.report("DataFileInvalid", at("/data/source/path"), `${shown}: ${problem}`);
      continue;
    }
    const check = new DataFileCheck(m.data, m.train, shown);
    try {
      let checking = true;
      for await (const row of readRows(source as SourceConfig, abs, shown)) {
        if (checking) checking = check.row(row);
        else check.count();
      }
    } catch (e) {
      if (!(e instanceof DataError)) throw ioError(io, e, path);
      bag.report("DataFileInvalid", at("/data/source/path"), e.message);
      continue;
    }
    for (const f of check.finish()) bag.report(f.code, at(f.path), f.message, f.suggestion !== undefined ? { suggestion: f.suggestion } : {});
  }
  return bag.items;
}

/** The files a build writes, by path, computed before anything is written. */
export interface BuildOutput {
  readonly path: string;
  readonly contents: string;
}

export async function buildCommand(
  io: CliIo,
  paths: string[],
  opts: { out?: string; check?: boolean; format?: string; allowOutside?: boolean; target?: BuildTarget },
): Promise<number> {
  const target = opts.target ?? "typescript";
  const { sources, results, diagnostics } = await compileAll(io, paths);
  report(io, diagnostics, sources, opts.format);
  if (!results.every((r) => r.ok)) return 1;
  // Where each output goes is settled, and checked, before any program is generated (formatting takes a
  // while) and before anything is written: inside the working directory, not a spec being built, and (unless
  // --check) a directory where the output directory is, and either new or attnc's own earlier output.
  const planned: { path: string; kind: AttncFileKind; make: () => Promise<string> }[] = [];
  const owner = new Map<string, string>();
  const runtimeDirs = new Set<string>();
  for (const [i, r] of results.entries()) {
    const src = sources[i]!;
    const dir = opts.out ?? dirname(src.path);
    const absDir = resolve(io.cwd, dir);
    const specAbs = resolve(io.cwd, src.path);
    const hash = createHash("sha256").update(src.text).digest("hex");
    for (const m of r.models) {
      const claim = (path: string) => {
        const key = resolve(io.cwd, path);
        const prev = owner.get(key);
        if (prev !== undefined) throw new CliError(`${src.name} and ${prev} both define model ${m.model}; both would write ${displayPath(io, path)}`);
        owner.set(key, src.name);
        return path;
      };
      planned.push({ path: claim(join(dir, `${m.model}.ir.json`)), kind: "ir", make: async () => serializeIr(m) });
      if (m.data && m.train) {
        const dataAbs = resolve(dirname(specAbs), String((m.data["source"] as Record<string, unknown>)["path"]));
        const emitOptions = { specPath: posix(relative(absDir, specAbs)), specHash: hash, dataPath: posix(relative(absDir, dataAbs)) };
        if (target === "pytorch") {
          if (`${m.model}.py` === PY_RUNTIME_MODULE)
            throw new CliError(
              `${src.name}: model ${m.model}: its PyTorch program would be ${PY_RUNTIME_MODULE}, the name of the runtime module beside it; rename the model`,
              1,
            );
          planned.push({ path: claim(join(dir, `${m.model}.py`)), kind: "program", make: async () => emitPytorchProgram(m, emitOptions) });
          planned.push({ path: claim(join(dir, `${m.model}.model.json`)), kind: "topology", make: async () => topologyFile(m) });
        } else {
          planned.push({ path: claim(join(dir, `${m.model}.ts`)), kind: "program", make: async () => formatTypeScript(emitProgram(m, emitOptions)) });
        }
        if (!runtimeDirs.has(absDir)) {
          runtimeDirs.add(absDir);
          if (target === "pytorch") planned.push({ path: claim(join(dir, PY_RUNTIME_MODULE)), kind: "runtime", make: async () => pytorchRuntimeModule() });
          else planned.push({ path: claim(join(dir, RUNTIME_MODULE)), kind: "runtime", make: async () => runtimeModule() });
        }
      }
    }
  }
  const specs = new Set(sources.map((s) => realPathOf(resolve(io.cwd, s.path))));
  const dirs = [...new Set(planned.map((o) => dirname(o.path)))];
  for (const d of dirs) within(io, d, "the output directory", opts.allowOutside);
  for (const o of planned) {
    const abs = within(io, o.path, "the output file", opts.allowOutside);
    if (!opts.check && specs.has(realPathOf(abs))) throw new CliError(`refusing to overwrite ${displayPath(io, o.path)}: it is a spec being built`);
  }
  if (!opts.check) {
    for (const d of dirs) checkDirTarget(io, d);
    for (const o of planned) checkReplaceable(io, o.path, o.kind);
  }
  const outputs: BuildOutput[] = [];
  for (const o of planned) outputs.push({ path: o.path, contents: await o.make() });
  if (opts.check) {
    const stale = outputs.filter((o) => readIfExists(io, o.path) !== o.contents);
    for (const o of stale) io.stderr.write(`${displayPath(io, o.path)} is ${readIfExists(io, o.path) === undefined ? "missing" : "out of date"}\n`);
    if (stale.length > 0) {
      io.stderr.write(
        `${stale.length} generated file${stale.length === 1 ? " is" : "s are"} stale; run attnc build ${paths.map((p) => displayPath(io, p)).join(" ")}${opts.out ? ` --out ${displayPath(io, opts.out)}` : ""}\n`,
      );
      return 1;
    }
    return 0;
  }
  for (const o of outputs) writeAtomic(io, o.path, o.contents);
  for (const o of outputs) io.stdout.write(`wrote ${displayPath(io, o.path)}\n`);
  return 0;
}

const groupDigits = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** A Keras-like summary of one model. */
export function summaryTable(m: IrModel): string {
  const rows: string[][] = [["Node", "Op", "Input", "Output shape", "Mask", "Params"]];
  for (const i of m.inputs) rows.push([i.name, `input ${i.dtype}`, "", formatShape(i.shape), "", ""]);
  for (const n of m.nodes) {
    rows.push([n.name, n.op, n.inputs.join(", "), n.shape ? formatShape(n.shape) : "?", n.mask ? "yes" : "", groupDigits(n.params ?? 0)]);
    for (const [port, shape] of Object.entries(n.ports ?? {})) rows.push([`${n.name}.${port}`, "", "", formatShape(shape), "", ""]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const fmtRow = (r: string[]): string =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  const rule = "-".repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  const dims = Object.entries(m.dims).map(([k, v]) => `${k} = ${v ?? "?"}`);
  const total = m.params ?? 0;
  return [
    `Model ${m.model}${dims.length > 0 ? `  (${dims.join(", ")})` : ""}`,
    rule,
    fmtRow(rows[0]!),
    rule,
    ...rows.slice(1).map(fmtRow),
    rule,
    `Total params: ${groupDigits(total)} (${bytes(total * 4)} as float32)`,
    `Outputs: ${m.outputs.join(", ")}`,
    "",
  ].join("\n");
}

export async function inspectCommand(io: CliIo, path: string, opts: { format: "table" | "json" }): Promise<number> {
  const { sources, results, diagnostics } = await compileAll(io, [path]);
  report(io, diagnostics, sources, undefined);
  const r = results[0]!;
  if (!r.ok) return 1;
  if (opts.format === "json") {
    const summary = r.models.map((m) => ({
      model: m.model,
      dims: m.dims,
      inputs: m.inputs,
      nodes: m.nodes.map((n) => ({
        name: n.name,
        op: n.op,
        inputs: n.inputs,
        shape: n.shape,
        mask: n.mask,
        params: n.params,
        ...(n.ports ? { ports: n.ports } : {}),
      })),
      outputs: m.outputs,
      params: m.params,
    }));
    io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else io.stdout.write(r.models.map(summaryTable).join("\n"));
  return 0;
}

export async function fmtCommand(io: CliIo, paths: string[], opts: { check?: boolean; format?: string; allowOutside?: boolean }): Promise<number> {
  const sources = load(io, paths);
  const diags: Diagnostic[] = [];
  const changed: { src: Loaded; text: string }[] = [];
  for (const s of sources) {
    const parsed = parse({ name: s.name, text: s.text });
    if (parsed.diagnostics.items.length > 0) {
      diags.push(...parsed.diagnostics.items);
      continue;
    }
    const text = printSpec(parsed.ast);
    if (text !== s.text) changed.push({ src: s, text });
  }
  report(io, diags, sources, opts.format);
  if (diags.length > 0) return 1;
  if (opts.check) {
    for (const c of changed) io.stderr.write(`${c.src.name} is not formatted\n`);
    return changed.length > 0 ? 1 : 0;
  }
  // A spec is read where the user points, but rewritten only inside the working directory.
  const targets = changed.map((c) => realPathOf(within(io, c.src.path, "the spec", opts.allowOutside)));
  for (const [i, c] of changed.entries()) {
    // Through a symlink to the file it names, so that a linked spec stays a link.
    writeAtomic(io, targets[i]!, c.text);
    io.stdout.write(`formatted ${c.src.name}\n`);
  }
  return 0;
}
