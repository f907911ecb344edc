import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as csvParse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { csvRecords, DataError } from "../../src/runtime/csv.js";
import { examples, fit, shuffled, type DataConfig } from "../../src/runtime/data.js";
import { encodeText, tokenize, unscaleTarget, type SeriesPrep, type TextPrep } from "../../src/runtime/prep.js";

const dir = mkdtempSync(join(tmpdir(), "attnc-data-"));
function file(name: string, text: string | Buffer): { path: string; display: string } {
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, display: name };
}
async function collect<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}

describe("CSV reader", () => {
  it("reads the same records as csv-parse on the fixtures and on tricky quoting", async () => {
    const tricky = 'a,b,c\n"x, y","he said ""hi""",3\n"multi\nline",,\n"",  spaced ,"end"\n';
    const crlf = tricky.replace(/\n/g, "\r\n");
    for (const [name, text] of [
      ["reviews.csv", readFileSync("specs/data/reviews.csv", "utf8")],
      ["weather.csv", readFileSync("node_modules/vega-datasets/data/seattle-weather.csv", "utf8")],
      ["tricky.csv", tricky],
      ["crlf.csv", crlf],
    ] as const) {
      const f = file(name, text);
      const ours = (await collect(csvRecords(f.path, f.display))).map((r) => r.fields);
      expect(ours, name).toEqual(csvParse(text, { relax_column_count: true }) as string[][]);
    }
  });

  it("keeps a doubled quote that falls on a chunk boundary", async () => {
    const body = `${"x".repeat((1 << 16) - 3)}`;
    const text = `h\n"${body}""y"\n`; // the doubled quote straddles the 64 KiB read size
    const f = file("boundary.csv", text);
    const ours = (await collect(csvRecords(f.path, f.display))).map((r) => r.fields);
    expect(ours).toEqual(csvParse(text) as string[][]);
  });

  it("reports the line of invalid UTF-8 and of an unclosed quote", async () => {
    const bad = file("bad.csv", Buffer.concat([Buffer.from("a,b\n1,2\n3,"), Buffer.from([0xff, 0xfe]), Buffer.from("\n")]));
    await expect(collect(csvRecords(bad.path, bad.display))).rejects.toMatchObject({ line: 3, detail: expect.stringContaining("UTF-8") });
    const open = file("open.csv", 'a,b\n1,"2\n3,4\n');
    await expect(collect(csvRecords(open.path, open.display))).rejects.toBeInstanceOf(DataError);
  });
});

const textConfig = (path: string): DataConfig => ({
  source: { kind: "csv", path, text: "t", label: "l" },
  tokenizer: { kind: "words", lowercase: true, max_len: 4, vocab: 5, min_count: 1 },
  split: { order: "chronological", train: 0.5, validation: 0.25, test: 0.25, seed: 0 },
});

describe("text preparation", () => {
  it("builds the vocabulary by frequency from the training split only, pads and truncates", async () => {
    const f = file("t.csv", "t,l\nB b a,x\nb c,y\nzzz only in validation,x\nb,y\n");
    const prep = (await fit(textConfig(f.path), f)) as TextPrep;
    // Training rows are the first half (chronological): "B b a", "b c". b: 3, a: 1, c: 1 -> ties by token.
    expect(prep.vocab).toEqual(["<pad>", "<oov>", "b", "a", "c"]);
    expect(prep.labels).toEqual(["x", "y"]);
    expect(prep.counts).toEqual({ train: 2, validation: 1, test: 1 });
    expect(Array.from(encodeText(prep, "c zzz B"))).toEqual([4, 1, 2, 0]);
    expect(Array.from(encodeText(prep, "a a a a a a"))).toEqual([3, 3, 3, 3]);
    const val = await collect(examples(textConfig(f.path), prep, f, "validation"));
    expect(val.map((e) => [Array.from(e.x), e.y, e.line])).toEqual([[[1, 1, 1, 1], [0], 4]]);
  });

  it("rejects a label that the training split never has, naming its line", async () => {
    const f = file("t2.csv", "t,l\na,x\nb,y\nc,x\nd,z\n");
    await expect(fit(textConfig(f.path), f)).rejects.toMatchObject({ line: 5, detail: expect.stringContaining('"z" never appears') });
  });

  it("splits shuffled rows reproducibly by seed", async () => {
    const rows = Array.from({ length: 200 }, (_, i) => `w${i},${i % 2 ? "a" : "b"}`).join("\n");
    const f = file("t3.csv", `t,l\n${rows}\n`);
    const cfg = { ...textConfig(f.path), split: { order: "shuffled" as const, train: 0.8, validation: 0.1, test: 0.1, seed: 7 } };
    const a = (await fit(cfg, f)) as TextPrep;
    const b = (await fit(cfg, f)) as TextPrep;
    expect(a.counts).toEqual(b.counts);
    expect(a.counts.train).toBeGreaterThan(140);
    const other = (await fit({ ...cfg, split: { ...cfg.split, seed: 8 } }, f)) as TextPrep;
    const lines = async (p: TextPrep) => (await collect(examples(cfg, p, f, "test"))).map((e) => e.line);
    expect(await lines(a)).toEqual(await lines(b));
    expect(await lines(other)).not.toEqual(await lines(a));
  });
});

describe("the words tokenizer", () => {
  const words = { tokenizer: "words", lowercase: true } as const;
  it("keeps combining marks inside a word and treats composed and decomposed letters alike", () => {
    expect(tokenize(words, "Cafe\u0301 café")).toEqual(["café", "café"]);
    expect(tokenize(words, "हिन्दी भाषा")).toEqual(["हिन्दी", "भाषा"]);
    expect(tokenize(words, "Don’t STOP-me now, it's 3.14")).toEqual(["don’t", "stop", "me", "now", "it's", "3", "14"]);
  });
});

describe("series preparation", () => {
  const rows = Array.from({ length: 20 }, (_, i) => `2020-01-${String(i + 1).padStart(2, "0")},${i},${100 - i}`).join("\n");
  const config = (path: string): DataConfig => ({
    source: { kind: "csv", path, time: "d", features: ["a", "b"], target: "a" },
    window: { size: 3, horizon: 2, stride: 1, predict: "value" },
    scale: "standard",
    split: { order: "chronological", train: 0.5, validation: 0.25, test: 0.25, seed: 0 },
  });

  it("fits scaling on the training rows only and cuts windows with the horizon", async () => {
    const f = file("s.csv", `d,a,b\n${rows}\n`);
    const prep = (await fit(config(f.path), f)) as SeriesPrep;
    // Training rows 0..9: a = 0..9, mean 4.5, population sd sqrt(8.25).
    expect(prep.offset[0]).toBeCloseTo(4.5, 10);
    expect(prep.scale[0]).toBeCloseTo(Math.sqrt(8.25), 10);
    expect(prep.targetOffset).toBeCloseTo(4.5, 10);
    const train = await collect(examples(config(f.path), prep, f, "train"));
    // Windows end at row e, target row e + 2 must be a training row (< 10): targets 4..9.
    expect(train).toHaveLength(6);
    const first = train[0]!;
    expect(Array.from(first.x, (v) => Math.round(v * 1000) / 1000)).toEqual(
      [0, 100, 1, 99, 2, 98].map((v, k) => Math.round(((v - prep.offset[k % 2]!) / prep.scale[k % 2]!) * 1000) / 1000),
    );
    expect(unscaleTarget(prep, first.y[0]!, first.base[0])).toBeCloseTo(4, 5);
    expect(prep.counts).toEqual({ train: 6, validation: 5, test: 5 });
  });

  it("rejects unsorted and duplicate timestamps, non-numbers and series shorter than the window", async () => {
    const dup = file("dup.csv", "d,a,b\n2020-01-01,1,2\n2020-01-01,1,2\n2020-01-02,1,2\n2020-01-03,1,2\n2020-01-04,1,2\n2020-01-05,1,2\n");
    await expect(fit(config(dup.path), dup)).rejects.toMatchObject({ line: 3, detail: expect.stringContaining("duplicate timestamp") });
    const unsorted = file("uns.csv", "d,a,b\n2020-01-02,1,2\n2020-01-01,1,2\n2020-01-03,1,2\n2020-01-04,1,2\n2020-01-05,1,2\n2020-01-06,1,2\n");
    await expect(fit(config(unsorted.path), unsorted)).rejects.toMatchObject({ line: 3, detail: expect.stringContaining("time order") });
    const nan = file("nan.csv", "d,a,b\n1,1,2\n2,NaN,2\n3,1,2\n4,1,2\n5,1,2\n6,1,2\n");
    await expect(fit(config(nan.path), nan)).rejects.toMatchObject({ line: 3, where: 'column "a"' });
    const short = file("short.csv", "d,a,b\n1,1,2\n2,1,2\n");
    await expect(fit(config(short.path), short)).rejects.toMatchObject({ detail: expect.stringContaining("shorter than the window") });
  });
});

describe("shuffle buffer", () => {
  it("is a permutation fixed by the seed", async () => {
    async function* src() {
      for (let i = 0; i < 100; i++) yield i;
    }
    const a = await collect(shuffled(src(), 1, 16));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(await collect(shuffled(src(), 1, 16))).toEqual(a);
    expect(await collect(shuffled(src(), 2, 16))).not.toEqual(a);
  });
});
