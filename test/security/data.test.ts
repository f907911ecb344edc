/**
 * Data files and prediction requests are untrusted input. Each probe below once misbehaved (a silent wrong
 * value, a hang, gigabytes of memory, a misleading message); each now gets a documented exit code and a
 * message that names the file and line, and writes nothing it should not.
 */
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { encodeText, type TextPrep } from "../../src/runtime/prep.js";
import { attnc } from "../in-process.js";

const BAD = "test/fixtures/bad-data";
const tmp = () => mkdtempSync(join(tmpdir(), "attnc-sec-"));

/** A small text classifier over `source` (a csv(...) or jsonl(...) call naming the file and its columns). */
function textSpec(dir: string, source: string): string {
  const spec = join(dir, "probe.attn");
  writeFileSync(
    spec,
    `model Probe {
  input tokens: int[T]

  tokens
    -> embedding(vocab: 32, dim: 4, mask_zero: true)
    -> lstm(units: 4)
    -> last
    -> dense(2, activation: softmax) as label
}

data Probe {
  source: ${source}
  tokenizer: words(max_len: 8)
  split: chronological train 0.5, validation 0.25, test 0.25
}

train Probe {
  loss: cross_entropy
  epochs: 1
}
`,
  );
  return spec;
}

/** A small forecaster over a.csv with the given features (target "a"). */
function seriesSpec(dir: string, features: string[]): string {
  const spec = join(dir, "series.attn");
  writeFileSync(
    spec,
    `model Fore {
  input window: float[T = 3, F = ${features.length}]

  window
    -> lstm(units: 4)
    -> last
    -> dense(1)
}

data Fore {
  source: csv("a.csv", features: ${JSON.stringify(features)}, target: "a")
  window: 3, horizon 1
  split: chronological train 0.5, validation 0.25, test 0.25
}

train Fore {
  loss: mse
  epochs: 1
}
`,
  );
  return spec;
}

/** Rows whose words tell the two labels apart. */
const words = (i: number, a: string, b: string) => (i % 2 === 0 ? [`great lamp constructor valueof ${i}`, a] : [`awful kettle __proto__ tostring ${i}`, b]);

function seriesCsv(dir: string): void {
  const rows = Array.from({ length: 40 }, (_, i) => `${i},${(10 + Math.sin(i)).toFixed(3)},${(i % 7) + 0.5}`);
  writeFileSync(join(dir, "a.csv"), `t,a,b\n${rows.join("\n")}\n`);
}

/** Runs attnc in process with `stdin` as standard input; `onOut` sees every stdout write. */
function runWith(stdin: Readable, args: string[], onOut: (s: string) => void = () => undefined): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  return run(args, { cwd: process.cwd(), env: {}, stdin, stdout: { write: (s: string) => onOut(s) }, stderr: { write: (s: string) => err.push(s) } }).then(
    (code) => ({ code, err: err.join("") }),
  );
}

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at |internal error/);

describe("column names that are Object.prototype properties", () => {
  it("a text column toString that the CSV lacks is a missing column, not the text of a function", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "d.csv"), `review,sentiment\n${Array.from({ length: 16 }, (_, i) => words(i, "pos", "neg").join(",")).join("\n")}\n`);
    const r = await attnc("train", textSpec(dir, `csv("d.csv", text: "toString", label: "sentiment")`), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/d\.csv:1 \(column "toString"\): no such column; the file has "review", "sentiment"/);
    expect(r.err).not.toContain("native code");
    noStack(r.err);
    expect(existsSync(join(dir, "m"))).toBe(false);
  });

  it("a missing feature valueOf is a missing column", async () => {
    const dir = tmp();
    seriesCsv(dir);
    const r = await attnc("train", seriesSpec(dir, ["a", "valueOf"]), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/a\.csv:1 \(column "valueOf"\): no such column; the file has "t", "a", "b"/);
    expect(r.err).not.toMatch(/undefined|NaN/);
    expect(existsSync(join(dir, "m"))).toBe(false);
  });

  describe("a CSV with columns __proto__ (text) and constructor (labels __proto__ and constructor)", () => {
    const dir = tmp();
    beforeAll(async () => {
      writeFileSync(
        join(dir, "d.csv"),
        `__proto__,constructor\n${Array.from({ length: 16 }, (_, i) => words(i, "__proto__", "constructor").join(",")).join("\n")}\n`,
      );
      const r = await attnc("train", textSpec(dir, `csv("d.csv", text: "__proto__", label: "constructor")`), "--out", join(dir, "m"), "--allow-outside");
      expect(r.code, r.err).toBe(0);
    });

    it('trains on the column\'s words (not on "[object Object]"); the words round-trip through attnc.json', () => {
      const meta = JSON.parse(readFileSync(join(dir, "m/attnc.json"), "utf8")) as { prep: TextPrep };
      const p = meta.prep;
      expect(p.labels).toEqual(["__proto__", "constructor"]);
      expect(p.vocab).toEqual(expect.arrayContaining(["great", "lamp", "constructor", "valueof", "awful", "proto", "tostring"]));
      expect(p.vocab).not.toContain("object");
      const ids = encodeText(p, "constructor valueOf __proto__ toString hasOwnProperty");
      expect(Array.from(ids.slice(0, 5))).toEqual([
        p.vocab.indexOf("constructor"),
        p.vocab.indexOf("valueof"),
        p.vocab.indexOf("proto"),
        p.vocab.indexOf("tostring"),
        1,
      ]);
    });

    it('predict answers {"__proto__": ...} and {"text": ...}; the labels are plain keys of the probabilities', async () => {
      writeFileSync(join(dir, "req.jsonl"), '{"__proto__": "great lamp constructor"}\n{"text": "awful kettle __proto__"}\n');
      const r = await attnc("predict", join(dir, "m"), "--input", join(dir, "req.jsonl"), "--allow-outside");
      expect(r.code, r.err).toBe(0);
      const answers = r.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { label: string; probabilities: Record<string, number> });
      expect(answers).toHaveLength(2);
      for (const a of answers) {
        expect(Object.keys(a.probabilities).sort()).toEqual(["__proto__", "constructor"]);
        expect(a.probabilities["__proto__"]! + a.probabilities["constructor"]!).toBeCloseTo(1, 5);
        expect(["__proto__", "constructor"]).toContain(a.label);
      }
    });
  });

  it('a JSONL text column named constructor: {"text": ...} requests are answered', async () => {
    const dir = tmp();
    const lines = Array.from({ length: 16 }, (_, i) => {
      const [text, label] = words(i, "pos", "neg");
      return JSON.stringify({ constructor: text, toString: label });
    });
    writeFileSync(join(dir, "d.jsonl"), `${lines.join("\n")}\n`);
    const t = await attnc("train", textSpec(dir, `jsonl("d.jsonl", text: "constructor", label: "toString")`), "--out", join(dir, "m"), "--allow-outside");
    expect(t.code, t.err).toBe(0);
    writeFileSync(join(dir, "req.jsonl"), '{"text": "great lamp"}\n{"constructor": "awful kettle"}\n{"valueOf": "great"}\n');
    const r = await attnc("predict", join(dir, "m"), "--input", join(dir, "req.jsonl"), "--allow-outside");
    expect(r.code).toBe(1);
    const out = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { label?: string; error?: string });
    expect(out[0]!.label).toMatch(/^(pos|neg)$/);
    expect(out[1]!.label).toMatch(/^(pos|neg)$/);
    expect(out[2]!.error).toMatch(/req\.jsonl:3: needs a string field "constructor" \(or "text"\)/);
    expect(r.err).toMatch(/attnc: .*req\.jsonl:3: needs a string field "constructor" \(or "text"\)\n/);
  });
});

/** Values that are not plain strings or finite float32 numbers: the fixture, and where it must be reported. */
const VALUES: [file: string, spec: string, message: RegExp][] = [
  ["jsonl-object-label.jsonl", "bad_jsonl", /jsonl-object-label\.jsonl:4 \(column "label"\): must be a string, not an object/],
  ["jsonl-array-text.jsonl", "bad_jsonl", /jsonl-array-text\.jsonl:4 \(column "text"\): must be a string, not an array/],
  ["jsonl-number-label.jsonl", "bad_jsonl", /jsonl-number-label\.jsonl:4 \(column "label"\): must be a string, not a number/],
  ["series-hex.csv", "bad_series", /series-hex\.csv:6 \(column "a"\): "0x10" is not a finite number/],
  ["series-underscore.csv", "bad_series", /series-underscore\.csv:6 \(column "a"\): "1_000" is not a finite number/],
  ["series-1e300.csv", "bad_series", /series-1e300\.csv:6 \(column "b"\): "1e300" is beyond the float32 range/],
  ["series-beyond-float32.csv", "bad_series", /series-beyond-float32\.csv:6 \(column "a"\): "3\.5e38" is beyond the float32 range/],
  ["series-inf.csv", "bad_series", /series-inf\.csv:7 \(column "b"\): "Infinity" is not a finite number/],
  ["series-nan.csv", "bad_series", /series-nan\.csv:7 \(column "a"\): "NaN" is not a finite number/],
  ["series-empty-cell.csv", "bad_series", /series-empty-cell\.csv:6 \(column "a"\): "" is not a finite number/],
];

describe("values that are not plain strings or finite float32 numbers", () => {
  it.each(VALUES)("%s: exit 1, located, before any training", async (file, spec, message) => {
    const out = join(tmp(), "m");
    const r = await attnc("train", `test/fixtures/specs/${spec}.attn`, "--data", `${BAD}/${file}`, "--out", out, "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/object Object|loss became NaN|epoch 1/);
    noStack(r.err);
    expect(existsSync(out)).toBe(false);
  });
});

describe("files that are not regular, endless or with huge lines", () => {
  it("a FIFO data file is refused before anything waits on it", async () => {
    const dir = tmp();
    expect(spawnSync("mkfifo", [join(dir, "d.csv")]).status).toBe(0);
    const t0 = Date.now();
    const r = await attnc("train", "test/fixtures/specs/bad_text.attn", "--data", join(dir, "d.csv"), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/d\.csv: is a pipe \(FIFO\); a data file is read more than once, so it must be a regular file/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(existsSync(join(dir, "m"))).toBe(false);
  });

  it("a data file linked to /dev/zero is refused", async () => {
    const dir = tmp();
    symlinkSync("/dev/zero", join(dir, "zero.csv"));
    const r = await attnc("train", "test/fixtures/specs/bad_text.attn", "--data", join(dir, "zero.csv"), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/zero\.csv: is a device; a data file is read more than once, so it must be a regular file/);
    expect(existsSync(join(dir, "m"))).toBe(false);
  });

  it("piped /dev/stdin as a data file is refused as a pipe, not read as empty", async () => {
    const dir = tmp();
    // A shell pipe, as in `cat data.csv | attnc train ... --data /dev/stdin`.
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const cmd = `cat ${BAD}/text-one-label.csv | ${q(process.execPath)} bin/attnc.js train test/fixtures/specs/bad_text.attn --data /dev/stdin --out ${q(join(dir, "m"))} --allow-outside --threads 1`;
    const child = spawn("sh", ["-c", cmd], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.on("close", res));
    expect(code).toBe(1);
    expect(err).toMatch(/\/dev\/stdin: is a pipe \(FIFO\); a data file is read more than once/);
    expect(err).not.toMatch(/empty/);
    expect(existsSync(join(dir, "m"))).toBe(false);
  });

  it("a data file over 4 GiB (sparse, so nothing is written) and a directory are refused before reading", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "big.csv"), "");
    truncateSync(join(dir, "big.csv"), 5 * 1024 ** 3);
    const r = await attnc("train", "test/fixtures/specs/bad_text.attn", "--data", join(dir, "big.csv"), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/big\.csv: is 5368709120 bytes, more than the 4 GiB a data file may have/);
    mkdirSync(join(dir, "d.csv"));
    const d = await attnc("train", "test/fixtures/specs/bad_text.attn", "--data", join(dir, "d.csv"), "--out", join(dir, "m"), "--allow-outside");
    expect(d.code).toBe(1);
    expect(d.err).toMatch(/d\.csv: is a directory, not a data file/);
    expect(existsSync(join(dir, "m"))).toBe(false);
  });

  it("a JSONL data line over 1 MiB stops the read at its line", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "d.jsonl"), `{"text": "a", "label": "pos"}\n{"text": "${"a".repeat(3 << 20)}", "label": "neg"}\n`);
    const r = await attnc("train", "test/fixtures/specs/bad_jsonl.attn", "--data", join(dir, "d.jsonl"), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/d\.jsonl:2: this line is longer than 1048576 characters \(1 MiB\)/);
    expect(existsSync(join(dir, "m"))).toBe(false);
  });
});

describe("prediction requests", () => {
  const dir = tmp();
  const text = join(dir, "text");
  const series = join(dir, "series");
  beforeAll(async () => {
    const a = await attnc("train", "test/fixtures/specs/tiny_text.attn", "--out", text, "--allow-outside", "--epochs", "1");
    expect(a.code, a.err).toBe(0);
    seriesCsv(dir);
    const b = await attnc("train", seriesSpec(dir, ["a", "b"]), "--out", series, "--allow-outside");
    expect(b.code, b.err).toBe(0);
  });

  it("window values that are not finite float32 numbers are located errors; the other lines are answered", async () => {
    const ok = "[10, 1.5], [10.5, 2.5], [11, 3.5]";
    writeFileSync(
      join(dir, "w.jsonl"),
      [
        `{"window": [${ok}]}`,
        `{"window": [[1e300, 1], [10.5, 2.5], [11, 3.5]]}`,
        `{"window": [[10, 1], [10.5, 3.5e38], [11, 3.5]]}`,
        `{"window": [[10, 1], [10.5, 2.5], ["0x10", 3.5]]}`,
        `{"window": [{"a": 10, "b": 1}, {"a": 10.5, "b": 2.5}, {"a": 11}]}`,
        `{"window": [{"a": 10, "b": 1.5}, {"a": 10.5, "b": 2.5}, {"a": 11, "b": 3.5}]}`,
      ].join("\n"),
    );
    const r = await attnc("predict", series, "--input", join(dir, "w.jsonl"), "--allow-outside");
    expect(r.code).toBe(1);
    const out = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { prediction?: number; error?: string; line?: number });
    expect(out).toHaveLength(6);
    expect(Number.isFinite(out[0]!.prediction)).toBe(true);
    expect(out[1]).toEqual({ line: 2, error: expect.stringMatching(/w\.jsonl:2: window row 1, "a": 1e\+300 is beyond the float32 range/) });
    expect(out[2]!.error).toMatch(/w\.jsonl:3: window row 2, "b": 3\.5e\+38 is beyond the float32 range/);
    expect(out[3]!.error).toMatch(/w\.jsonl:4: window row 3, "a": a string, not a number/);
    expect(out[4]!.error).toMatch(/w\.jsonl:5: window row 3, "b": missing/);
    expect(out[5]!.prediction).toBeCloseTo(out[0]!.prediction!, 5);
    for (const n of [2, 3, 4, 5]) expect(r.err).toMatch(new RegExp(`attnc: .*w\\.jsonl:${n}: window row`));
    noStack(r.err);
  });

  it("text that is an object or an array is a located error", async () => {
    writeFileSync(join(dir, "t.jsonl"), '{"text": {"toString": "x"}}\n{"review": ["great"]}\n{"text": "great"}\n');
    const r = await attnc("predict", text, "--input", join(dir, "t.jsonl"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/t\.jsonl:1: needs a string field "review" \(or "text"\), not an object/);
    expect(r.err).toMatch(/t\.jsonl:2: needs a string field "review" \(or "text"\), not an array/);
    expect(r.out.trim().split("\n")).toHaveLength(3);
    expect(r.out).not.toContain("object Object");
  });

  it("--input /dev/zero, directly or through a link, is refused before reading (exit 2); evaluate --data too (exit 1)", async () => {
    symlinkSync("/dev/zero", join(dir, "zero.jsonl"));
    for (const input of ["/dev/zero", join(dir, "zero.jsonl")]) {
      const r = await attnc("predict", text, "--input", input, "--allow-outside");
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /cannot read .*(zero\.jsonl|\/dev\/zero): it is a device; requests come from a regular file, a pipe, or standard input \(--input -\)/,
      );
      expect(r.out).toBe("");
    }
    const e = await attnc("evaluate", text, "--data", join(dir, "zero.jsonl"), "--allow-outside");
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/zero\.jsonl: is a device; a data file is read more than once, so it must be a regular file/);
  });

  it("endless standard input without a line break stops at 1 MiB with a message, having read little", async () => {
    let pulled = 0;
    const zeros = new Readable({
      read() {
        pulled += 1 << 16;
        this.push(Buffer.alloc(1 << 16));
      },
    });
    const r = await runWith(zeros, ["predict", text, "--input", "-", "--allow-outside"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/<stdin>:1: this line is longer than 1048576 bytes \(1 MiB\), the most a request may have; stopped reading/);
    expect(pulled).toBeLessThan(8 << 20);
    expect(zeros.destroyed).toBe(true);
  });

  it("a request file over 4 GiB (sparse) is refused before reading (exit 2)", async () => {
    writeFileSync(join(dir, "big.jsonl"), "");
    truncateSync(join(dir, "big.jsonl"), 5 * 1024 ** 3);
    const r = await attnc("predict", text, "--input", join(dir, "big.jsonl"), "--allow-outside");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read .*big\.jsonl: it is 5368709120 bytes, more than the 4 GiB a request file may have/);
    expect(r.out).toBe("");
  });

  it("a 3 MiB request line in a file is refused at its line; the lines before it are answered", async () => {
    writeFileSync(join(dir, "long.jsonl"), `{"text": "great"}\n{"text": "${"a ".repeat(3 << 19)}"}\n{"text": "awful"}\n`);
    const r = await attnc("predict", text, "--input", join(dir, "long.jsonl"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/long\.jsonl:2: this line is longer than 1048576 bytes \(1 MiB\)/);
    expect(r.out.trim().split("\n")).toHaveLength(1);
  });

  it("a FIFO as --input is read in one pass", async () => {
    const fifo = join(dir, "req.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const writer = createWriteStream(fifo);
    writer.end('{"text": "great"}\n{"text": "awful"}\n');
    const r = await attnc("predict", text, "--input", fifo, "--allow-outside");
    expect(r.code, r.err).toBe(0);
    expect(
      r.out
        .trim()
        .split("\n")
        .map((l) => Object.keys(JSON.parse(l) as object)),
    ).toEqual([
      ["label", "probabilities"],
      ["label", "probabilities"],
    ]);
  });

  for (const command of ["predict", "explain"]) {
    it(`${command} --input - answers each line before the next is written`, async () => {
      const stdin = new PassThrough();
      const lines: string[] = [];
      let buffered = "";
      let waiting: (() => void) | null = null;
      const onOut = (s: string) => {
        buffered += s;
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          lines.push(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
        waiting?.();
      };
      const answers = (n: number) =>
        new Promise<void>((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`no answer ${n} within 30 s; got ${lines.length}`)), 30_000);
          waiting = () => {
            if (lines.length >= n) {
              clearTimeout(timer);
              res();
            }
          };
          waiting();
        });
      const args =
        command === "explain"
          ? ["explain", text, "--input", "-", "--out", join(dir, "ex"), "--allow-outside"]
          : ["predict", text, "--input", "-", "--allow-outside"];
      const done = runWith(stdin, args, onOut);
      stdin.write('{"text": "great lamp"}\n');
      await answers(1);
      expect(JSON.parse(lines[0]!)).toHaveProperty("label");
      stdin.write('{"text": 42}\n');
      await answers(2);
      expect(JSON.parse(lines[1]!)).toEqual({ line: 2, error: '<stdin>:2: needs a string field "review" (or "text"), not a number' });
      stdin.write('{"review": "awful kettle"}\n');
      await answers(3);
      expect(JSON.parse(lines[2]!)).toHaveProperty("label");
      stdin.end();
      const r = await done;
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/attnc: <stdin>:2: needs a string field "review" \(or "text"\), not a number\n/);
      expect(lines).toHaveLength(3);
      if (command === "explain")
        expect(
          readdirSync(join(dir, "ex"))
            .filter((f) => f.endsWith(".svg"))
            .sort(),
        ).toEqual(["example-1-attn.svg", "example-3-attn.svg"]);
    });
  }
});
