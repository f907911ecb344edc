import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { examples, fit, type DataConfig } from "../../src/runtime/data.js";
import { type SeriesPrep } from "../../src/runtime/prep.js";
import { timeKey } from "../../src/runtime/cells.js";
import { calendarPhase, calendarTime, calendarValues, DeriveHistory, derivedNames, historyRows, isWindowRow } from "../../src/runtime/derive.js";
import { attncIn } from "../in-process.js";
import { runnableProgram } from "../programs.js";

const dir = mkdtempSync(join(tmpdir(), "attnc-derive-"));
function file(name: string, text: string): { path: string; display: string } {
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, display: name };
}
async function collect<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}
const utc = (...a: [number, number, number, number?, number?]) => Date.UTC(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0);

describe("calendar features", () => {
  const savedTz = process.env["TZ"];
  afterEach(() => {
    if (savedTz === undefined) delete process.env["TZ"];
    else process.env["TZ"] = savedTz;
  });

  it("hour is (h + min/60) / 24 of the UTC clock", () => {
    expect(calendarPhase("hour", utc(2024, 5, 6, 13, 30))).toBeCloseTo(13.5 / 24, 12);
    expect(calendarPhase("hour", utc(2024, 5, 6, 0, 0))).toBe(0);
    const v: number[] = [];
    calendarValues(["hour"], utc(2024, 5, 6, 6), v);
    expect(v[0]).toBeCloseTo(1, 12); // 6:00 is a quarter of the day: sin(pi/2)
    expect(v[1]).toBeCloseTo(0, 12);
  });

  it("weekday counts from Sunday (0) in sevenths", () => {
    expect(calendarPhase("weekday", utc(2024, 1, 7, 23, 59))).toBe(0); // a Sunday
    expect(calendarPhase("weekday", utc(2024, 1, 8))).toBeCloseTo(1 / 7, 12); // Monday
    expect(calendarPhase("weekday", utc(2024, 1, 13))).toBeCloseTo(6 / 7, 12); // Saturday
  });

  it("yearday is the day of the year from 0, with the day's fraction, over 365.25; a leap year's last day goes past 365", () => {
    expect(calendarPhase("yearday", utc(2023, 1, 1))).toBe(0);
    expect(calendarPhase("yearday", utc(2023, 1, 2, 12))).toBeCloseTo(1.5 / 365.25, 12);
    expect(calendarPhase("yearday", utc(2023, 12, 31, 12))).toBeCloseTo(364.5 / 365.25, 12);
    expect(calendarPhase("yearday", utc(2024, 12, 31, 12))).toBeCloseTo(365.5 / 365.25, 12); // 2024 has 366 days
    expect(calendarPhase("yearday", utc(2024, 3, 1))).toBeCloseTo(60 / 365.25, 12); // after 29 February
    expect(calendarPhase("yearday", utc(2023, 3, 1))).toBeCloseTo(59 / 365.25, 12);
  });

  it("month is (month - 1) / 12, and each cycle gives sin then cos of 2 pi phase", () => {
    expect(calendarPhase("month", utc(2024, 1, 31))).toBe(0);
    expect(calendarPhase("month", utc(2024, 4, 1))).toBeCloseTo(3 / 12, 12);
    const v: number[] = [];
    calendarValues(["month", "weekday"], utc(2024, 4, 1), v); // April; a Monday
    expect(v).toHaveLength(4);
    expect(v[0]).toBeCloseTo(1, 12);
    expect(v[1]).toBeCloseTo(0, 12);
    expect(v[2]).toBeCloseTo(Math.sin((2 * Math.PI) / 7), 12);
    expect(v[3]).toBeCloseTo(Math.cos((2 * Math.PI) / 7), 12);
  });

  it("reads times without a zone as UTC wall-clock time, whatever the machine's zone and its daylight saving", () => {
    process.env["TZ"] = "Europe/Berlin";
    // The zone really changed: Berlin is an hour ahead of UTC in winter, and 02:30 on 28 March 2021 did not exist there.
    expect(new Date(utc(2021, 1, 15)).getTimezoneOffset()).toBe(-60);
    expect(calendarTime("2021-03-28T02:30")).toBe(utc(2021, 3, 28, 2, 30));
    expect(calendarTime("2021-03-28 02:30")).toBe(utc(2021, 3, 28, 2, 30));
    expect(calendarTime("Mar 28 2021 02:30")).toBe(utc(2021, 3, 28, 2, 30));
    expect(calendarTime("2021-10-31T02:30")).toBe(utc(2021, 10, 31, 2, 30)); // twice on the local clock that night
    expect(calendarTime("2021-03-28")).toBe(utc(2021, 3, 28));
    // Hours through the spring change are 24 distinct, evenly spaced phases.
    const hours = Array.from({ length: 24 }, (_, h) => calendarPhase("hour", calendarTime(`2021-03-28T${String(h).padStart(2, "0")}:00`)!));
    expect(hours).toEqual(Array.from({ length: 24 }, (_, h) => h / 24));
    // The time order reads them the same way: the hour the spring change skips is no duplicate of the next one.
    const keys = ["2021-03-28T01:00:00", "2021-03-28T02:00:00", "2021-03-28T03:00:00"].map(timeKey);
    expect(new Set(keys).size).toBe(3);
    expect(keys).toEqual([utc(2021, 3, 28, 1), utc(2021, 3, 28, 2), utc(2021, 3, 28, 3)]);
    // A day the month lacks is not a date (Date.parse would roll it over into the next month); 29 February of a leap year is.
    expect(calendarTime("2020-02-30")).toBeUndefined();
    expect(calendarTime("2021-02-29T10:00")).toBeUndefined();
    expect(calendarTime("2020-04-31T00:00Z")).toBeUndefined();
    expect(calendarTime("2020-02-29")).toBe(utc(2020, 2, 29));
    // A zone in the value is honoured: 02:30 at +02:00 is 00:30 UTC.
    expect(calendarTime("2021-06-01T02:30+02:00")).toBe(utc(2021, 6, 1, 0, 30));
    expect(calendarTime("2021-06-01T02:30Z")).toBe(utc(2021, 6, 1, 2, 30));
  });

  it("numbers and text are not dates", () => {
    for (const s of ["12", "1999", "-3.5", "1e9", "", "soon", "2021-13-45"]) expect(calendarTime(s), s).toBeUndefined();
  });
});

describe("derived features", () => {
  it("are named after the source's features in the order calendar, then derive; lags and differences need history", () => {
    const derive = [
      { kind: "diff" as const, column: "CO2" },
      { kind: "lag" as const, column: "CO2", steps: 12 },
    ];
    expect(derivedNames(["hour", "month"], derive)).toEqual(["hour_sin", "hour_cos", "month_sin", "month_cos", "CO2_diff", "CO2_lag12"]);
    expect(historyRows(derive)).toBe(12);
    expect(historyRows([])).toBe(0);
    // Window T = 2, horizon 1, stride 2, 3 rows of history: the first input row is 3 or later, on the stride.
    const shape = { window: 2, horizon: 1, stride: 2, derive: [{ kind: "lag" as const, column: "a", steps: 3 }] };
    expect(Array.from({ length: 12 }, (_, r) => r).filter((r) => isWindowRow(shape, r))).toEqual([6, 8, 10]);
  });

  it("diff(c) is c_r - c_{r-1}, lag(c, k) is c_{r-k}; NaN while the history is short", () => {
    const h = new DeriveHistory([
      { kind: "diff", column: "a" },
      { kind: "lag", column: "a", steps: 2 },
    ]);
    const out: number[][] = [];
    for (const a of [10, 13, 19, 20]) {
      const v: number[] = [];
      h.push([a, a], v);
      out.push(v);
    }
    expect(out).toEqual([
      [NaN, NaN],
      [3, NaN],
      [6, 10],
      [1, 13],
    ]);
  });

  // 12 daily rows: a (0, 1, 4, 9, ...: squares), b; lag 3 of a and diff of a, calendar weekday.
  const rows = Array.from({ length: 12 }, (_, i) => `2024-01-${String(i + 1).padStart(2, "0")},${i * i},${i % 2}`).join("\n");
  const config = (path: string): DataConfig => ({
    source: { kind: "csv", path, time: "d", features: ["a", "b"], target: "a" },
    window: { size: 2, horizon: 1, stride: 1, predict: "delta" },
    calendar: ["weekday"],
    derive: [
      { kind: "diff", column: "a" },
      { kind: "lag", column: "a", steps: 3 },
    ],
    scale: "none",
    split: { order: "chronological", train: 0.5, validation: 0.25, test: 0.25, seed: 0 },
  });

  it("fit lists them after the source's features, skips the rows without history and predicts the change as asked", async () => {
    const f = file("d.csv", `d,a,b\n${rows}\n`);
    const prep = (await fit(config(f.path), f)) as SeriesPrep;
    expect(prep.features).toEqual(["a", "b", "weekday_sin", "weekday_cos", "a_diff", "a_lag3"]);
    expect(prep.calendar).toEqual(["weekday"]);
    expect(prep.derive).toEqual(config(f.path).derive);
    expect(prep.predict).toBe("delta");
    // Windows need rows 0..2 as history: the first input row is 3, so the first target row is 3 + 2 + 1 - 1 = 5.
    // Target rows 5..11: train u = r/12 < 0.5 -> 5; validation < 0.75 -> 6, 7, 8; test 9, 10, 11.
    expect(prep.counts).toEqual({ train: 1, validation: 3, test: 3 });
  });

  it("windows hold the derived values of their own rows, scaled like the others", async () => {
    const f = file("e.csv", `d,a,b\n${rows}\n`);
    const c = { ...config(f.path), scale: "standard" as const };
    const prep = (await fit(c, f)) as SeriesPrep;
    // Standard scaling of a_diff over the training rows where it is defined (rows 1..5: 1, 3, 5, 7, 9).
    expect(prep.offset[4]).toBeCloseTo(5, 10);
    expect(prep.scale[4]).toBeCloseTo(Math.sqrt(8), 10);
    // a_lag3 over training rows 3..5: 0, 1, 4.
    expect(prep.offset[5]).toBeCloseTo(5 / 3, 10);
    const [first] = await collect(examples(c, prep, f, "train"));
    expect(first!.line).toBe(7); // target row 5 is the file's line 7 (the header is line 1)
    const raw = (r: number): number[] => {
      const wd = ((new Date(Date.UTC(2024, 0, r + 1)).getUTCDay() / 7) * 2 * Math.PI) as number;
      return [r * r, r % 2, Math.sin(wd), Math.cos(wd), r * r - (r - 1) * (r - 1), (r - 3) * (r - 3)];
    };
    const expected = [3, 4].flatMap((r) => raw(r).map((v, k) => (v - prep.offset[k]!) / prep.scale[k]!));
    expect(Array.from(first!.x).map((v) => +v.toFixed(5))).toEqual(expected.map((v) => +Math.fround(v).toFixed(5)));
    expect(first!.base).toEqual([16]); // a at row 4, the window's last step
  });

  it("a series too short for the history, the window and the horizon is refused with the count", async () => {
    const f = file("short.csv", `d,a,b\n${rows.split("\n").slice(0, 5).join("\n")}\n`);
    await expect(fit(config(f.path), f)).rejects.toThrow(
      "short.csv: the series has 5 rows, shorter than the 3 rows derived features need before them plus the window plus the horizon (6)",
    );
  });

  it("a time that is not a date is an error at its line when the calendar needs it", async () => {
    const f = file("nodate.csv", `d,a,b\n${rows.replace("2024-01-04", "4")}\n`);
    await expect(fit(config(f.path), f)).rejects.toThrow('nodate.csv:5 (column "d"): "4" is not a date');
  });
});

describe("a generated program with calendar and derived features", () => {
  it("trains the same weights as attnc train", async () => {
    const work = mkdtempSync(join(tmpdir(), "attnc-derive-program-"));
    symlinkSync(resolve("node_modules"), join(work, "node_modules"));
    const lines = ["time,load,temp"];
    for (let i = 0; i < 90; i++) {
      const t = new Date(Date.UTC(2024, 2, 30, i)).toISOString().slice(0, 16);
      lines.push(`${t},${(50 + 0.3 * i + 8 * Math.sin((2 * Math.PI * i) / 24)).toFixed(3)},${(10 + Math.cos(i / 5)).toFixed(3)}`);
    }
    writeFileSync(join(work, "load.csv"), `${lines.join("\n")}\n`);
    writeFileSync(
      join(work, "load.attn"),
      `model Load {
  input window: float[T = 6, F]
  window -> lstm(units: 4, input_attention: temporal(units: 3)) -> last -> dense(1)
}

data Load {
  source: csv("load.csv", time: "time", features: ["load", "temp"], target: "load")
  calendar: [hour, weekday]
  derive: [diff("load"), lag("load", 24)]
  window: 6, horizon 1
  split: chronological train 0.6, validation 0.2, test 0.2
}

train Load {
  loss: mse
  batch: 8
  epochs: 2
  seed: 3
}
`,
    );
    const built = await attncIn(work, "build", "load.attn", "--out", "prog");
    expect(built.code, built.err).toBe(0);
    const program = await runnableProgram(join(work, "prog"), "Load");
    const ran = spawnSync(process.execPath, [program, "--out", "by-program", "--backend", "wasm"], { cwd: work, encoding: "utf8", timeout: 300_000 });
    expect(ran.status, ran.stderr).toBe(0);
    const trained = await attncIn(work, "train", "load.attn", "--out", "by-attnc", "--backend", "wasm", "--threads", "1");
    expect(trained.code, trained.err).toBe(0);
    const meta = (d: string) => JSON.parse(readFileSync(join(work, d, "attnc.json"), "utf8")) as { prep: SeriesPrep };
    const prep = meta("by-attnc").prep;
    expect(prep.features).toEqual(["load", "temp", "hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "load_diff", "load_lag24"]);
    // 90 rows, 24 of history, window 6, horizon 1: target rows 30..89.
    expect(prep.counts.train + prep.counts.validation + prep.counts.test).toBe(60);
    expect(meta("by-program").prep).toEqual(prep);
    const weights = (d: string) => {
      const manifest = JSON.parse(readFileSync(join(work, d, "manifest.json"), "utf8")) as { weights: string };
      return readFileSync(join(work, d, manifest.weights));
    };
    expect(weights("by-program").equals(weights("by-attnc"))).toBe(true);

    // Requests give the full feature row, derived values included, in prep.features' order.
    const row = (i: number) => [50 + i, 10, 0, 1, 0.5, 0.5, 0.3, 49 + i];
    writeFileSync(join(work, "req.jsonl"), `${JSON.stringify({ window: [0, 1, 2, 3, 4, 5].map(row) })}\n${JSON.stringify({ window: [[1, 2]] })}\n`);
    const answered = await attncIn(work, "predict", "by-attnc", "--input", "req.jsonl");
    expect(answered.code).toBe(1);
    const [good, bad] = answered.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { prediction?: number; error?: string });
    expect(Number.isFinite(good!.prediction)).toBe(true);
    expect(bad!.error).toContain('needs "window": 6 rows of [load, temp, hour_sin, hour_cos, weekday_sin, weekday_cos, load_diff, load_lag24]');
    // A prep whose derived features disagree with its features list is a damaged directory.
    const metaPath = join(work, "by-attnc", "attnc.json");
    // (The data block beside it says the same, so that the prep's own lists are what disagree.)
    const tampered = JSON.parse(readFileSync(metaPath, "utf8")) as { prep: { derive: { steps?: number }[] }; data: { derive: { steps?: number }[] } };
    tampered.prep.derive[1]!.steps = 12;
    tampered.data.derive[1]!.steps = 12;
    writeFileSync(metaPath, JSON.stringify(tampered));
    const refused = await attncIn(work, "predict", "by-attnc", "--input", "req.jsonl");
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(
      /damaged model directory by-attnc: attnc\.json: prep\.features \[.* disagrees with the data block's features and derived features/,
    );
  }, 600_000);
});
