import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkDataRows } from "../../src/cli/data-check.js";
import { compile } from "../../src/compile.js";
import type { Attrs } from "../../src/ir/types.js";
import type { Row } from "../../src/runtime/csv.js";
import { attncIn } from "../in-process.js";

/** Rows as csvRows gives them: the header on line 1, data from line 2. */
function csv(header: string[], cells: (string | number)[][]): Row[] {
  return cells.map((r, i) => ({ values: new Map(header.map((h, k) => [h, String(r[k])])), line: i + 2, header: 1 }));
}
const series = (extra: Attrs = {}): Attrs => ({
  source: { kind: "csv", path: "d.csv", time: "t", features: ["load", "temp"], target: "load" },
  window: { size: 3, horizon: 1, stride: 1, predict: "delta" },
  split: { order: "chronological", train: 0.5, validation: 0.25, test: 0.25, seed: 0 },
  ...extra,
});
const days = (n: number) => Array.from({ length: n }, (_, i) => [`2024-01-${String(i + 1).padStart(2, "0")}`, 10 + i, 5 - i]);

describe("data checks on rows", () => {
  it("a column missing from the header is at line 1, with what the file has and the likely name", () => {
    const f = checkDataRows(series(), undefined, "d.csv", csv(["t", "laod", "temp"], days(8)));
    const missing = f.filter((x) => x.code === "DataColumnMissing");
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ path: "/data/source/features/0", line: 1, suggestion: "laod" });
    expect(missing[0]!.message).toBe('d.csv:1: no column "load" in the header (the file has "t", "laod", "temp")');
  });

  it("a JSONL file's columns are its first object's, at that object's line", () => {
    const rows: Row[] = days(8).map((r, i) => ({
      values: new Map<string, string | number>([
        ["t", r[0]!],
        ["load", r[1]!],
      ]),
      line: i + 3,
    }));
    const f = checkDataRows(series(), undefined, "d.jsonl", rows);
    expect(f.find((x) => x.code === "DataColumnMissing")).toMatchObject({ path: "/data/source/features/1", line: 3 });
    expect(f.find((x) => x.code === "DataColumnMissing")!.message).toContain("in the first row");
  });

  it("reports the first cell of a column that is not a number, once per column", () => {
    const cells = days(8);
    cells[3]![2] = "n/a";
    cells[5]![2] = "0x10";
    const f = checkDataRows(series(), undefined, "d.csv", csv(["t", "load", "temp"], cells));
    const bad = f.filter((x) => x.code === "DataNotNumber");
    expect(bad).toEqual([
      {
        code: "DataNotNumber",
        path: "/data/source/features/1",
        line: 5,
        message: 'd.csv:5 (column "temp"): "n/a" is not a finite number (numbers are decimal, such as 12, -0.5 or 1.5e-3)',
      },
    ]);
  });

  it("text, label and time cells of another JSON type are errors at their lines, as training refuses them", () => {
    const text: Attrs = {
      source: { kind: "jsonl", path: "d.jsonl", text: "text", label: "label" },
      split: { order: "shuffled", train: 0.5, validation: 0.25, test: 0.25, seed: 0 },
    };
    const jsonl = (objs: Record<string, unknown>[]): Row[] => objs.map((o, i) => ({ values: new Map(Object.entries(o)) as Row["values"], line: i + 1 }));
    const ok = Array.from({ length: 6 }, (_, i) => ({ text: `t ${i}`, label: i % 2 ? "a" : "b" }));
    expect(checkDataRows(text, undefined, "d.jsonl", jsonl(ok)).filter((x) => x.code !== "FewTestWindows")).toEqual([]);
    const bad = [...ok, { text: 5, label: "a" }, { text: "x", label: 0 }, { text: "y", label: null }];
    const found = checkDataRows(text, undefined, "d.jsonl", jsonl(bad)).filter((x) => x.code !== "FewTestWindows");
    expect(found.map((x) => [x.code, x.path, x.message])).toEqual([
      ["DataNotText", "/data/source/text", 'd.jsonl:7 (column "text"): must be a string, not a number (5)'],
      ["DataNotText", "/data/source/label", 'd.jsonl:8 (column "label"): must be a string, not a number (0)'],
    ]);
    // A time may be a JSONL number, not null or a boolean.
    const times = days(8).map((r, i) => ({ t: i === 5 ? null : i === 6 ? true : i, load: r[1], temp: r[2] }));
    const timeFound = checkDataRows(series(), undefined, "d.jsonl", jsonl(times)).filter((x) => x.code !== "FewTestWindows");
    expect(timeFound.map((x) => [x.code, x.message])).toEqual([["DataNotText", 'd.jsonl:6 (column "t"): is null']]);
  });

  it("time out of order and a repeated time are errors at their lines", () => {
    const back = days(8);
    back[4]![0] = "2024-01-02";
    expect(checkDataRows(series(), undefined, "d.csv", csv(["t", "load", "temp"], back)).filter((x) => x.code === "DataTimeOrder")).toEqual([
      {
        code: "DataTimeOrder",
        path: "/data/source/time",
        line: 6,
        message: 'd.csv:6 (column "t"): "2024-01-02" comes before "2024-01-04": rows must be in time order',
      },
    ]);
    const twice = days(8);
    twice[2]![0] = twice[1]![0]!;
    expect(checkDataRows(series(), undefined, "d.csv", csv(["t", "load", "temp"], twice)).find((x) => x.code === "DataTimeOrder")!.message).toBe(
      'd.csv:4 (column "t"): duplicate timestamp "2024-01-02"',
    );
  });

  it("a missing day of hourly data is a warning at the gap's line, with the gaps and missing steps counted", () => {
    const hours = Array.from({ length: 24 * 5 }, (_, i) => [new Date(Date.UTC(2024, 0, 1, i)).toISOString().slice(0, 16), 10 + (i % 24), 5]);
    // Day 2 missing entirely (24 rows), and one hour of day 4.
    const cells = hours.filter((_, i) => !(i >= 24 && i < 48) && i !== 80);
    const f = checkDataRows(series(), undefined, "d.csv", csv(["t", "load", "temp"], cells));
    expect(f.filter((x) => x.code === "DataTimeGaps")).toEqual([
      {
        code: "DataTimeGaps",
        path: "/data/source/time",
        line: 26,
        message:
          'd.csv:26 (column "t"): about 24 steps missing between "2024-01-01T23:00" and "2024-01-03T00:00" (the series steps by 1 hour); ' +
          "2 gaps in all, about 25 missing steps: a window across a gap spans more time than its length says",
      },
    ]);
    expect(f.filter((x) => x.code !== "DataTimeGaps" && x.code !== "FewTestWindows")).toEqual([]);
  });

  it("monthly dates, numeric times and a regular series: gaps by the most common step, none when there is none", () => {
    const months = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01"];
    const monthly = checkDataRows(
      series(),
      undefined,
      "d.csv",
      csv(
        ["t", "load", "temp"],
        months.map((m, i) => [m, i, i]),
      ),
    );
    expect(monthly.find((x) => x.code === "DataTimeGaps")!.message).toBe(
      'd.csv:5 (column "t"): about 1 step missing between "2024-03-01" and "2024-05-01" (the series steps by a month); 1 gap in all, about 1 missing step: a window across a gap spans more time than its length says',
    );
    const numbers = [0, 0.5, 1, 1.5, 3, 3.5, 4, 4.5, 5];
    const numeric = checkDataRows(
      series(),
      undefined,
      "d.csv",
      csv(
        ["t", "load", "temp"],
        numbers.map((t, i) => [t, i, i]),
      ),
    );
    expect(numeric.find((x) => x.code === "DataTimeGaps")!.message).toContain('about 2 steps missing between "1.5" and "3" (the series steps by 0.5)');
    expect(checkDataRows(series(), undefined, "d.csv", csv(["t", "load", "temp"], days(20))).filter((x) => x.code === "DataTimeGaps")).toEqual([]);
    // Out of order is an error already: no gap warning beside it.
    const back = days(20);
    back[10]![0] = "2024-01-30";
    const f = checkDataRows(series(), undefined, "d.csv", csv(["t", "load", "temp"], back));
    expect(f.map((x) => x.code)).toContain("DataTimeOrder");
    expect(f.map((x) => x.code)).not.toContain("DataTimeGaps");
  });

  it("calendar features need dates in the time column", () => {
    const cells = days(8).map((r, i) => [String(i), r[1]!, r[2]!]);
    const f = checkDataRows(series({ calendar: ["hour"] }), undefined, "d.csv", csv(["t", "load", "temp"], cells));
    expect(f.find((x) => x.code === "DataNotDate")).toMatchObject({ path: "/data/calendar", line: 2 });
    // Without a calendar, numbers are a fine time column.
    expect(checkDataRows(series(), undefined, "d.csv", csv(["t", "load", "temp"], cells)).filter((x) => x.code === "DataNotDate")).toEqual([]);
  });

  it("counts windows per split from the rows: 16 rows and a 3-step window leave 2 test windows, a warning", () => {
    const data = series({ split: { order: "chronological", train: 0.75, validation: 0.125, test: 0.125, seed: 0 } });
    const f = checkDataRows(data, undefined, "d.csv", csv(["t", "load", "temp"], days(16)));
    expect(f).toEqual([
      {
        code: "FewTestWindows",
        path: "/data/split",
        line: null,
        message: "d.csv: test split has 2 windows; metrics on it mean little (13 windows in all from 16 rows: train 9, validation 2, test 2)",
      },
    ]);
  });

  it("no training windows is an error; no validation windows too when early stopping watches a validation metric", () => {
    const data = series({ derive: [{ kind: "lag", column: "load", steps: 4 }] });
    const rows = csv(["t", "load", "temp"], days(9)); // 4 rows of history + 3 + 1: target rows 7 and 8 of 0..8, both test
    const f = checkDataRows(data, { early_stop: { monitor: "val_loss" } }, "d.csv", rows);
    expect(f.map((x) => x.code)).toEqual(["EmptySplit", "EmptySplit", "FewTestWindows"]);
    expect(f[0]!.message).toBe(
      "d.csv: the training split has no windows (2 windows in all from 9 rows: train 0, validation 0, test 2; a window needs 8 rows up to its target (4 before it for derived features, 3 in the window, horizon 1))",
    );
    expect(f[1]!.message).toContain("early stopping watches a validation metric, but the validation split has no windows");
    expect(
      checkDataRows(series({ derive: [{ kind: "lag", column: "load", steps: 4 }] }), { early_stop: { monitor: "loss" } }, "d.csv", rows).map((x) => x.code),
    ).toEqual(["EmptySplit", "FewTestWindows"]);
  });

  it("a file without data rows is an error", () => {
    expect(checkDataRows(series(), undefined, "d.csv", [])).toEqual([
      { code: "DataFileInvalid", path: "/data/source", line: null, message: "d.csv: the file has no data rows" },
    ]);
  });
});

const SPEC = `model M {
  input x: float[T = 3, F = 2]
  x -> lstm(4) -> last -> dense(1)
}

data M {
  source: csv("DATA", time: "t", features: ["load", "temp"], target: "load")
  window: 3
  split: chronological train 0.5, validation 0.25, test 0.25
}

train M {
  loss: mse
  epochs: 1
}
`;

function project(data: string | undefined, dataPath = "d.csv"): string {
  const dir = mkdtempSync(join(tmpdir(), "attnc-datacheck-"));
  mkdirSync(join(dir, "w"));
  writeFileSync(join(dir, "w", "m.attn"), SPEC.replace("DATA", dataPath));
  if (data !== undefined) writeFileSync(join(dir, "w", "d.csv"), data);
  return join(dir, "w");
}
const csvText = (header: string, n: number, edit: (i: number) => string | undefined = () => undefined) =>
  `${header}\n${Array.from({ length: n }, (_, i) => edit(i) ?? `2024-02-${String(i + 1).padStart(2, "0")},${10 + i},${i % 3}`).join("\n")}\n`;

describe("attnc check with the data file", () => {
  it("names a missing column at the header's line and at the spec's setting, exit 1, and writes nothing", async () => {
    const w = project(csvText("t,load,tmp", 28));
    const r = await attncIn(w, "check", "m.attn", "--format", "plain");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`m.attn:7:54 - error ATN4014: d.csv:1: no column "temp" in the header (the file has "t", "load", "tmp"); did you mean 'tmp'?`);
    expect(readdirSync(w).sort()).toEqual(["d.csv", "m.attn"]);
  });

  it("reports time out of order at the data line and the time setting", async () => {
    const w = project(csvText("t,load,temp", 28, (i) => (i === 9 ? "2024-01-15,3,4" : undefined)));
    const r = await attncIn(w, "check", "m.attn", "--format", "plain");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`m.attn:7:30 - error ATN4016: d.csv:11 (column "t"): "2024-01-15" comes before "2024-02-09": rows must be in time order`);
  });

  it("warns of missing days at the data line and the time setting, and passes", async () => {
    // 2024-02-11 to 2024-02-13 are missing.
    const day = (i: number) => new Date(Date.UTC(2024, 1, 1 + i + (i >= 10 ? 3 : 0))).toISOString().slice(0, 10);
    const w = project(csvText("t,load,temp", 40, (i) => `${day(i)},${10 + i},${i % 3}`));
    const r = await attncIn(w, "check", "m.attn", "--format", "plain");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(
      `m.attn:7:30 - warning ATN4026: d.csv:12 (column "t"): about 3 steps missing between "2024-02-10" and "2024-02-14" (the series steps by 1 day); 1 gap in all, about 3 missing steps`,
    );
  });

  it("warns of too few test windows but passes", async () => {
    const w = project(csvText("t,load,temp", 16));
    const r = await attncIn(w, "check", "m.attn", "--format", "plain");
    expect(r.code).toBe(0);
    expect(r.err).toContain("m.attn:9:3 - warning ATN4019: d.csv: test split has 4 windows; metrics on it mean little");
  });

  it("a data file that does not exist yet is a warning, not an error; train refuses it", async () => {
    const w = project(undefined);
    const r = await attncIn(w, "check", "m.attn", "--format", "plain");
    expect(r.code).toBe(0);
    expect(r.err).toContain("m.attn:7:15 - warning ATN4020: d.csv does not exist (yet): its columns and windows are not checked");
    const json = await attncIn(w, "check", "m.attn", "--format", "json");
    expect(json.code).toBe(0);
    expect(json.out).toContain('"severity": "warning"');
    expect(readdirSync(w)).toEqual(["m.attn"]);
    const t = await attncIn(w, "train", "m.attn");
    expect(t.code).not.toBe(0);
    expect(t.err).toContain("d.csv");
  });

  it("does not read a data file outside the working directory: a warning", async () => {
    const w = project(undefined, "../outside.csv");
    writeFileSync(join(w, "..", "outside.csv"), "not,even\ndata\n");
    const r = await attncIn(w, "check", "m.attn", "--format", "plain");
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning ATN4020: .*outside.*; check did not read it/);
    expect(r.err).not.toContain("ATN4021");
    const allowed = await attncIn(w, "check", "m.attn", "--format", "plain", "--allow-outside");
    expect(allowed.code).toBe(1);
    expect(allowed.err).toMatch(/error ATN4021: .*outside\.csv:2: this row has 1 field, the header has 2/);
  });

  it("train names a missing column at the header's line too", async () => {
    const w = project(csvText("t,load,tmp", 28));
    const r = await attncIn(w, "train", "m.attn", "--backend", "wasm");
    expect(r.code).toBe(1);
    expect(r.err).toContain('d.csv:1 (column "temp"): no such column; the file has "t", "load", "tmp"');
    expect(readdirSync(w).sort()).toEqual(["d.csv", "m.attn"]);
  });
});

describe("the compiler and derived features", () => {
  const spec = (data: string, input = "float[T = 4, F]") => `model M {\n  input x: ${input}\n  x -> lstm(4) -> last -> dense(1)\n}\n\ndata M {\n${data}\n}\n`;
  const ir = async (text: string) => {
    const r = await compile({ name: "m.attn", text });
    return { r, data: r.models[0]?.data as { window: { predict: string } } | undefined, F: r.models[0]?.dims["F"] };
  };

  it("counts derived features in F, and the shape error lists every feature", async () => {
    const data = `  source: csv("d.csv", time: "t", features: ["load"], target: "load")\n  calendar: [hour, yearday]\n  derive: [diff("load"), lag("temp", 24)]\n  window: 4`;
    expect((await ir(spec(data))).F).toBe(7);
    const bad = await ir(spec(data, "float[T = 4, F = 3]"));
    expect(bad.r.ok).toBe(false);
    expect(bad.r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      "ATN4002 the data block's features (load, hour_sin, hour_cos, yearday_sin, yearday_cos, load_diff, temp_lag24: 1 column of the file, 6 derived) gives 7, but the input declares F = 3",
    ]);
  });

  it("predicts the residual by default for a forecast of a window of at most 512 inputs, else the change where it applies, else the value", async () => {
    const src = (features: string, window: string, input?: string) =>
      spec(`  source: csv("d.csv", features: ${features}, target: "load")\n  window: ${window}`, input);
    expect((await ir(src('["load", "temp"]', "4"))).data!.window.predict).toBe("residual");
    expect((await ir(src('["temp", "x"]', "4"))).data!.window.predict).toBe("residual");
    expect((await ir(src('["load", "temp"]', "256", "float[T = 256, F]"))).data!.window.predict).toBe("residual");
    expect((await ir(src('["load", "temp"]', "257", "float[T = 257, F]"))).data!.window.predict).toBe("delta");
    expect((await ir(src('["temp", "x"]', "257", "float[T = 257, F]"))).data!.window.predict).toBe("value");
    expect((await ir(src('["load", "temp"]', "4, horizon 0"))).data!.window.predict).toBe("value");
    expect((await ir(src('["load", "temp"]', "4, predict value"))).data!.window.predict).toBe("value");
  });

  it("a derived feature needs a column name", async () => {
    const r = await ir(spec(`  source: csv("d.csv", features: ["load"], target: "load")\n  derive: [diff("")]\n  window: 4`));
    expect(r.r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(["ATN2003 a derived feature's column name must not be empty"]);
  });

  it("a calendar needs the time column, and derived features are for series", async () => {
    const noTime = await ir(spec(`  source: csv("d.csv", features: ["load"], target: "load")\n  calendar: [month]\n  window: 4`));
    expect(noTime.r.diagnostics.map((d) => d.code)).toEqual(["ATN4007"]);
    const text = await ir(
      spec(`  source: csv("d.csv", text: "t", label: "l")\n  tokenizer: words(max_len: 4)\n  derive: [lag("x", 2)]`, "int[T]").replace(
        "x -> lstm(4)",
        "x -> embedding(50, 4) -> lstm(4)",
      ),
    );
    expect(text.r.diagnostics.map((d) => `${d.code} ${d.message}`)).toContain(
      "ATN4001 derive features are for forecasting (a window), not for text classification",
    );
  });

  it("a source's columns belong to its kind of task: no target in a text block, no label in a series block", async () => {
    const text = await ir(
      spec(
        `  source: csv("d.csv", text: "t", label: "l", target: ["x", "y"])
  tokenizer: words(max_len: 4)`,
        "int[T]",
      ).replace("x -> lstm(4)", "x -> embedding(50, 4) -> lstm(4)"),
    );
    expect(text.r.diagnostics.map((d) => `${d.code} ${d.message}`)).toContain(
      "ATN4001 target is for forecasting (a window); text classification reads the text and label columns",
    );
    const series = await ir(
      spec(`  source: csv("d.csv", features: ["load"], target: "load", label: "l")
  window: 4`),
    );
    expect(series.r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      "ATN4001 label is for text classification (a tokenizer); a series reads its features and target columns",
    ]);
  });
});
