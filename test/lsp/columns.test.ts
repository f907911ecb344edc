import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompletionItem } from "vscode-languageserver-protocol";
import { csvHeader, jsonlKeys } from "../../src/lsp/columns.js";
import { LspClient, positionOf } from "./client.js";

let dir: string;
let ws: string;
let client: LspClient;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "attnc-lsp-columns-"));
  ws = join(dir, "ws");
  mkdirSync(join(ws, "data"), { recursive: true });
  writeFileSync(join(ws, "data", "co2.csv"), '\uFEFFDate,"CO2 (ppm)","a,b","say ""hi"""\n1958-03-01,315.7,1,2\n');
  writeFileSync(join(ws, "data", "semi.csv"), "x;y;z\n1;2;3\n");
  writeFileSync(join(ws, "data", "rel.jsonl"), '{"sentence":"a b","relation":"Other"}\n{"other":1}\n');
  writeFileSync(join(dir, "outside.csv"), "secret,columns\n1,2\n");
  symlinkSync(join(dir, "outside.csv"), join(ws, "data", "link.csv"));
  symlinkSync(join(ws, "data", "semi.csv"), join(ws, "data", "inlink.csv"));
  execFileSync("mkfifo", [join(ws, "data", "pipe.csv")]);
  client = new LspClient();
  await client.initialize([pathToFileURL(ws).href]);
});
afterAll(async () => {
  expect(await client.close()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

/** Completion at the `|` of `text`, a spec in the temp workspace. */
async function completeAt(text: string, file = join(ws, "spec.attn")): Promise<string[]> {
  const uri = pathToFileURL(file).href.replace(/spec\.attn$/, `spec${n++}.attn`);
  const at = positionOf(text, "|");
  await client.open(uri, text.replace("|", ""));
  const r = await client.request<CompletionItem[] | null>("textDocument/completion", { textDocument: { uri }, position: at });
  return (r ?? []).map((i) => i.label);
}

const spec = (source: string) => `model M {\n  input x: float[T = 4, F = 1]\n  x -> last\n}\n\ndata M {\n  source: ${source}\n  window: 4, horizon 1\n}\n`;

describe("completion of column names from the data file's header", () => {
  it("reads a CSV header with quoted fields and a BOM, in every column argument", async () => {
    const cols = ["Date", "CO2 (ppm)", "a,b", 'say "hi"'];
    expect(await completeAt(spec('csv("data/co2.csv", time: "|")'))).toEqual(cols);
    expect(await completeAt(spec('csv("data/co2.csv", time: "Date", target: "C|")'))).toEqual(cols);
    expect(await completeAt(spec('csv("data/co2.csv", text: |)'))).toEqual(cols);
    expect(await completeAt(spec('csv("data/co2.csv", label: "|"'))).toEqual(cols);
    expect(await completeAt(spec('csv("data/co2.csv", features: ["|"])'))).toEqual(cols);
    expect(await completeAt(spec('csv("data/co2.csv", features: ["Date", |])'))).toEqual(cols);
    expect(await completeAt(spec('csv("data/co2.csv", target: ["|"])'))).toEqual(cols);
    expect(await completeAt(spec('csv("data/co2.csv", target: ["Date", |])'))).toEqual(cols);
    // Not a column: the path argument and other settings.
    expect(await completeAt(spec('csv("data/|co2.csv", time: "Date")'))).not.toContain("Date");
    expect(await completeAt(spec('csv("data/co2.csv", delimiter: "|")'))).not.toContain("Date");
  });

  it("completes the column of derive's diff(...) and lag(...) from the block's source, and nothing in lag's step count", async () => {
    const cols = ["Date", "CO2 (ppm)", "a,b", 'say "hi"'];
    const derive = (d: string) => spec('csv("data/co2.csv", time: "Date")').replace("  window:", `  derive: [${d}]\n  window:`);
    expect(await completeAt(derive('diff("|")'))).toEqual(cols);
    expect(await completeAt(derive('diff("Date"), lag(|, 12)'))).toEqual(cols);
    expect(await completeAt(derive('lag("Date", |)'))).not.toContain("Date");
    // Another block's source is not this block's: a model block has none.
    expect(await completeAt(`model M {\n  input x: float[T = 4, F = 1]\n  x -> lstm(|)\n}\n`)).not.toContain("Date");
  });

  it("inserts a quoted, escaped name outside a string and an escaped one inside", async () => {
    const uri = pathToFileURL(join(ws, "insert.attn")).href;
    const text = spec('csv("data/co2.csv", time: |)');
    await client.open(uri, text.replace("|", ""));
    const r = await client.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri }, position: positionOf(text, "|") });
    expect(r.find((i) => i.label === 'say "hi"')?.insertText).toBe('"say \\"hi\\""');
  });

  it("uses the delimiter argument and reads the keys of a JSONL file's first object", async () => {
    expect(await completeAt(spec('csv("data/semi.csv", delimiter: ";", target: "|")'))).toEqual(["x", "y", "z"]);
    expect(await completeAt(spec('csv("data/inlink.csv", delimiter: ";", target: "|")'))).toEqual(["x", "y", "z"]);
    expect(await completeAt(spec('jsonl("data/rel.jsonl", text: "|", label: "relation")'))).toEqual(["sentence", "relation"]);
  });

  it("reads a header again when the file changes", async () => {
    const file = join(ws, "data", "changing.csv");
    writeFileSync(file, "a,b\n");
    utimesSync(file, 1_000_000, 1_000_000);
    expect(await completeAt(spec('csv("data/changing.csv", time: "|")'))).toEqual(["a", "b"]);
    writeFileSync(file, "c,d\n");
    utimesSync(file, 2_000_000, 2_000_000);
    expect(await completeAt(spec('csv("data/changing.csv", time: "|")'))).toEqual(["c", "d"]);
  });

  it("reads nothing outside the workspace, nor a FIFO or a device, and answers at once", async () => {
    const started = Date.now();
    for (const path of ["../outside.csv", "data/link.csv", "/dev/zero", "data/pipe.csv", "data/missing.csv", "data", join(dir, "outside.csv")]) {
      expect(await completeAt(spec(`csv("${path}", time: "|")`)), path).toEqual([]);
    }
    expect(Date.now() - started).toBeLessThan(5000);
    expect(client.logs.filter((l) => l.type === 1)).toEqual([]);
    expect(client.stderr).toBe("");
  });

  it("without workspace folders, reads only under the document's own folder", async () => {
    const c = new LspClient();
    await c.initialize();
    const ask = async (file: string, text: string): Promise<string[]> => {
      const uri = pathToFileURL(file).href;
      await c.open(uri, text.replace("|", ""));
      const r = await c.request<CompletionItem[] | null>("textDocument/completion", { textDocument: { uri }, position: positionOf(text, "|") });
      return (r ?? []).map((i) => i.label);
    };
    expect(await ask(join(ws, "a.attn"), spec('csv("data/semi.csv", delimiter: ";", time: "|")'))).toEqual(["x", "y", "z"]);
    expect(await ask(join(ws, "data", "b.attn"), spec('csv("../data/semi.csv", delimiter: ";", time: "|")'))).toEqual(["x", "y", "z"]);
    expect(await ask(join(ws, "data", "c.attn"), spec('csv("../outside.csv", time: "|")'))).toEqual([]);
    expect(await c.close()).toBe(0);
  });

  it("parses CSV headers and JSONL objects defensively", () => {
    expect(csvHeader('a,"b,c",,"d""e"', ",")).toEqual(["a", "b,c", 'd"e']);
    expect(csvHeader("a\tb", "\t")).toEqual(["a", "b"]);
    expect(csvHeader("a,b", '"')).toEqual([]);
    expect(jsonlKeys("[1,2]")).toEqual([]);
    expect(jsonlKeys('{"a":1,"b":')).toEqual([]);
    expect(jsonlKeys("null")).toEqual([]);
  });
});
