import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { examples, fit, type DataConfig } from "../../src/runtime/data.js";
import { scaleWindow, type SeriesPrep } from "../../src/runtime/prep.js";
import { tailWindows } from "../../src/runtime/tail.js";
import { attncIn } from "../in-process.js";

const work = mkdtempSync(join(tmpdir(), "attnc-predict-csv-"));
const run = (...args: string[]) => attncIn(work, ...args);

/** Hourly rows: a load with a daily cycle and a trend, and a temperature; `n` rows from 2024-03-30 00:00 UTC. */
function series(n: number, delimiter = ","): string[] {
  const lines = [["time", "load", "temp"].join(delimiter)];
  for (let i = 0; i < n; i++) {
    const t = new Date(Date.UTC(2024, 2, 30, i)).toISOString().slice(0, 16);
    lines.push([t, (50 + 0.3 * i + 8 * Math.sin((2 * Math.PI * i) / 24)).toFixed(3), (10 + Math.cos(i / 5)).toFixed(3)].join(delimiter));
  }
  return lines;
}
const csv = (lines: string[]) => `${lines.join("\n")}\n`;

const ROWS = 70;
const HORIZON = 2;
const SPEC = `model Load {
  input window: float[T = 5, F]
  window -> lstm(units: 4, input_attention: temporal(units: 3)) -> last -> dense(1)
}

data Load {
  source: csv("load.csv", time: "time", features: ["load", "temp"], target: "load", delimiter: ";")
  calendar: [hour, weekday]
  derive: [diff("load"), lag("load", 4)]
  window: 5, horizon ${HORIZON}
  split: chronological train 0.6, validation 0.2, test 0.2
}

train Load {
  loss: mse
  batch: 8
  epochs: 1
  seed: 3
}
`;

interface Meta {
  data: DataConfig;
  prep: SeriesPrep;
}
let meta: Meta;

async function collect<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}
const answers = (out: string) =>
  out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { prediction: number; after?: string | number });

beforeAll(async () => {
  // The model reads a semicolon-separated file, so --csv must read the data as the data block says.
  writeFileSync(join(work, "load.csv"), csv(series(ROWS, ";")));
  writeFileSync(join(work, "load.attn"), SPEC);
  const t = await run("train", "load.attn", "--out", "m", "--threads", "1");
  expect(t.code, t.err).toBe(0);
  meta = JSON.parse(readFileSync(join(work, "m", "attnc.json"), "utf8")) as Meta;
});

describe("the last windows of a data file", () => {
  it("are the windows training builds from the same rows: calendar, differences and lags computed as training computes them", async () => {
    expect(meta.prep.features).toEqual(["load", "temp", "hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "load_diff", "load_lag4"]);
    // Training's windows of load.csv (all 70 rows) end HORIZON rows before their target row; the file without
    // its last HORIZON rows ends where the last of them does.
    const lines = series(ROWS, ";");
    writeFileSync(join(work, "head.csv"), csv(lines.slice(0, lines.length - HORIZON)));
    const full = { path: join(work, "load.csv"), display: "load.csv" };
    const trained = await collect(examples(meta.data, meta.prep, full, "test"));
    expect(trained.length).toBeGreaterThanOrEqual(4);
    const tail = await tailWindows(meta.data, meta.prep, { path: join(work, "head.csv"), display: "head.csv" }, 4);
    expect(tail).toHaveLength(4);
    trained.slice(-4).forEach((e, i) => {
      const w = tail[i]!;
      expect(w.rows).toHaveLength(5);
      expect(Array.from(scaleWindow(meta.prep, w.rows))).toEqual(Array.from(e.x));
      // The window's last row is HORIZON rows before the target row; its time is that row's cell.
      expect(w.line).toBe(e.line - HORIZON);
      expect(w.after).toBe(lines[w.line - 1]!.split(";")[0]);
    });
    expect(tail[3]!.after).toBe(lines[lines.length - 1 - HORIZON]!.split(";")[0]);
  });

  it("read from JSONL give the same windows, a JSONL number time as it is", async () => {
    const lines = series(ROWS, ";").slice(1);
    writeFileSync(
      join(work, "load.jsonl"),
      lines
        .map((l) => {
          const [time, load, temp] = l.split(";");
          return `${JSON.stringify({ time, load: Number(load), temp })}\n`;
        })
        .join(""),
    );
    const jsonl: DataConfig = { ...meta.data, source: { ...meta.data.source, kind: "jsonl" } };
    const fromJsonl = await tailWindows(jsonl, meta.prep, { path: join(work, "load.jsonl"), display: "load.jsonl" }, 3);
    const fromCsv = await tailWindows(meta.data, meta.prep, { path: join(work, "load.csv"), display: "load.csv" }, 3);
    expect(fromJsonl.map((w) => [w.rows, w.after])).toEqual(fromCsv.map((w) => [w.rows, w.after]));
    // Without a calendar a number is a time like any other; "after" keeps it a number.
    const numbered = lines.map((l, i) => `${JSON.stringify({ step: 1000 + i, load: Number(l.split(";")[1]) })}\n`);
    writeFileSync(join(work, "steps.jsonl"), numbered.join(""));
    const config: DataConfig = {
      source: { kind: "jsonl", path: "steps.jsonl", time: "step", features: ["load"], target: "load" },
      window: { size: 3, horizon: 1, stride: 1 },
      derive: [{ kind: "diff", column: "load" }],
    };
    const file = { path: join(work, "steps.jsonl"), display: "steps.jsonl" };
    const prep = (await fit(config, file)) as SeriesPrep;
    const [w] = await tailWindows(config, prep, file);
    expect(w!.after).toBe(1000 + ROWS - 1);
  });

  it("without a time column are named by their last row's number; every one of the last rows ends a window, whatever the stride", async () => {
    const lines = series(30).map((l) => l.split(",").slice(1).join(","));
    writeFileSync(join(work, "notime.csv"), csv(lines));
    const config: DataConfig = {
      source: { kind: "csv", path: "notime.csv", features: ["load", "temp"], target: "load" },
      window: { size: 4, horizon: 1, stride: 3 },
      derive: [{ kind: "lag", column: "temp", steps: 2 }],
      split: { order: "chronological", train: 0.5, validation: 0.25, test: 0.25, seed: 0 },
    };
    const file = { path: join(work, "notime.csv"), display: "notime.csv" };
    const prep = (await fit(config, file)) as SeriesPrep;
    expect(prep.features).toEqual(["load", "temp", "temp_lag2"]);
    const tail = await tailWindows(config, prep, file, 5);
    expect(tail.map((w) => w.after)).toEqual([26, 27, 28, 29, 30]);
    // Training's windows (stride 3) end at some of these rows: each is the same window.
    const trained = (await collect(examples(config, prep, file, "test"))).filter((e) => tail.some((w) => w.line === e.line - 1));
    expect(trained.length).toBeGreaterThan(0);
    for (const e of trained) {
      const w = tail.find((x) => x.line === e.line - 1)!;
      expect(Array.from(scaleWindow(prep, w.rows))).toEqual(Array.from(e.x));
    }
  });
});

describe("attnc predict --csv", () => {
  it("answers exactly as predict does for the same windows as JSONL requests, each with the time it follows", async () => {
    const r = await run("predict", "m", "--csv", "load.csv", "--last", "3");
    expect(r.code, r.err).toBe(0);
    const got = answers(r.out);
    const windows = await tailWindows(meta.data, meta.prep, { path: join(work, "load.csv"), display: "load.csv" }, 3);
    writeFileSync(join(work, "req.jsonl"), windows.map((w) => `${JSON.stringify({ window: w.rows })}\n`).join(""));
    const asked = await run("predict", "m", "--input", "req.jsonl");
    expect(asked.code, asked.err).toBe(0);
    const expected = answers(asked.out);
    expect(got.map((a) => a.prediction)).toEqual(expected.map((a) => a.prediction));
    expect(expected.every((a) => a.after === undefined)).toBe(true);
    const times = series(ROWS)
      .slice(-3)
      .map((l) => l.split(",")[0]);
    expect(got.map((a) => a.after)).toEqual(times);
    // The default is the one last window.
    const one = await run("predict", "m", "--csv", "load.csv");
    expect(one.code, one.err).toBe(0);
    expect(answers(one.out)).toEqual([got[2]]);
  });

  it("too few rows for the windows is exit 1 with the file, the rows it has and the rows it needs", async () => {
    writeFileSync(join(work, "short.csv"), csv(series(8, ";")));
    const r = await run("predict", "m", "--csv", "short.csv");
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain("attnc: short.csv: the series has 8 rows, shorter than the 4 rows derived features need before it plus the window of 5 rows (9)");
    writeFileSync(join(work, "nine.csv"), csv(series(9, ";")));
    expect((await run("predict", "m", "--csv", "nine.csv")).code).toBe(0);
    const more = await run("predict", "m", "--csv", "nine.csv", "--last", "2");
    expect(more.code).toBe(1);
    expect(more.err).toContain(
      "nine.csv: the series has 9 rows, shorter than the 4 rows derived features need before it plus the window of 5 rows plus 1 more row for the 2 windows asked for (10)",
    );
    writeFileSync(join(work, "header.csv"), "time;load;temp\n");
    const empty = await run("predict", "m", "--csv", "header.csv");
    expect(empty.code).toBe(1);
    expect(empty.err).toContain("header.csv: the file has no data rows");
  });

  it("a bad cell, a missing column or a time out of order gets the message training gives", async () => {
    const lines = series(ROWS, ";");
    const cases: [string, string[]][] = [
      ["badcell.csv", lines.map((l, i) => (i === 40 ? l.replace(/;[^;]+;/, ";12,5;") : l))],
      ["notdate.csv", lines.map((l, i) => (i === 33 ? l.replace(/^[^;]+/, "soon") : l))],
      ["order.csv", lines.map((l, i) => (i === 50 ? lines[48]! : l))],
      ["nocolumn.csv", lines.map((l) => l.split(";").slice(0, 2).join(";"))],
    ];
    for (const [name, body] of cases) {
      writeFileSync(join(work, name), csv(body));
      writeFileSync(join(work, "bad.attn"), SPEC.replace('"load.csv"', JSON.stringify(name)));
      const trained = await run("train", "bad.attn", "--out", "never", "--threads", "1");
      expect(trained.code, name).toBe(1);
      const message = trained.err.split("\n").find((l) => l.startsWith(`attnc: ${name}`));
      expect(message, trained.err).toBeDefined();
      const r = await run("predict", "m", "--csv", name);
      expect(r.code, name).toBe(1);
      expect(r.out).toBe("");
      expect(r.err.split("\n")).toContain(message);
    }
    expect(readFileSync(join(work, "badcell.csv"), "utf8")).toContain("12,5");
  });

  it("a window whose scaled value is beyond float32 gets an error record at the line of its last row; the others are answered", async () => {
    const lines = series(ROWS, ";");
    // temp varies by about 1, so its scale is below 1 and 3.3e38 (within float32) scaled is beyond it.
    expect(meta.prep.scale[1]).toBeLessThan(1);
    const hugeLine = lines.length - 2; // the third row from the end (lines[k] is file line k + 1)
    lines[hugeLine - 1] = lines[hugeLine - 1]!.replace(/;[^;]+$/, ";3.3e38");
    writeFileSync(join(work, "huge.csv"), csv(lines));
    const r = await run("predict", "m", "--csv", "huge.csv", "--last", "6");
    expect(r.code).toBe(1);
    const out = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { prediction?: number; after?: string; line?: number; error?: string });
    expect(out).toHaveLength(6);
    out.forEach((o, k) => {
      const end = lines.length - 5 + k; // the file line of window k's last row
      if (end < hugeLine) {
        expect(Number.isFinite(o.prediction)).toBe(true);
        expect(o.after).toBe(lines[end - 1]!.split(";")[0]);
      } else {
        // The window holds the row as its row 5, 4, 3 (T = 5).
        const at = hugeLine - (end - 4) + 1;
        expect(o).toEqual({
          line: end,
          error: `huge.csv:${end}: window row ${at}, "temp": scaled by the training statistics, the value is beyond the float32 range`,
        });
        expect(r.err).toContain(`attnc: huge.csv:${end}: window row ${at}, "temp"`);
      }
    });
    expect(out.filter((o) => o.error !== undefined)).toHaveLength(3);
  });

  it("usage: one of --input and --csv, --last only with --csv and a whole number (exit 2, before any model loads)", async () => {
    const cases: [string[], string][] = [
      [["--csv", "load.csv", "--input", "req.jsonl"], "--csv and --input cannot be used together"],
      [[], "predict needs --input FILE (or - for standard input) or --csv FILE"],
      [["--input", "req.jsonl", "--last", "2"], "--last counts the windows of --csv; give --csv FILE"],
      [["--csv", "load.csv", "--last", "0"], '--last must be a whole number from 1 to 100000, not "0"'],
      [["--csv", "load.csv", "--last", "1.5"], '--last must be a whole number from 1 to 100000, not "1.5"'],
      [["--csv", "load.csv", "--last", "100001"], '--last must be a whole number from 1 to 100000, not "100001"'],
    ];
    for (const [args, message] of cases) {
      const r = await run("predict", "m", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain(message);
      expect(r.err).not.toContain("backend");
    }
    const missing = await run("predict", "m", "--csv", "nosuch.csv");
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("attnc: cannot read nosuch.csv: no such file");
    mkdirSync(join(work, "adir"), { recursive: true });
    const dir = await run("predict", "m", "--csv", "adir");
    expect(dir.code).toBe(1);
    expect(dir.err).toContain("adir: is a directory, not a data file");
  });

  it("reads no data file outside the working directory without --allow-outside, through a link or not", async () => {
    const outside = mkdtempSync(join(tmpdir(), "attnc-predict-csv-outside-"));
    writeFileSync(join(outside, "load.csv"), csv(series(ROWS, ";")));
    symlinkSync(join(outside, "load.csv"), join(work, "link.csv"));
    for (const path of [join(outside, "load.csv"), "link.csv"]) {
      const r = await run("predict", "m", "--csv", path);
      expect(r.code, path).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain("is outside the working directory");
      expect(r.err).toContain("pass --allow-outside to use it");
      // Refused before the backend, the model or the file is read.
      expect(r.err).not.toContain("backend");
    }
    const allowed = await run("predict", "m", "--csv", "link.csv", "--allow-outside");
    expect(allowed.code, allowed.err).toBe(0);
    expect(answers(allowed.out)).toEqual(answers((await run("predict", "m", "--csv", "load.csv")).out));
  });

  it("a text classifier has no window to read: exit 2 with a clear message", async () => {
    const rows = ["text,label"];
    for (let i = 0; i < 40; i++) rows.push(i % 2 ? `good fine nice ${i},pos` : `bad awful poor ${i},neg`);
    writeFileSync(join(work, "t.csv"), csv(rows));
    writeFileSync(
      join(work, "t.attn"),
      `model Words {
  input tokens: int[T]
  tokens -> embedding(vocab: 40, dim: 4, mask_zero: true) -> bilstm(units: 3) -> attention_pool(units: 3) -> dense(2, activation: softmax)
}

data Words {
  source: csv("t.csv", text: "text", label: "label")
  tokenizer: words(max_len: 6, vocab: 40)
}

train Words {
  loss: cross_entropy
  batch: 8
  epochs: 1
}
`,
    );
    const t = await run("train", "t.attn", "--out", "words", "--threads", "1");
    expect(t.code, t.err).toBe(0);
    const r = await run("predict", "words", "--csv", "t.csv");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("attnc: --csv reads the last window of a series, but model Words is a text classifier; give its requests with --input");
  });
});
