import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LspClient, positionOf } from "./client.js";

const errorFiles = readdirSync("specs/errors")
  .filter((f) => f.endsWith(".attn"))
  .map((f) => `specs/errors/${f}`);
const uriOf = (path: string): string => `file:///work/${path}`;

interface Legend {
  tokenTypes: string[];
  tokenModifiers: string[];
}
interface Decoded {
  line: number;
  character: number;
  length: number;
  type: string;
  modifiers: string[];
}

/** Undoes the relative encoding of semantic tokens (5 numbers per token). */
function decode(data: number[], legend: Legend): Decoded[] {
  const out: Decoded[] = [];
  let line = 0;
  let character = 0;
  for (let i = 0; i < data.length; i += 5) {
    const [dl, dc, length, type, mods] = data.slice(i, i + 5) as [number, number, number, number, number];
    line += dl;
    character = dl === 0 ? character + dc : dc;
    out.push({ line, character, length, type: legend.tokenTypes[type]!, modifiers: legend.tokenModifiers.filter((_, b) => (mods & (1 << b)) !== 0) });
  }
  return out;
}

let client: LspClient;
let legend: Legend;
beforeAll(async () => {
  client = new LspClient();
  const r = (await client.initialize()) as { capabilities: { semanticTokensProvider: { legend: Legend; full: boolean } } };
  legend = r.capabilities.semanticTokensProvider.legend;
  expect(r.capabilities.semanticTokensProvider.full).toBe(true);
});
afterAll(async () => {
  expect(await client.close()).toBe(0);
});

async function tokensOf(path: string, text: string): Promise<Decoded[]> {
  const uri = uriOf(path);
  await client.open(uri, text);
  const r = await client.request<{ data: number[] }>("textDocument/semanticTokens/full", { textDocument: { uri } });
  return decode(r.data, legend);
}

describe("semantic tokens", () => {
  it("classifies keywords, layers, names, arguments, ports, literals, comments and arrows of a shipped spec", async () => {
    const text = readFileSync("specs/forecast.attn", "utf8");
    const toks = await tokensOf("specs/forecast.attn", text);
    /** The token at the n-th occurrence of `needle`; it spans the needle's first word unless `length` is given. */
    const at = (needle: string, nth = 0, length = needle.split(" ")[0]!.length) => {
      const p = positionOf(text, needle, 0, nth);
      const t = toks.find((x) => x.line === p.line && x.character === p.character);
      expect(t, needle).toBeDefined();
      expect(t!.length, needle).toBe(length);
      return { type: t!.type, modifiers: t!.modifiers };
    };
    expect(at("model")).toEqual({ type: "keyword", modifiers: [] });
    expect(at("input window", 0)).toEqual({ type: "keyword", modifiers: [] });
    // The first `window` is in the comment; then the input's definition, then its use as the chain's source.
    expect(at("window", 1)).toEqual({ type: "variable", modifiers: ["declaration"] });
    expect(at("window", 2)).toEqual({ type: "variable", modifiers: [] });
    expect(at("lstm")).toEqual({ type: "function", modifiers: [] });
    expect(at("units", 0)).toEqual({ type: "property", modifiers: [] });
    expect(at("64")).toEqual({ type: "number", modifiers: [] });
    expect(at("temporal(", 0, 8)).toEqual({ type: "function", modifiers: [] });
    expect(at("as enc")).toEqual({ type: "keyword", modifiers: [] });
    expect(at("enc", 0)).toEqual({ type: "variable", modifiers: ["declaration"] });
    expect(at("->")).toEqual({ type: "operator", modifiers: [] });
    expect(at('"data/co2.csv"')).toEqual({ type: "string", modifiers: [] });
    expect(at("source")).toEqual({ type: "property", modifiers: [] });
    expect(at("csv")).toEqual({ type: "function", modifiers: [] });
    expect(at("// The temporal", 0, text.indexOf("\n"))).toEqual({ type: "comment", modifiers: [] });
    // `train` is a keyword at the top level and a plain word in the split clause.
    const split = positionOf(text, "train 0.8");
    expect(toks.some((t) => t.line === split.line && t.character === split.character)).toBe(false);
    expect(at("train Forecast")).toEqual({ type: "keyword", modifiers: [] });
  });

  it("marks a port and the node it belongs to", async () => {
    const text = "model M {\n  input x: float[T = 4, F = 2]\n  x -> lstm(units: 4, input_attention: temporal(units: 2)) as enc\n  enc.weights -> last\n}\n";
    const toks = await tokensOf("mem/port.attn", text);
    const p = positionOf(text, "enc.weights");
    expect(toks.filter((t) => t.line === p.line)).toEqual([
      { line: p.line, character: 2, length: 3, type: "variable", modifiers: [] },
      { line: p.line, character: 6, length: 7, type: "property", modifiers: [] },
      { line: p.line, character: 14, length: 2, type: "operator", modifiers: [] },
      { line: p.line, character: 17, length: 4, type: "function", modifiers: [] },
    ]);
    const typeAt = positionOf(text, "float");
    expect(toks.find((t) => t.line === typeAt.line && t.character === typeAt.character)?.type).toBe("type");
  });

  it("splits a block comment into one token per line and uses UTF-16 positions", async () => {
    const text = "/* one\n   twö 😀 */ model M {\n  input x: float[T = 4, F = 1]\n  x -> last\n}\n";
    const toks = await tokensOf("mem/comment.attn", text);
    expect(toks.slice(0, 3)).toEqual([
      { line: 0, character: 0, length: 6, type: "comment", modifiers: [] },
      { line: 1, character: 0, length: 12, type: "comment", modifiers: [] },
      { line: 1, character: 13, length: 5, type: "keyword", modifiers: [] },
    ]);
  });

  it("answers on every error spec without failing", async () => {
    client.logs.length = 0;
    for (const path of errorFiles) {
      const toks = await tokensOf(path, readFileSync(path, "utf8"));
      expect(
        toks.every((t) => t.length > 0 && legend.tokenTypes.includes(t.type)),
        path,
      ).toBe(true);
    }
    expect(client.logs.filter((l) => l.type === 1)).toEqual([]);
    expect(client.stderr).toBe("");
  });
});
