/**
 * Fuzzing properties for the compiler, shared by the test suite (a few thousand cases) and the long campaign
 * (`npm run fuzz -- --runs 100000`). Inputs: specs generated from the grammar, and mutations of the specs in
 * specs/ (token deletion, duplication and swaps, truncation, random bytes, huge numbers, deep nesting, very
 * long names, odd Unicode, CRLF line ends).
 */
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { compile, serializeIr, stableJson } from "../../src/compile.js";
import { LineMap } from "../../src/diagnostics/span.js";
import { tokenize } from "../../src/language/lexer.js";
import { parse } from "../../src/language/parse.js";
import { printSpec } from "../../src/language/printer.js";
import { LAYER_CALL_FAMILIES, LAYERS, OP_NAMES } from "../../src/layers/registry.js";

export const SEEDS = [
  ...readdirSync("specs")
    .filter((f) => f.endsWith(".attn"))
    .map((f) => readFileSync(`specs/${f}`, "utf8")),
  ...readdirSync("specs/errors")
    .filter((f) => f.endsWith(".attn"))
    .map((f) => readFileSync(`specs/errors/${f}`, "utf8")),
];

const ODD = ["\u0000", "\uFEFF", "\u202E", "\u{1F600}", "e\u0301", "\uD800", "\u2028", "\t", "\r", "\\", '"', "/*", "*/", "//", "\u00A0", "𝓍"];
const HUGE = ["1e308", "1e999", "-1e999", "99999999999999999999999", "0.0000000000000000001", "-0", "1e-400", ".5e5", "1e12"];

/** A mutation of a seed spec. */
export const mutated: fc.Arbitrary<string> = fc
  .record({
    seed: fc.nat({ max: SEEDS.length - 1 }),
    op: fc.constantFrom("delete", "duplicate", "swap", "truncate", "bytes", "huge", "nest", "longname", "unicode", "crlf", "multi"),
    a: fc.nat(),
    b: fc.nat(),
    text: fc.string({ unit: "binary", maxLength: 12 }),
  })
  .map(({ seed, op, a, b, text }) => mutate(SEEDS[seed]!, op, a, b, text));

function mutate(src: string, op: string, a: number, b: number, text: string): string {
  const toks = tokenize(src).tokens;
  const tok = toks.length ? toks[a % toks.length]! : null;
  const span = (t: typeof tok) => (t ? [t.startOffset, (t.endOffset ?? t.startOffset) + 1] : [0, 0]) as [number, number];
  const at = src.length ? a % src.length : 0;
  switch (op) {
    case "delete": {
      const [s, e] = span(tok);
      return src.slice(0, s) + src.slice(e);
    }
    case "duplicate": {
      const [s, e] = span(tok);
      return src.slice(0, e) + " " + src.slice(s, e) + src.slice(e);
    }
    case "swap": {
      if (toks.length < 2) return src;
      const i = a % (toks.length - 1);
      const [s1, e1] = span(toks[i]!);
      const [s2, e2] = span(toks[i + 1]!);
      return src.slice(0, s1) + src.slice(s2, e2) + src.slice(e1, s2) + src.slice(s1, e1) + src.slice(e2);
    }
    case "truncate":
      return src.slice(0, at);
    case "bytes":
      return src.slice(0, at) + text + src.slice(at + (b % 4));
    case "huge": {
      const nums = toks.filter((t) => /^-?[\d.]/.test(t.image));
      const t = nums.length ? nums[a % nums.length]! : tok;
      const [s, e] = span(t);
      return src.slice(0, s) + HUGE[b % HUGE.length]! + src.slice(e);
    }
    case "nest": {
      const depth = 1 + (b % 200);
      return src.slice(0, at) + "[".repeat(depth) + "]".repeat(b % 3 === 0 ? depth - 1 : depth) + src.slice(at);
    }
    case "longname": {
      const names = toks.filter((t) => /^[A-Za-z_]/.test(t.image));
      const t = names.length ? names[a % names.length]! : tok;
      const [s, e] = span(t);
      return src.slice(0, s) + "n".repeat(1000 + (b % 20000)) + src.slice(e);
    }
    case "unicode":
      return src.slice(0, at) + ODD[b % ODD.length]! + src.slice(at);
    case "crlf":
      return src.replace(/\n/g, "\r\n");
    default:
      return mutate(mutate(src, "delete", a, b, text), "bytes", b, a, text);
  }
}

// ---- specs generated from the grammar

/** Names that are also members of every JavaScript object, and names TensorFlow.js refuses (leading '_'). */
export const TRICKY_NAMES = ["__proto__", "constructor", "toString", "valueOf", "hasOwnProperty", "_x", "_enc", "__proto", "_"] as const;
const ident = fc.oneof({ arbitrary: fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/), weight: 4 }, { arbitrary: fc.constantFrom(...TRICKY_NAMES), weight: 1 });
const num = fc.oneof(fc.integer({ min: -5, max: 300 }).map(String), fc.constantFrom("1e-3", "0.5", "2.5e1", "0", "1e12"));
/**
 * The words the layer fuzzers draw from, taken from the registry, so that a new layer kind is fuzzed without
 * editing this file: every op and every argument name of a layer or of a call a layer argument takes (input
 * attention), beside near misses.
 */
export const FUZZ_DICTIONARY = {
  ops: [...OP_NAMES, "lstn"],
  args: [
    ...new Set([
      ...OP_NAMES.flatMap((o) => Object.keys(LAYERS[o].params)),
      ...LAYER_CALL_FAMILIES.flatMap((f) => Object.values(f.calls).flatMap((c) => Object.keys(c.params))),
    ]),
    "unitz",
  ],
  calls: LAYER_CALL_FAMILIES.flatMap((f) => Object.keys(f.calls)),
  /** Every value an enum argument of a layer or of its calls takes. */
  values: [
    ...new Set(
      OP_NAMES.flatMap((o) => Object.values(LAYERS[o].params))
        .concat(LAYER_CALL_FAMILIES.flatMap((f) => Object.values(f.calls).flatMap((c) => Object.values(c.params))))
        .flatMap((p) => (p.type === "enum" ? p.values : [])),
    ),
  ],
} as const;

const word = fc.constantFrom("true", "false", ...FUZZ_DICTIONARY.values, "bogus");
const value: fc.Arbitrary<string> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    num,
    word,
    ident.map((s) => JSON.stringify(s)),
    fc.array(tie("v"), { maxLength: 3 }).map((xs) => `[${xs.join(", ")}]`),
    fc.tuple(fc.constantFrom(...FUZZ_DICTIONARY.calls, "csv", "adam"), fc.array(tie("v"), { maxLength: 2 })).map(([c, xs]) => `${c}(${xs.join(", ")})`),
  ),
})).v as fc.Arbitrary<string>;
const argName = fc.constantFrom(...FUZZ_DICTIONARY.args, ...TRICKY_NAMES);
const arg = fc.oneof(
  value,
  fc.tuple(argName, value).map(([n, v]) => `${n}: ${v}`),
);
const op = fc.constantFrom(...FUZZ_DICTIONARY.ops);
const layer = fc
  .tuple(op, fc.option(fc.array(arg, { maxLength: 3 })), fc.option(ident))
  .map(([o, args, alias]) => `${o}${args ? `(${args.join(", ")})` : ""}${alias ? ` as ${alias}` : ""}`);
const dimA = fc.oneof(fc.constantFrom("T", "F", "T = 24", "F = 3", "constructor", "__proto__ = 2", "toString"), fc.integer({ min: 0, max: 30 }).map(String));
const input = fc
  .tuple(ident, fc.constantFrom("int", "float", "flaot"), fc.array(dimA, { minLength: 1, maxLength: 2 }))
  .map(([n, t, d]) => `input ${n}: ${t}[${d.join(", ")}]`);
const clause = fc.array(fc.oneof(num, word, ident), { minLength: 1, maxLength: 3 }).map((xs) => xs.join(" "));
const setting = fc
  .tuple(
    fc.constantFrom(
      "source",
      "tokenizer",
      "split",
      "window",
      "scale",
      "loss",
      "optimizer",
      "batch",
      "epochs",
      "early_stop",
      "metrics",
      "seed",
      "bogus",
      ...TRICKY_NAMES,
    ),
    fc.oneof(
      value,
      fc.array(clause, { minLength: 1, maxLength: 3 }).map((c) => c.join(", ")),
    ),
  )
  .map(([k, v]) => `${k}: ${v}`);

const size = (max: number) => fc.integer({ min: 1, max });
const recurrent = fc.oneof(
  size(16).map((h) => `lstm(${h})`),
  fc.tuple(size(16), fc.constantFrom("concat", "sum", "ave", "mul")).map(([h, m]) => `bilstm(units: ${h}, merge: ${m})`),
);
const reduce = fc.oneof(
  fc.constantFrom("last", "mean_pool", "max_pool", "attention_pool(score: zhou)"),
  size(16).map((a) => `attention_pool(units: ${a}) as attn`),
);
const dropout = fc.option(fc.integer({ min: 0, max: 9 }).map((r) => `dropout(0.${r})`));

/** A well-typed text classifier or forecaster with its data and train blocks. */
const valid: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 3, max: 5000 }),
      size(32),
      fc.boolean(),
      fc.array(recurrent, { minLength: 1, maxLength: 2 }),
      reduce,
      dropout,
      fc.integer({ min: 2, max: 5 }),
      size(300),
    )
    .map(
      ([v, e, mask, rs, red, drop, c, len]) =>
        `model Text {
  input tokens: int[T]
  tokens
    -> embedding(vocab: ${v}, dim: ${e}, mask_zero: ${mask})
${rs
  .map(
    (r) => `    -> ${r}
`,
  )
  .join("")}    -> ${red}
${
  drop
    ? `    -> ${drop}
`
    : ""
}    -> dense(${c}, activation: softmax) as label
}

` +
        `data Text {
  source: csv("d.csv", text: "t", label: "l")
  tokenizer: words(max_len: ${len}, vocab: ${v})
  split: train 0.8, validation 0.1, test 0.1, seed 1
}

train Text {
  loss: cross_entropy
  optimizer: adam(lr: 1e-3)
  metrics: [accuracy]
}
`,
    ),
  fc
    .tuple(
      size(48),
      size(6),
      fc.constantFrom(
        "",
        ", input_attention: temporal(units: 4)",
        ", input_attention: temporal(units: 4, feed: replace, position: none)",
        ", input_attention: features(units: 4)",
      ),
      size(16),
      reduce,
      dropout,
    )
    .map(
      ([t, f, att, h, red, drop]) =>
        `model Series {
  input window: float[T = ${t}, F = ${f}]
  window
    -> lstm(units: ${h}${att})
    -> ${red}
${
  drop
    ? `    -> ${drop}
`
    : ""
}    -> dense(1)
}

` +
        `data Series {
  source: csv("s.csv", features: [${Array.from({ length: f }, (_, k) => `"f${k}"`).join(", ")}], target: "f0")
  window: ${t}, horizon 1
  split: chronological train 0.7, validation 0.2, test 0.1
}

train Series {
  loss: mse
  metrics: [rmse]
}
`,
    ),
);

/** A spec drawn from the grammar at random: well formed, often wrong in meaning. */
const random: fc.Arbitrary<string> = fc
  .tuple(
    ident,
    fc.array(input, { maxLength: 2 }),
    fc.array(fc.tuple(ident, fc.array(layer, { minLength: 1, maxLength: 5 })), { maxLength: 3 }),
    fc.array(setting, { maxLength: 4 }),
    fc.array(setting, { maxLength: 4 }),
  )
  .map(([name, inputs, chains, data, train]) => {
    const model = `model ${name} {\n${inputs.map((i) => `  ${i}\n`).join("")}${chains.map(([src, ls]) => `  ${src}\n${ls.map((l) => `    -> ${l}\n`).join("")}`).join("")}}\n`;
    return `${model}\ndata ${name} {\n${data.map((s) => `  ${s}\n`).join("")}}\n\ntrain ${name} {\n${train.map((s) => `  ${s}\n`).join("")}}\n`;
  });

/** Specs from the grammar: well-typed ones (which must compile) and random ones. */
export const generated: fc.Arbitrary<string> = fc.oneof({ arbitrary: valid, weight: 2 }, { arbitrary: random, weight: 1 });

/** Well-typed specs must compile without errors (a check on the checker itself). */
export async function checkValid(text: string): Promise<void> {
  const r = await compile({ name: "valid.attn", text });
  if (!r.ok) throw new Error(`a well-typed spec was rejected:\n${text}\n${r.diagnostics.map((d) => d.message).join("\n")}`);
  await checkSpec(text);
}

export { valid };

/**
 * The properties every input must have: compiling returns output or diagnostics, never throws; every
 * diagnostic points inside the file; a valid spec builds to the same bytes twice; fmt is idempotent and
 * keeps the meaning (format -> compile -> same IR).
 */
export async function checkSpec(text: string): Promise<void> {
  const r = await compile({ name: "fuzz.attn", text });
  const lines = new LineMap(text);
  for (const d of r.diagnostics) {
    if (!(d.span.start >= 0 && d.span.end <= text.length && d.span.start <= d.span.end)) throw new Error(`diagnostic outside the file: ${JSON.stringify(d)}`);
    if (d.span.line < 1 || d.span.line > lines.lineCount) throw new Error(`diagnostic on a line that does not exist: ${JSON.stringify(d)}`);
    if (!d.message) throw new Error("empty diagnostic message");
  }
  if (!r.ok && !r.diagnostics.some((d) => d.severity === "error")) throw new Error("not ok but no error");
  // The IR holds the spec's names as they are: it is valid JSON that reads back to the same bytes.
  for (const m of r.models) {
    const bytes = serializeIr(m);
    if (`${stableJson(JSON.parse(bytes) as unknown, "")}\n` !== bytes) throw new Error(`IR does not read back as JSON:\n${bytes}`);
  }
  const parsed = parse({ name: "fuzz.attn", text });
  if (parsed.diagnostics.items.length > 0) return;
  const once = printSpec(parsed.ast);
  const reparsed = parse({ name: "fuzz.attn", text: once });
  if (reparsed.diagnostics.items.length > 0) throw new Error(`fmt output does not parse:\n${once}`);
  const twice = printSpec(reparsed.ast);
  if (twice !== once) throw new Error(`fmt is not idempotent:\n${once}\n---\n${twice}`);
  const r2 = await compile({ name: "fuzz.attn", text: once });
  const a = r.models.map(serializeIr).join("\n");
  const b = r2.models.map(serializeIr).join("\n");
  if (r.ok !== r2.ok || (r.ok && a !== b)) throw new Error(`fmt changed the meaning:\n${text}\n---\n${once}`);
  if (r.ok) {
    const again = (await compile({ name: "fuzz.attn", text })).models.map(serializeIr).join("\n");
    if (again !== a) throw new Error("build output is not deterministic");
  }
}

// ---- specs that check accepts must train

const tinyName = fc.oneof(
  { arbitrary: fc.constantFrom("enc", "Attn", "__proto__", "constructor", "toString", "valueOf", "hasOwnProperty"), weight: 5 },
  { arbitrary: fc.constantFrom("_x", "_enc", "__proto"), weight: 1 },
);
const named = (layer: fc.Arbitrary<string>): fc.Arbitrary<[string, string | null]> =>
  fc.tuple(layer, fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: tinyName, weight: 1 }));
const tinyRecurrent = fc.oneof(
  fc
    .tuple(
      size(4),
      fc.constantFrom(
        "",
        ", input_attention: temporal(2)",
        ", input_attention: temporal(2, feed: replace)",
        ", input_attention: temporal(2, position: none)",
        ", input_attention: features(2)",
      ),
      fc.constantFrom("sigmoid", "hard_sigmoid"),
      fc.boolean(),
    )
    .map(([h, att, ra, ufb]) => `lstm(${h}${att}, recurrent_activation: ${ra}, unit_forget_bias: ${ufb})`),
  fc.tuple(size(4), fc.constantFrom("concat", "sum", "ave", "mul")).map(([h, m]) => `bilstm(${h}, merge: ${m})`),
);
const tinyReduce = fc.constantFrom("attention_pool(3)", "attention_pool(score: zhou)", "last", "mean_pool", "max_pool");
const tinyMiddle = fc.oneof(
  fc.constant("dropout(0.5)"),
  fc.tuple(size(3), fc.constantFrom("linear", "relu", "tanh", "sigmoid", "softmax")).map(([u, a]) => `dense(${u}, activation: ${a})`),
);

/**
 * A tiny model drawn from the grammar's layers in the usual order, with names that are JavaScript members or
 * start with '_', sometimes a layer left out, a second input, or a second chain from a named node or port;
 * with its data and train blocks.
 */
export const trainable: fc.Arbitrary<string> = fc
  .record({
    text: fc.boolean(),
    t: size(5),
    f: size(3),
    embed: fc.tuple(size(4), fc.boolean()).map(([e, m]) => `embedding(vocab: 12, dim: ${e}, mask_zero: ${m})`),
    skipEmbed: fc.nat({ max: 9 }),
    recurrent: fc.array(named(tinyRecurrent), { minLength: 0, maxLength: 2 }),
    reduce: fc.option(named(tinyReduce), { freq: 6 }),
    middle: fc.array(named(tinyMiddle), { maxLength: 2 }),
    head: named(fc.constantFrom("dense(2, activation: softmax)", "dense(3, activation: softmax)", "dense(1, activation: sigmoid)", "dense(1)")),
    branch: fc.option(fc.tuple(fc.nat(), fc.boolean(), fc.array(named(fc.oneof(tinyReduce, tinyMiddle)), { minLength: 1, maxLength: 2 })), { freq: 5 }),
    twoInputs: fc.nat({ max: 9 }),
  })
  .map(({ text, t, f, embed, skipEmbed, recurrent, reduce, middle, head, branch, twoInputs }) => {
    const line = ([l, n]: [string, string | null]): string => `    -> ${l}${n !== null ? ` as ${n}` : ""}\n`;
    const main: [string, string | null][] = [
      ...(text && skipEmbed > 0 ? [[embed, null] as [string, null]] : []),
      ...recurrent,
      ...(reduce ? [reduce] : []),
      ...middle,
      [text ? head[0] : "dense(1)", head[1]],
    ];
    const aliases = main.map(([, n]) => n).filter((n): n is string => n !== null);
    const input = text ? "input tokens: int[T]" : `input window: float[T = ${t}, F = ${f}]`;
    const extra = twoInputs === 0 ? `  input more: float[T = ${t}, F = ${f}]\n` : "";
    const second =
      branch && aliases.length > 0 ? `  ${aliases[branch[0] % aliases.length]}${branch[1] ? ".weights" : ""}\n${branch[2].map(line).join("")}` : "";
    const model = `model M {\n  ${input}\n${extra}  ${text ? "tokens" : "window"}\n${main.map(line).join("")}${second}}\n`;
    const data = text
      ? `data M {\n  source: csv("d.csv", text: "t", label: "l")\n  tokenizer: words(max_len: ${t}, vocab: 12)\n}\n`
      : `data M {\n  source: csv("d.csv", features: [${Array.from({ length: f }, (_, i) => `"c${i}"`).join(", ")}], target: "c0")\n  window: ${t}\n}\n`;
    const train = `train M {\n  loss: ${text ? "cross_entropy" : "mse"}\n  batch: 2\n}\n`;
    return `${model}\n${data}\n${train}`;
  });
