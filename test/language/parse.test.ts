import { describe, expect, it } from "vitest";
import { parse } from "../../src/language/parse.js";
import { tokenize } from "../../src/language/lexer.js";
import type * as A from "../../src/language/ast.js";
import { dedent } from "../helpers.js";

const KITCHEN_SINK = dedent`
  // every construct of the language in one file
  model Kitchen {
    input tokens: int[T]
    input series: float[T = 24, F = 3]
    /* block
       comment */
    tokens
      -> embedding(vocab: 2e4, dim: 128, mask_zero: true)
      -> bilstm(64, merge: concat) as enc
      -> attention_pool(units: 64, score: additive) as attn
      -> dense(2, activation: softmax) as label
    series
      -> lstm(units: 32, input_attention: temporal(units: 16)) as temporal_enc
      -> last
      -> dense(1)
    attn.weights -> dropout(0.5)
  }

  data Kitchen {
    source: csv("reviews \"quoted\".csv", text: "review", label: "sentiment", features: ["a", "b"])
    tokenizer: words(lowercase: false, max_len: 200)
    split: chronological train 0.8, validation 0.1, test 0.1, seed 42
    window: 24, horizon 1
  }

  train Kitchen {
    optimizer: adam(lr: 1.5e-3, beta1: .9)
    metrics: [accuracy, macro_f1]
    early_stop: val_loss, patience 2
  }
`;

function ok(text: string): A.SpecFile {
  const r = parse({ name: "t.attn", text });
  expect(r.diagnostics.items.map((d) => `${d.span.line}:${d.span.column} ${d.message}`)).toEqual([]);
  return r.ast;
}

describe("lexer", () => {
  it("reads numbers with exponents and leading dots, negative numbers, and keeps -> apart", () => {
    const r = tokenize("1e-3 2E+4 .5 -4 3.25 a->b");
    expect(r.errors).toEqual([]);
    expect(r.tokens.map((t) => t.image)).toEqual(["1e-3", "2E+4", ".5", "-4", "3.25", "a", "->", "b"]);
  });

  it("puts comments in their own group, so the parser never sees them", () => {
    const r = tokenize("a // one\n/* two */ b");
    expect(r.tokens.map((t) => t.image)).toEqual(["a", "b"]);
    expect(r.comments.map((t) => t.image)).toEqual(["// one", "/* two */"]);
  });

  it("treats keywords as names where a name is expected (soft keywords)", () => {
    const ast = ok("model train { input data: int[T]\n data -> embedding(10, 2) as model -> last -> dense(2, activation: softmax) }");
    const m = ast.declarations[0] as A.ModelDecl;
    expect(m.name.value).toBe("train");
    expect((m.body[1] as A.Chain).layers[0]!.alias!.value).toBe("model");
  });
});

describe("parser", () => {
  it("parses the kitchen sink into the expected tree", () => {
    const ast = ok(KITCHEN_SINK);
    expect(ast.declarations.map((d) => d.kind)).toEqual(["Model", "Data", "Train"]);
    const m = ast.declarations[0] as A.ModelDecl;
    const [tokens, series, chain1, chain2, chain3] = m.body as [A.InputDecl, A.InputDecl, A.Chain, A.Chain, A.Chain];
    expect(tokens.dims.map((d) => [d.name?.value, d.size?.value])).toEqual([["T", undefined]]);
    expect(series.dims.map((d) => [d.name?.value, d.size?.value])).toEqual([
      ["T", 24],
      ["F", 3],
    ]);
    expect(chain1.layers.map((l) => [l.op.value, l.alias?.value])).toEqual([
      ["embedding", undefined],
      ["bilstm", "enc"],
      ["attention_pool", "attn"],
      ["dense", "label"],
    ]);
    expect(chain1.layers[0]!.args![0]!.value).toMatchObject({ kind: "Number", value: 20000, raw: "2e4" });
    expect(chain2.layers[1]!.args).toBeUndefined(); // `last` without parentheses
    const att = chain2.layers[0]!.args![1]!;
    expect(att.name!.value).toBe("input_attention");
    expect(att.value).toMatchObject({ kind: "Call", callee: { value: "temporal" } });
    expect(chain3.source.port!.value).toBe("weights");
    const data = ast.declarations[1] as A.BlockDecl;
    const source = data.settings[0]!.clauses[0]!.terms[0] as A.Call;
    expect(source.args[0]!.value).toMatchObject({ kind: "String", value: 'reviews "quoted".csv' });
    const split = data.settings[2]!;
    expect(split.clauses.map((c) => c.terms.map((t) => (t.kind === "Word" ? t.value : t.kind === "Number" ? t.value : "?")))).toEqual([
      ["chronological", "train", 0.8],
      ["validation", 0.1],
      ["test", 0.1],
      ["seed", 42],
    ]);
    expect(ast.comments).toHaveLength(2);
  });

  it("gives every node a span that covers exactly its text", () => {
    const ast = ok(KITCHEN_SINK);
    const m = ast.declarations[0] as A.ModelDecl;
    const layer = (m.body[2] as A.Chain).layers[1]!;
    expect(KITCHEN_SINK.slice(layer.loc.start, layer.loc.end)).toBe("bilstm(64, merge: concat) as enc");
    expect(layer.loc).toMatchObject({ line: 9, column: 8 });
    const setting = (ast.declarations[1] as A.BlockDecl).settings[3]!;
    expect(KITCHEN_SINK.slice(setting.loc.start, setting.loc.end)).toBe("window: 24, horizon 1");
  });

  it("recovers: several syntax errors in one pass, and later declarations are still parsed", () => {
    const text = dedent`
      model A {
        input x: int[T]
        x -> embedding(100 8) -> last
      }
      model B {
        input y: float[T, F = 1]
        y -> lstm(4) -> last -> dense(1)
      }
      model C {
        input z: int[T]
        z -> -> dense(3)
      }
    `;
    const r = parse({ name: "t.attn", text });
    expect(r.diagnostics.items.map((d) => `${d.span.line}:${d.span.column}`)).toEqual(["3:22", "11:8"]);
    expect(r.ast.declarations.map((d) => (d as A.ModelDecl).name.value)).toEqual(["A", "B", "C"]);
    const b = r.ast.declarations[1] as A.ModelDecl;
    expect((b.body[1] as A.Chain).layers.map((l) => l.op.value)).toEqual(["lstm", "last", "dense"]);
  });

  it("leaves holes where recovery inserted a token instead of inventing names", () => {
    // The missing ')' is inserted by recovery; the layer keeps only what was written.
    const r = parse({ name: "t.attn", text: "model M { input x: int[T]\n x -> embedding(1, 2 -> last }" });
    expect(r.diagnostics.items).toHaveLength(1);
    const m = r.ast.declarations[0] as A.ModelDecl;
    const names = JSON.stringify(m, (k, v: unknown) => (k === "loc" ? undefined : v));
    expect(names).not.toMatch(/"value":""/);
  });

  it("reports an error at the end of the file for truncated input", () => {
    const text = "model M {\n  input x: int[T]\n  x -> embedding(vocab: 100, dim:";
    const r = parse({ name: "t.attn", text });
    const d = r.diagnostics.items[0]!;
    expect(d.message).toBe("expected a value (number, string, list or name) but found the end of the file");
    expect(d.span.start).toBe(text.length);
  });

  it("parses an empty file and a file of only comments", () => {
    expect(ok("").declarations).toEqual([]);
    expect(ok("// nothing here\n").comments).toHaveLength(1);
  });
});
