/**
 * The compiler's side of "nothing that check accepts fails later": each probe that once crashed, was accepted
 * and failed in training, or flooded the terminal, with the diagnostic it now gives (code, message, location).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile, serializeIr } from "../../src/compile.js";
import { LineMap } from "../../src/diagnostics/span.js";
import { renderDiagnostics } from "../../src/diagnostics/render.js";
import { tokenize } from "../../src/language/lexer.js";
import { decodeSource } from "../../src/language/source.js";
import { attnc } from "../in-process.js";

const TEXT_MODEL = (layers: string, input = "input x: int[T]") => `model M {
  ${input}
  x -> ${layers}
}
`;
const TEXT_DATA = (source = 'csv("d.csv", text: "t", label: "l")', tokenizer = "words(max_len: 20)") => `
data M {
  source: ${source}
  tokenizer: ${tokenizer}
}
`;
const CLASSIFIER = "embedding(100, 8) -> lstm(4) -> last -> dense(2, activation: softmax)";

interface Probe {
  readonly name: string;
  readonly text: string;
  readonly code: string;
  readonly message: string | RegExp;
  /** The text the diagnostic starts at (its first occurrence in the spec). */
  readonly at: string;
}

/** Line and column of the first occurrence of `needle`, counting LF, CRLF and CR as line ends. */
function locate(text: string, needle: string): string {
  const offset = text.indexOf(needle);
  if (offset < 0) throw new Error(`${JSON.stringify(needle)} is not in the probe`);
  const before = text.slice(0, offset).split(/\r\n|\r|\n/);
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const PROBES: Probe[] = [
  // ---- names that are JavaScript object members
  {
    name: "an argument named __proto__",
    text: TEXT_MODEL("embedding(100, 8) -> lstm(4, __proto__: 7) -> last -> dense(2, activation: softmax)"),
    code: "ATN2002",
    message: "lstm has no argument '__proto__'",
    at: "__proto__: 7",
  },
  {
    name: "an argument named constructor",
    text: TEXT_MODEL("embedding(100, 8, constructor: 1) -> last -> dense(2, activation: softmax)"),
    code: "ATN2002",
    message: "embedding has no argument 'constructor'",
    at: "constructor: 1",
  },
  {
    name: "a call argument named toString",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("d.csv", text: "t", label: "l", toString: "x")'),
    code: "ATN2002",
    message: "csv(...) has no argument 'toString'",
    at: "toString:",
  },
  {
    name: "a setting named __proto__",
    text: TEXT_MODEL(CLASSIFIER) + `\ndata M {\n  source: csv("d.csv", text: "t", label: "l")\n  tokenizer: words(max_len: 20)\n  __proto__: csv("e.csv")\n}\n`,
    code: "ATN2002",
    message: "unknown setting '__proto__' in the data block",
    at: "__proto__:",
  },
  {
    name: "a setting named hasOwnProperty",
    text: TEXT_MODEL(CLASSIFIER) + `\ntrain M {\n  loss: cross_entropy\n  hasOwnProperty: 1\n}\n`,
    code: "ATN2002",
    message: "unknown setting 'hasOwnProperty' in the train block",
    at: "hasOwnProperty:",
  },
  {
    name: "an input type named valueOf",
    text: TEXT_MODEL(CLASSIFIER, "input x: valueOf[T]"),
    code: "ATN2014",
    message: /^unknown input type 'valueOf'/,
    at: "valueOf",
  },
  {
    name: "a call named constructor",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA("constructor()"),
    code: "ATN2009",
    message: /^unknown data source 'constructor'/,
    at: "constructor()",
  },
  // ---- what check accepted and training could not run
  {
    name: "a second input",
    text: TEXT_MODEL(CLASSIFIER, "input x: int[T]\n  input y: int[T]"),
    code: "ATN2018",
    message: "model M has a second input 'y'; attnc trains models with one input and one output head",
    at: "input y",
  },
  {
    name: "two output heads",
    text: TEXT_MODEL(
      "embedding(100, 8) -> lstm(4) as enc -> last -> dense(2, activation: softmax)\n  enc -> mean_pool -> dense(2, activation: softmax) as other",
    ),
    code: "ATN2018",
    message: /^dense is a second output head of model M/,
    at: "dense(2, activation: softmax)\n",
  },
  {
    name: "a layer name with a leading underscore",
    text: TEXT_MODEL("embedding(100, 8) -> lstm(4) as _enc -> last -> dense(2, activation: softmax)"),
    code: "ATN2017",
    message: /^layer name '_enc' must start with a letter/,
    at: "_enc",
  },
  {
    name: "an input name with a leading underscore",
    text: "model M {\n  input _x: int[T]\n  _x -> embedding(100, 8) -> last -> dense(2, activation: softmax)\n}\n",
    code: "ATN2017",
    message: /^input name '_x' must start with a letter/,
    at: "_x:",
  },
  {
    name: "max_len of ten million",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA(undefined, "words(max_len: 10000000)"),
    code: "ATN2005",
    message: "max_len of words(...) must be <= 4096, not 10000000",
    at: "10000000",
  },
  {
    name: "a vocabulary of two million",
    text: TEXT_MODEL("embedding(2000000, 8) -> last -> dense(2, activation: softmax)"),
    code: "ATN2005",
    message: "vocab of embedding must be <= 1000000, not 2000000",
    at: "2000000",
  },
  {
    name: "units beyond the bound",
    text: TEXT_MODEL("embedding(100, 8) -> bilstm(5000) -> last -> dense(2, activation: softmax)"),
    code: "ATN2005",
    message: "units of bilstm must be <= 4096, not 5000",
    at: "5000",
  },
  {
    name: "a window beyond the bound",
    text: 'model M {\n  input x: float[T, F = 1]\n  x -> lstm(4) -> last -> dense(1)\n}\n\ndata M {\n  source: csv("d.csv", features: ["a"], target: "a")\n  window: 5000\n}\n',
    code: "ATN2005",
    message: "size of window must be <= 4096, not 5000",
    at: "5000",
  },
  {
    name: "T = 2^53 + 1",
    text: TEXT_MODEL("lstm(4) -> last -> dense(1)", "input x: float[T = 9007199254740993, F = 1]"),
    code: "ATN2005",
    message: "a dimension size must be a whole number from 1 to 4096, not 9007199254740993",
    at: "9007199254740993",
  },
  {
    name: "an integer beyond 2^53 - 1",
    text: TEXT_MODEL(CLASSIFIER) + "\ntrain M {\n  loss: cross_entropy\n  seed: 9007199254740993\n}\n",
    code: "ATN2005",
    message: "9007199254740993 is larger than 2^53 - 1, beyond which whole numbers are not exact; no setting takes a value this large",
    at: "9007199254740993",
  },
  {
    name: "an empty csv delimiter",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("d.csv", text: "t", label: "l", delimiter: "")'),
    code: "ATN2003",
    message: 'delimiter must be one character other than a quote or a line break, not ""',
    at: '""',
  },
  {
    name: "a two-character csv delimiter",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("d.csv", text: "t", label: "l", delimiter: ";;")'),
    code: "ATN2003",
    message: 'delimiter must be one character other than a quote or a line break, not ";;"',
    at: '";;"',
  },
  {
    name: "too many parameters in all",
    text: TEXT_MODEL("embedding(1000000, 40) -> bilstm(2048) -> last -> dense(2, activation: softmax)"),
    code: "ATN5001",
    message: /^model M would have 7\.\d\de\+7 parameters in all \(283 MiB of float32\); the limit is 6\.71e\+7 \(256 MiB\)$/,
    at: "M {",
  },
  {
    name: "activations beyond memory",
    text: TEXT_MODEL("lstm(8, input_attention: temporal(32)) -> last -> dense(1)", "input x: float[T = 4096, F = 2]"),
    code: "ATN5002",
    message: /^training model M would need about 132\.1 GiB of activations per batch of 32/,
    at: "lstm(8",
  },
  // ---- escapes
  {
    name: "\\u{-1}",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("\\u{-1}.csv", text: "t", label: "l")'),
    code: "ATN1003",
    message: "invalid escape '\\u{-1}': write \\u{...} with 1 to 6 hex digits",
    at: "\\u{-1}",
  },
  {
    name: "\\u{41 junk}",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("\\u{41 junk}", text: "t", label: "l")'),
    code: "ATN1003",
    message: "invalid escape '\\u{41 junk}': write \\u{...} with 1 to 6 hex digits",
    at: "\\u{41",
  },
  {
    name: "a lone surrogate \\u{D800}",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("\\u{D800}", text: "t", label: "l")'),
    code: "ATN1003",
    message: "invalid escape '\\u{D800}': a surrogate is not a character",
    at: "\\u{D800}",
  },
  {
    name: "a code point beyond 10FFFF",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("\\u{110000}", text: "t", label: "l")'),
    code: "ATN1003",
    message: "invalid escape '\\u{110000}': the largest code point is 10FFFF",
    at: "\\u{110000}",
  },
  {
    name: "seven hex digits",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("\\u{0000041}", text: "t", label: "l")'),
    code: "ATN1003",
    message: /^invalid escape '\\u\{0000041\}'/,
    at: "\\u{0000041}",
  },
  {
    name: "\\0 (not an escape of the language)",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("a\\0", text: "t", label: "l")'),
    code: "ATN1003",
    message: "unknown escape '\\0' in a string; strings support \\n \\t \\r \\\\ \\\" and \\u{hex}",
    at: "\\0",
  },
  {
    name: "\\x41",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("\\x41", text: "t", label: "l")'),
    code: "ATN1003",
    message: /^unknown escape '\\x'/,
    at: "\\x41",
  },
  // ---- line ends and text
  {
    name: "lone CR line ends",
    text: TEXT_MODEL("embedding(100, 8) -> last -> dense(2, activation: softmax) -> bogus").replace(/\n/g, "\r"),
    code: "ATN2001",
    message: "unknown layer 'bogus'",
    at: "bogus",
  },
  {
    name: "CRLF line ends",
    text: TEXT_MODEL("embedding(100, 8) -> last -> dense(2, activation: softmax) -> bogus").replace(/\n/g, "\r\n"),
    code: "ATN2001",
    message: "unknown layer 'bogus'",
    at: "bogus",
  },
  {
    name: "a lone surrogate in the text",
    text: TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("a\uD800.csv", text: "t", label: "l")'),
    code: "ATN1005",
    message: "the spec holds a lone surrogate U+D800, which is not a character",
    at: "\uD800",
  },
];

describe("compiler probes: spec text -> code, message, location", () => {
  it.each(PROBES)("$name: $code", async (p) => {
    const r = await compile({ name: "probe.attn", text: p.text });
    expect(r.ok).toBe(false);
    const d = r.diagnostics.find((x) => x.code === p.code && (typeof p.message === "string" ? x.message === p.message : p.message.test(x.message)));
    expect(d, `diagnostics were:\n${r.diagnostics.map((x) => `${x.span.line}:${x.span.column} ${x.code} ${x.message}`).join("\n")}`).toBeDefined();
    expect(`${d!.span.line}:${d!.span.column}`).toBe(locate(p.text, p.at));
  });
});

describe("numbers", () => {
  it("only integer literals beyond 2^53 - 1 are errors: a float such as 1e30 is read as written", async () => {
    const r = await compile({ name: "n.attn", text: `${TEXT_MODEL(CLASSIFIER)}\ntrain M {\n  loss: cross_entropy\n  optimizer: sgd(lr: 1e30)\n}\n` });
    expect(r.diagnostics).toEqual([]);
    expect((r.models[0]!.train!["optimizer"] as { lr: number }).lr).toBe(1e30);
    const exact = await compile({ name: "n.attn", text: `${TEXT_MODEL(CLASSIFIER)}\ntrain M {\n  loss: cross_entropy\n  seed: 9007199254740991\n}\n` });
    expect(exact.diagnostics.map((d) => d.message)).toEqual(["seed must be <= 2147483647, not 9007199254740991"]);
  });
});

describe("names that are JavaScript object members are ordinary names", () => {
  it.each(["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"])(
    "a dimension named %s builds IR that is valid JSON with that name",
    async (dim) => {
      const text = `model M {\n  input x: float[T = 4, ${dim}]\n  x -> lstm(2) -> last -> dense(1)\n}\n\ndata M {\n  source: csv("d.csv", features: ["a", "b"], target: "a")\n  window: 4\n}\n`;
      const r = await compile({ name: "d.attn", text });
      expect(r.diagnostics).toEqual([]);
      const ir = JSON.parse(serializeIr(r.models[0]!)) as { dims: Record<string, unknown>; inputs: { shape: unknown[] }[] };
      expect(Object.keys(ir.dims)).toEqual(["T", dim]);
      expect(Object.getOwnPropertyDescriptor(ir.dims, dim)?.value).toBe(2);
      expect(ir.inputs[0]!.shape).toEqual(["B", "T", dim]);
    },
  );

  it("an unbound dimension named toString is reported as unbound, not read from Object.prototype", async () => {
    const r = await compile({ name: "d.attn", text: "model M {\n  input x: float[T = 4, toString]\n  x -> lstm(2) -> last -> dense(1)\n}\n" });
    expect(r.diagnostics.map((d) => [d.code, `${d.span.line}:${d.span.column}`])).toEqual([["ATN3003", "3:8"]]);
  });

  it("layers named like object members compile and keep their names (__proto__ starts with '_': refused)", async () => {
    const r = await compile({
      name: "n.attn",
      text: TEXT_MODEL("embedding(100, 8) as constructor -> lstm(4) as hasOwnProperty -> last as toString -> dense(2, activation: softmax) as valueOf"),
    });
    expect(r.diagnostics).toEqual([]);
    const ir = JSON.parse(serializeIr(r.models[0]!)) as { nodes: { name: string; inputs: string[] }[]; outputs: string[] };
    expect(ir.nodes.map((n) => n.name)).toEqual(["constructor", "hasOwnProperty", "toString", "valueOf"]);
    expect(ir.nodes[1]!.inputs).toEqual(["constructor"]);
    expect(ir.outputs).toEqual(["valueOf"]);
  });
});

describe("bounded work and output", () => {
  it("a 20 KB line of errors prints the first 100 diagnostics, each line cut to a bounded width", async () => {
    const text = `model M {\n  input x: int[T]\n  x -> last ${"$ ".repeat(10_000)}\n}\n`;
    const r = await compile({ name: "flood.attn", text });
    expect(r.diagnostics.length).toBeGreaterThan(100);
    const out = renderDiagnostics(r.diagnostics, "plain", new Map([["flood.attn", text]]));
    expect(out.length).toBeLessThan(100 * 600);
    expect(out).toMatch(new RegExp(`\\nand ${r.diagnostics.length - 100} more diagnostics\\n$`));
    for (const line of out.split("\n")) expect(line.length).toBeLessThanOrEqual(420);
    const gh = renderDiagnostics(r.diagnostics, "github", new Map());
    expect(gh.trimEnd().split("\n")).toHaveLength(101);
  });

  it("the underline stays under the span in a line cut to width", async () => {
    const text = `model M {\n  input x: int[T]\n  x -> embedding(100, 8) -> ${"last -> ".repeat(600)}bogus -> dense(2, activation: softmax)\n}\n`;
    const r = await compile({ name: "wide.attn", text });
    const out = renderDiagnostics(
      r.diagnostics.filter((d) => d.code === "ATN2001"),
      "plain",
      new Map([["wide.attn", text]]),
    );
    const [, , source, underline] = out.split("\n");
    const at = underline!.indexOf("~");
    expect(source!.slice(at, at + 5)).toBe("bogus");
    expect(underline!.trim()).toBe("~~~~~");
  });

  it("100 000 layers compile in linear time", async () => {
    const text = `model M {\n  input x: float[T = 4, F = 2]\n  x -> lstm(2)${" -> dropout(0.1)".repeat(100_000)} -> last -> dense(1)\n}\n`;
    const t0 = Date.now();
    const r = await compile({ name: "long.attn", text });
    expect(r.diagnostics).toEqual([]);
    expect(r.models[0]!.nodes).toHaveLength(100_003);
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 90_000);

  it("30 000 failing layers: one diagnostic each, in linear time too", async () => {
    const text = `model M {\n  input x: float[T = 4, F = 2]\n  x -> lstm(2)${" -> dropout(2)".repeat(30_000)}\n}\n`;
    const t0 = Date.now();
    const r = await compile({ name: "long.attn", text });
    expect(r.diagnostics.filter((d) => d.code === "ATN2005")).toHaveLength(30_000);
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 90_000);
});

describe("source text", () => {
  it("CR, LF and CRLF end lines alike for the lexer and for LineMap", () => {
    const text = "model M {\r  input x: int[T]\n  x -> last\r\n}\r\r// end\n";
    const lines = new LineMap(text);
    const toks = tokenize(text);
    for (const t of [...toks.tokens, ...toks.comments]) {
      expect(lines.position(t.startOffset), t.image).toEqual({ line: t.startLine, column: t.startColumn });
    }
    expect(lines.lineCount).toBe(7);
    expect([1, 2, 3, 4, 5, 6].map((n) => lines.lineText(n))).toEqual(["model M {", "  input x: int[T]", "  x -> last", "}", "", "// end"]);
  });

  it("decodeSource keeps valid UTF-8 and drops a BOM; a bad byte is kept where it was", () => {
    expect(decodeSource(new TextEncoder().encode("\uFEFFmodel é 😀"))).toBe("model é 😀");
    const bad = decodeSource(Uint8Array.from([0x61, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98, 0x80]));
    expect([...bad].map((c) => c.codePointAt(0)!.toString(16))).toEqual(["61", "dcc3", "28", "dced", "dca0", "dc80", "1f600"]);
  });
});

describe("attnc check on untrusted specs", () => {
  const dir = mkdtempSync(join(tmpdir(), "attnc-compiler-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, contents: string | Uint8Array): string => {
    const path = join(dir, name);
    writeFileSync(path, contents);
    return path;
  };

  it("invalid UTF-8 is an error at the line and column of the first bad byte, exit 1", async () => {
    const text = TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("dataX.csv", text: "t", label: "l")');
    const good = new TextEncoder().encode(text);
    const at = good.indexOf("X".charCodeAt(0));
    const bytes = Uint8Array.from(good);
    bytes[at] = 0xe9;
    const path = write("latin1.attn", bytes);
    const before = readdirSync(dir).sort();
    const r = await attnc("check", path);
    expect(r.code).toBe(1);
    expect(locate(text, "X")).toBe("7:20");
    expect(r.err).toContain("latin1.attn:7:20 - error ATN1005: the spec is not valid UTF-8: byte 0xE9 does not begin or continue a character here");
    expect(r.err).toContain('csv("data\\x{e9}.csv"');
    expect(r.err).not.toContain("\uFFFD");
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it("escape sequences from the spec and from its strings are not sent to the terminal", async () => {
    const path = write(
      "esc.attn",
      `${TEXT_MODEL(CLASSIFIER)}\u001b]0;owned\u0007\u001b[2J\ndata M {\n  source: csv("d.csv", text: "t", label: "l")\n  tokenizer: words(max_len: 20)\n  scale: "\\u{1b}[31mred\u202e"\n}\n`,
    );
    const r = await attnc("check", path);
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(r.err).toContain("\\u{1b}]0;owned\\u{7}\\u{1b}[2J");
    expect(r.err).toContain("scale must be one of standard, minmax, none; got '\\u{1b}[31mred\\u{202e}'");
  });

  it("a spec that once ended in exit 70 is a spec error (exit 1), with no stack trace", async () => {
    for (const [name, text] of [
      ["proto.attn", TEXT_MODEL("lstm(4) -> last -> dense(1)", "input x: float[T = 4, __proto__]")],
      ["tostring.attn", TEXT_MODEL("lstm(4) -> last -> dense(1)", "input x: float[T = 4, toString]")],
      ["escape.attn", TEXT_MODEL(CLASSIFIER) + TEXT_DATA('csv("\\u{-1}", text: "t", label: "l")')],
    ] as const) {
      const r = await attnc("check", write(name, text));
      expect(r.code, r.err).toBe(1);
      expect(r.err).not.toContain("internal error");
      expect(r.err).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });

  it("a second output head fails check before train can start", async () => {
    const spec = write(
      "heads.attn",
      TEXT_MODEL("embedding(100, 8) -> lstm(4) as enc -> last -> dense(2, activation: softmax)\n  enc -> mean_pool -> dense(2, activation: softmax)") +
        TEXT_DATA() +
        "\ntrain M {\n  loss: cross_entropy\n}\n",
    );
    writeFileSync(join(dir, "d.csv"), "t,l\na b,x\nc d,y\n");
    for (const verb of ["check", "build", "inspect"]) {
      const r = await attnc(verb, spec, ...(verb === "build" ? ["--out", join(dir, "out")] : []));
      expect(r.code, `${verb}: ${r.err}`).toBe(1);
      expect(r.err).toContain("error ATN2018");
    }
    expect(readdirSync(dir)).not.toContain("out");
  });
});
