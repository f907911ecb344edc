import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CodeAction, CompletionItem, Diagnostic, FoldingRange, Hover, InlayHint, Location, TextEdit, WorkspaceEdit } from "vscode-languageserver-protocol";
import { Codes } from "../../src/diagnostics/catalogue.js";
import { attnc } from "../in-process.js";
import { LspClient, positionOf } from "./client.js";

const specFiles = readdirSync("specs")
  .filter((f) => f.endsWith(".attn"))
  .map((f) => `specs/${f}`);
// An editor sends text, never bytes: a spec that is not UTF-8 cannot reach the server as such.
const errorFiles = readdirSync("specs/errors")
  .filter((f) => f.endsWith(".attn") && f !== "invalid_utf8.attn")
  .map((f) => `specs/errors/${f}`);
const uriOf = (path: string): string => `file:///work/${path}`;

interface CheckSpan {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}
interface CheckDiagnostic {
  code: string;
  severity: string;
  message: string;
  suggestion?: string;
  span: CheckSpan;
  related?: { message: string; span: CheckSpan }[];
}
const range = (s: CheckSpan) => ({ start: { line: s.line - 1, character: s.column - 1 }, end: { line: s.endLine - 1, character: s.endColumn - 1 } });

/** What `attnc check --format json` reports, in the shape an editor receives. */
/** The codes of attnc check's data-file checks, which the server leaves to attnc check (it does not read data files as you type). */
const DATA_FILE_CODES = new Set(
  (
    [
      "DataColumnMissing",
      "DataNotNumber",
      "DataTimeOrder",
      "DataNotDate",
      "EmptySplit",
      "FewTestWindows",
      "DataFileNotRead",
      "DataFileInvalid",
      "DataNotText",
      "DataTimeGaps",
    ] as const
  ).map((n) => Codes[n].code),
);
async function checkAsLsp(path: string, uri: string) {
  const r = await attnc("check", "--format", "json", path);
  const diags = (JSON.parse(r.out) as CheckDiagnostic[]).filter((d) => !DATA_FILE_CODES.has(d.code));
  return diags.map((d) => ({
    code: d.code,
    severity: d.severity === "error" ? 1 : 2,
    message: d.suggestion !== undefined ? `${d.message}; did you mean '${d.suggestion}'?` : d.message,
    range: range(d.span),
    related: (d.related ?? []).map((x) => ({ message: x.message, location: { uri, range: range(x.span) } })),
  }));
}
const asComparable = (ds: Diagnostic[]) =>
  ds.map((d) => ({ code: d.code, severity: d.severity, message: d.message, range: d.range, related: d.relatedInformation ?? [] }));

let client: LspClient;
beforeAll(async () => {
  client = new LspClient();
  await client.initialize();
});
afterAll(async () => {
  expect(await client.close()).toBe(0);
});

describe("attnc lsp --stdio", () => {
  it("announces its features", async () => {
    const c = new LspClient();
    const r = (await c.initialize()) as { capabilities: Record<string, unknown>; serverInfo: { name: string } };
    expect(r.serverInfo.name).toBe("attnc");
    for (const cap of [
      "hoverProvider",
      "completionProvider",
      "definitionProvider",
      "referencesProvider",
      "renameProvider",
      "documentFormattingProvider",
      "inlayHintProvider",
      "foldingRangeProvider",
      "codeActionProvider",
    ]) {
      expect(r.capabilities[cap], cap).toBeTruthy();
    }
    expect(await c.close()).toBe(0);
  });

  it("refuses to start without --stdio (usage error, exit 2)", async () => {
    const r = await attnc("lsp");
    expect(r.code).toBe(2);
    expect(r.err).toBe("attnc: lsp: give --stdio (the only transport attnc serves)\n");
  });

  it.each([...specFiles, ...errorFiles])("publishes the diagnostics attnc check reports from the spec itself for %s", async (path) => {
    const uri = uriOf(path);
    const got = await client.open(uri, readFileSync(path, "utf8"));
    expect(asComparable(got)).toEqual(await checkAsLsp(path, uri));
    for (const d of got) expect(d.source).toBe("attnc");
    await client.conn.sendNotification("textDocument/didClose", { textDocument: { uri } });
  });

  it("re-checks after each change, a half-typed line included, and reports the newest version only", async () => {
    const uri = uriOf("typing/mixed.attn");
    const text = readFileSync("specs/mixed.attn", "utf8");
    expect(await client.open(uri, text)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 400)); // past the debounce: opening publishes once
    expect(client.publishCount.get(uri)).toBe(1);
    const at = positionOf(text, "    -> dense(1) as forecast");
    // Two quick edits: the debounce folds them into one check of version 3.
    const published: number[] = [];
    const watch = client.diagnostics(uri).then(() => published.push(client.published.get(uri)!.version!));
    await client.conn.sendNotification("textDocument/didChange", {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: { start: at, end: at }, text: "    -> dro\n" }],
    });
    const half = await client.change(uri, 3, [{ range: { start: { line: at.line, character: 10 }, end: { line: at.line, character: 10 } }, text: "pout(" }]);
    await watch;
    expect(published).toEqual([3]);
    expect(client.publishCount.get(uri)).toBe(2);
    expect(half.length).toBeGreaterThan(0);
    expect(half.map((d) => d.code)).toContain("ATN1010");
    const fixed = await client.change(uri, 4, [{ range: { start: { line: at.line, character: 15 }, end: { line: at.line, character: 15 } }, text: "0.1)" }]);
    expect(fixed).toEqual([]);
    const whole = await client.change(uri, 5, [{ text: text.replace("attention_pool", "attention_poll") }]);
    expect(whole.map((d) => [d.code, d.message])).toEqual([["ATN2001", "unknown layer 'attention_poll'; did you mean 'attention_pool'?"]]);
  });

  it("converts positions to UTF-16 (a line with an astral character before the error)", async () => {
    const text = "model M { // 😀😀\n  input x: float[T, F = 3]\n  x -> lstm(8) -> last -> dense(1) /* 😀 */ -> bogus\n}\n";
    const got = await client.open(uriOf("utf16.attn"), text);
    const start = positionOf(text, "bogus");
    expect(got.map((d) => d.range)).toEqual([{ start, end: { line: start.line, character: start.character + 5 } }]);
  });
});

describe("language features", () => {
  const text = readFileSync("specs/mixed.attn", "utf8");
  const uri = uriOf("features/mixed.attn");
  const td = { uri };
  beforeAll(async () => {
    await client.open(uri, text);
  });

  it("hover on a layer: output shape, mask, parameters, signature and equation", async () => {
    const h = await client.request<Hover>("textDocument/hover", { textDocument: td, position: positionOf(text, "lstm(units: 32", 1) });
    const v = (h.contents as { value: string }).value;
    expect(v).toContain("**encoder**: lstm");
    expect(v).toContain("output `[B, T, 32]`");
    expect(v).toContain("mask: no");
    expect(v).toContain("params: 6,223"); // 5,488 in the seed's form, + W~ [5, 128] + p [2 x 48 - 1]
    expect(v).toContain("port `.weights` `[B, T, T]`");
    expect(v).toContain("lstm(units, recurrent_activation: sigmoid, unit_forget_bias: true, input_attention?)");
    expect(v).toContain("c_t = f * c_{t-1} + i * g");
  });

  it("hover on an argument, a call and a setting", async () => {
    const arg = await client.request<Hover>("textDocument/hover", { textDocument: td, position: positionOf(text, "activation: relu", 2) });
    expect((arg.contents as { value: string }).value).toBe("`activation: linear | relu | tanh | sigmoid | softmax = linear`\n\nactivation (argument of dense)");
    const call = await client.request<Hover>("textDocument/hover", { textDocument: td, position: positionOf(text, "temporal(", 2) });
    expect((call.contents as { value: string }).value).toContain("temporal(units, feed: concat, position: offset)");
    const spec = readFileSync("specs/forecast.attn", "utf8");
    const furi = uriOf("features/forecast.attn");
    await client.open(furi, spec);
    const setting = await client.request<Hover>("textDocument/hover", { textDocument: { uri: furi }, position: positionOf(spec, "early_stop:", 3) });
    const s = (setting.contents as { value: string }).value;
    expect(s).toContain("**early_stop** (train setting): stop when the monitored value stops improving");
    expect(s).toContain("`patience: int >= 0 <= 1000000 = 0`");
    const words: [string, number, string][] = [
      ["loss: mse", 7, "`mse`: loss (training loss; one of cross_entropy, mse, mae, huber)"],
      ["patience 5", 2, "`patience: int >= 0 <= 1000000 = 0`\n\nepochs without improvement before stopping (in early_stop)"],
      [
        "chronological",
        4,
        "`chronological`: split order (shuffled with the seed, or in time order; default chronological for a series, shuffled for text; one of shuffled, chronological)",
      ],
      ["rmse, mae]", 1, "`rmse`: metrics (metric; one of accuracy, macro_f1, rmse, mae, mape)"],
    ];
    for (const [needle, delta, want] of words) {
      const h = await client.request<Hover>("textDocument/hover", { textDocument: { uri: furi }, position: positionOf(spec, needle, delta) });
      expect((h.contents as { value: string }).value, needle).toBe(want);
    }
    const relu = await client.request<Hover>("textDocument/hover", { textDocument: td, position: positionOf(text, "relu", 1) });
    expect((relu.contents as { value: string }).value).toBe((arg.contents as { value: string }).value);
    const none = await client.request<Hover | null>("textDocument/hover", { textDocument: td, position: { line: 0, character: 3 } });
    expect(none).toBeNull();
  });

  it("completes layers, arguments with defaults, ports, node names, setting keys and values", async () => {
    const at = positionOf(text, "    -> dense(1) as forecast");
    const cases: { edit: string; expectLabels: string[]; notLabels?: string[] }[] = [
      { edit: "    -> ", expectLabels: ["lstm", "bilstm", "attention_pool", "dense", "dropout", "embedding", "last", "mean_pool", "max_pool"] },
      { edit: "    -> bilstm(", expectLabels: ["units", "merge", "recurrent_activation", "unit_forget_bias"] },
      { edit: "    -> bilstm(8, merge: ", expectLabels: ["concat", "sum", "ave", "mul"] },
      { edit: "    -> lstm(units: 8, input_attention: ", expectLabels: ["temporal", "features"] },
      { edit: "  pool.", expectLabels: ["weights"] },
      { edit: "  enc", expectLabels: ["input", "window", "encoder", "pool", "dense", "forecast"] },
      { edit: "  input y: ", expectLabels: ["int", "float"] },
    ];
    let version = 10;
    for (const c of cases) {
      const edited = text.slice(0, offsetOf(text, at)) + c.edit + "\n" + text.slice(offsetOf(text, at));
      await client.change(uri, ++version, [{ text: edited }]);
      const items = await client.request<CompletionItem[]>("textDocument/completion", {
        textDocument: td,
        position: { line: at.line, character: c.edit.length },
      });
      expect(
        items.map((i) => i.label),
        c.edit,
      ).toEqual(expect.arrayContaining(c.expectLabels));
    }
    const edited = text.slice(0, offsetOf(text, at)) + "    -> bilstm(8, " + "\n" + text.slice(offsetOf(text, at));
    await client.change(uri, ++version, [{ text: edited }]);
    const args = await client.request<CompletionItem[]>("textDocument/completion", { textDocument: td, position: { line: at.line, character: 17 } });
    expect(args.find((i) => i.label === "merge")).toMatchObject({ detail: "merge: concat | sum | ave | mul = concat", insertText: "merge: " });
    await client.change(uri, ++version, [{ text }]);

    const spec = readFileSync("specs/forecast.attn", "utf8");
    const furi = uriOf("complete/forecast.attn");
    await client.open(furi, spec);
    const keyAt = positionOf(spec, "  seed: 7");
    const keys = await client.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri: furi }, position: keyAt });
    expect(keys.map((k) => k.label).sort()).toEqual(["seed", "shuffle"]);
    const lossAt = positionOf(spec, "loss: mse", 6);
    const losses = await client.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri: furi }, position: lossAt });
    expect(losses.map((k) => k.label)).toEqual(["cross_entropy", "mse", "mae", "huber"]);
    const adamAt = positionOf(spec, "lr: 3e-3", 0);
    const adam = await client.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri: furi }, position: adamAt });
    expect(adam.map((k) => k.label)).toEqual(["lr", "beta1", "beta2", "epsilon", "clipnorm"]);
    expect(adam[0]).toMatchObject({ detail: "lr: number > 0 = 0.001" });
    const top = await client.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri: furi }, position: { line: 0, character: 0 } });
    expect(top.map((k) => k.label)).toEqual(["model", "data", "train"]);
  });

  it("completes on half-typed lines of data and train blocks and at the top level", async () => {
    const spec = readFileSync("specs/forecast.attn", "utf8");
    const furi = uriOf("complete/half.attn");
    await client.open(furi, spec);
    const dataLine = positionOf(spec, "  scale: standard");
    const trainLine = positionOf(spec, "  seed: 7");
    const cases: { at: { line: number; character: number }; typed: string; want: string[]; exact?: boolean }[] = [
      { at: dataLine, typed: "  split: ", want: ["shuffled", "chronological", "train", "validation", "test", "seed"], exact: true },
      { at: dataLine, typed: "  tokenizer: ", want: ["words", "chars"], exact: true },
      { at: dataLine, typed: '  source: csv("x.csv", ', want: ["path", "text", "label", "time", "features", "target", "delimiter"], exact: true },
      { at: dataLine, typed: '  source: jsonl("x.jsonl", text: "t", ', want: ["path", "label", "time", "features", "target"], exact: true },
      { at: dataLine, typed: "  window: 24, horizon 1, predict ", want: ["value", "delta"] },
      { at: dataLine, typed: "  to", want: ["tokenizer"] },
      { at: trainLine, typed: "  metrics: [rmse, ", want: ["accuracy", "macro_f1", "rmse", "mae", "mape"], exact: true },
      { at: trainLine, typed: "  optimizer: ", want: ["adam", "sgd", "rmsprop"], exact: true },
      { at: trainLine, typed: "  shuffle: ", want: ["true", "false"], exact: true },
      { at: { line: 0, character: 0 }, typed: "data ", want: ["Forecast"], exact: true },
      { at: positionOf(spec, "    -> last"), typed: "    -> lst", want: ["lstm", "bilstm"] },
    ];
    let version = 1;
    for (const c of cases) {
      const at = offsetOf(spec, c.at);
      await client.change(furi, ++version, [{ text: spec.slice(0, at) + c.typed + "\n" + spec.slice(at) }]);
      const items = await client.request<CompletionItem[]>("textDocument/completion", {
        textDocument: { uri: furi },
        position: { line: c.at.line, character: c.typed.length },
      });
      const labels = items.map((i) => i.label);
      if (c.exact) expect(labels, c.typed).toEqual(c.want);
      else expect(labels, c.typed).toEqual(expect.arrayContaining(c.want));
    }
  });

  it("goes to definitions, finds references and ports, and renames", async () => {
    const spec = readFileSync("specs/errors/unknown_port.attn", "utf8").replace("attn.weight ", "attn.weights ");
    const puri = uriOf("nav/ports.attn");
    // T of attn.weights is unbound: a shape error, not a naming one; and the port's dense is a second output head.
    expect((await client.open(puri, spec)).map((d) => d.code)).toEqual(["ATN2018", "ATN3003"]);
    const tdp = { uri: puri };
    const defAt = positionOf(spec, "attn.weights", 1);
    const defs = await client.request<Location[]>("textDocument/definition", { textDocument: tdp, position: defAt });
    expect(defs).toEqual([{ uri: puri, range: { start: positionOf(spec, "attn ->"), end: positionOf(spec, "attn ->", 4) } }]);
    const refs = await client.request<Location[]>("textDocument/references", {
      textDocument: tdp,
      position: positionOf(spec, "attn ->"),
      context: { includeDeclaration: true },
    });
    expect(refs.map((r) => r.range.start)).toEqual([positionOf(spec, "attn ->"), positionOf(spec, "attn.weights")]);
    const portRefs = await client.request<Location[]>("textDocument/references", {
      textDocument: tdp,
      position: positionOf(spec, "weights ->", 2),
      context: { includeDeclaration: false },
    });
    expect(portRefs.map((r) => r.range)).toEqual([{ start: positionOf(spec, "weights ->"), end: positionOf(spec, "weights ->", 7) }]);
    const inputRefs = await client.request<Location[]>("textDocument/references", {
      textDocument: tdp,
      position: positionOf(spec, "x:"),
      context: { includeDeclaration: false },
    });
    expect(inputRefs.map((r) => r.range.start)).toEqual([positionOf(spec, "x ->")]);

    const edit = await client.request<WorkspaceEdit>("textDocument/rename", {
      textDocument: tdp,
      position: positionOf(spec, "attn.weights", 2),
      newName: "pool",
    });
    const edits = edit.changes![puri]!;
    expect(edits.map((e) => [e.range.start, e.newText])).toEqual([
      [positionOf(spec, "attn ->"), "pool"],
      [positionOf(spec, "attn.weights"), "pool"],
    ]);
    await expect(client.request("textDocument/rename", { textDocument: tdp, position: positionOf(spec, "bilstm"), newName: "b" })).rejects.toThrow(
      "'bilstm' is an automatic name: give the layer a name with 'as' first",
    );
    await expect(client.request("textDocument/rename", { textDocument: tdp, position: positionOf(spec, "attn ->"), newName: "x" })).rejects.toThrow(
      "'x' is already defined in model M",
    );
    await expect(client.request("textDocument/rename", { textDocument: tdp, position: positionOf(spec, "attn ->"), newName: "2x" })).rejects.toThrow(
      "'2x' is not a valid name",
    );
    const model = await client.request<WorkspaceEdit>("textDocument/rename", { textDocument: tdp, position: positionOf(spec, "M {"), newName: "N" });
    expect(model.changes![puri]!.map((e) => e.newText)).toEqual(["N"]);
  });

  it("formats as attnc fmt does, and not while the text has syntax errors", async () => {
    const messy = "model M{input x:float[T,F=3]\n x->lstm( 8 )->last  ->dense(1)}\n";
    const furi = uriOf("fmt/messy.attn");
    await client.open(furi, messy);
    const edits = await client.request<TextEdit[]>("textDocument/formatting", { textDocument: { uri: furi }, options: { tabSize: 2, insertSpaces: true } });
    expect(edits).toHaveLength(1);
    expect(edits[0]!.newText).toBe("model M {\n  input x: float[T, F = 3]\n  x\n    -> lstm(8)\n    -> last\n    -> dense(1)\n}\n");
    expect(edits[0]!.range).toEqual({ start: { line: 0, character: 0 }, end: { line: 2, character: 0 } });
    const broken = uriOf("fmt/broken.attn");
    await client.open(broken, "model M {\n  input x: float[T\n");
    expect(await client.request<TextEdit[]>("textDocument/formatting", { textDocument: { uri: broken }, options: { tabSize: 2, insertSpaces: true } })).toEqual(
      [],
    );
    const clean = await client.request<TextEdit[]>("textDocument/formatting", { textDocument: td, options: { tabSize: 2, insertSpaces: true } });
    expect(clean).toEqual([]); // the shipped specs are in the canonical layout (npm run fmt:check)
  });

  it("shows the shape after each layer, folds blocks, and fixes 'did you mean' diagnostics", async () => {
    const hints = await client.request<InlayHint[]>("textDocument/inlayHint", {
      textDocument: td,
      range: { start: { line: 0, character: 0 }, end: { line: 20, character: 0 } },
    });
    expect(hints.map((h) => h.label)).toEqual([": [B, T, 32]", ": [B, 32]", ": [B, 16]", ": [B, 1]"]);
    expect(hints[0]!.position).toEqual(positionOf(text, " as encoder", 11));
    const folds = await client.request<FoldingRange[]>("textDocument/foldingRange", { textDocument: td });
    expect(folds).toEqual(
      expect.arrayContaining([
        { startLine: 3, endLine: 11 },
        { startLine: 0, endLine: 1, kind: "comment" },
      ]),
    );

    const bad = readFileSync("specs/errors/unknown_port.attn", "utf8");
    const buri = uriOf("fix/unknown_port.attn");
    const diags = await client.open(buri, bad);
    const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri: buri },
      range: diags[0]!.range,
      context: { diagnostics: diags },
    });
    expect(actions).toHaveLength(1);
    expect(actions[0]!.title).toBe("Change 'weight' to 'weights'");
    expect(actions[0]!.edit!.changes![buri]).toEqual([{ range: { start: positionOf(bad, "weight"), end: positionOf(bad, "weight", 6) }, newText: "weights" }]);
  });
});

describe("quick fixes", () => {
  it("offers one fix per 'did you mean' diagnostic of the error specs, and applying it removes that diagnostic", async () => {
    let fixes = 0;
    let version = 1;
    for (const path of errorFiles) {
      const text = readFileSync(path, "utf8");
      const uri = uriOf(`fix/${path}`);
      const diags = await client.open(uri, text, ++version);
      for (const d of diags) {
        const actions = await client.request<CodeAction[]>("textDocument/codeAction", { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
        const suggestion = (d.data as { suggestion?: string } | undefined)?.suggestion;
        if (suggestion === undefined) {
          expect(actions, `${path}: ${d.message}`).toEqual([]);
          continue;
        }
        expect(actions, `${path}: ${d.message}`).toHaveLength(1);
        const [edit] = actions[0]!.edit!.changes![uri]!;
        expect(edit!.newText).toBe(suggestion);
        const lines = text.split("\n");
        const line = lines[edit!.range.start.line]!;
        lines[edit!.range.start.line] = line.slice(0, edit!.range.start.character) + edit!.newText + line.slice(edit!.range.end.character);
        const after = await client.change(uri, ++version, [{ text: lines.join("\n") }]);
        expect(
          after.some((x) => x.code === d.code && x.range.start.line === d.range.start.line && x.range.start.character === d.range.start.character),
          `${path}: ${d.message}`,
        ).toBe(false);
        await client.change(uri, ++version, [{ text }]);
        fixes++;
      }
      await client.conn.sendNotification("textDocument/didClose", { textDocument: { uri } });
    }
    expect(fixes).toBeGreaterThanOrEqual(5);
  });
});

describe("robustness", () => {
  it("answers every request at every token of every error spec without failing", async () => {
    const methods = ["hover", "completion", "definition", "references", "prepareRename", "rename", "inlayHint", "foldingRange", "formatting", "codeAction"];
    let answered = 0;
    for (const path of errorFiles) {
      const text = readFileSync(path, "utf8");
      const uri = uriOf(`robust/${path}`);
      const diags = await client.open(uri, text);
      const lines = text.split("\n");
      const positions: { line: number; character: number }[] = [];
      lines.forEach((l, line) => {
        for (let character = 0; character <= l.length; character += 3) positions.push({ line, character });
      });
      for (const position of positions.slice(0, 120)) {
        for (const m of methods) {
          const params: Record<string, unknown> = { textDocument: { uri }, position };
          if (m === "references") params["context"] = { includeDeclaration: true };
          if (m === "rename") params["newName"] = "renamed";
          if (m === "inlayHint" || m === "codeAction") params["range"] = { start: { line: 0, character: 0 }, end: position };
          if (m === "codeAction") params["context"] = { diagnostics: diags };
          if (m === "formatting") params["options"] = { tabSize: 2, insertSpaces: true };
          try {
            await client.request(`textDocument/${m}`, params);
          } catch (e) {
            // The only refusal is a rename the server explains (automatic names, ports).
            expect(m === "rename" || m === "prepareRename", `${m} at ${path}:${position.line}:${position.character}: ${String(e)}`).toBe(true);
            expect(String(e)).toMatch(/automatic name|port's name is fixed|already defined/);
          }
          answered++;
        }
      }
      await client.conn.sendNotification("textDocument/didClose", { textDocument: { uri } });
    }
    expect(answered).toBeGreaterThan(errorFiles.length * 10);
    expect(client.exitCode).toBeUndefined();
    expect(client.stderr).toBe("");
    expect(client.logs).toEqual([]);
  });
});

function offsetOf(text: string, p: { line: number; character: number }): number {
  const lines = text.split("\n");
  return lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
}
