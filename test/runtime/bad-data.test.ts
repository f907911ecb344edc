import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { attnc } from "../in-process.js";

const DIR = "test/fixtures/bad-data";

/** Every broken data file, the message it must give (file, line, column or field) and that nothing is written. */
const CATALOGUE: Record<string, RegExp> = {
  "text-missing-column.csv": /text-missing-column\.csv:1 \(column "sentiment"\): no such column; the file has "review", "label"/,
  "text-empty.csv": /text-empty\.csv: the file is empty: a header line is needed/,
  "text-header-only.csv": /text-header-only\.csv: the file has no data rows/,
  "text-ragged-long.csv": /text-ragged-long\.csv:18: this row has 3 fields, the header has 2/,
  "text-ragged-short.csv": /text-ragged-short\.csv:7: this row has 1 field, the header has 2/,
  "text-invalid-utf8.csv": /text-invalid-utf8\.csv:6: invalid UTF-8 \(byte 0xe9\)/,
  "text-unclosed-quote.csv": /text-unclosed-quote\.csv:8 \(field 1\): a quoted field is never closed/,
  "text-after-quote.csv": /text-after-quote\.csv:8 \(field 1\): unexpected character after a closing quote/,
  "text-empty-label.csv": /text-empty-label\.csv:8 \(column "sentiment"\): the label is empty/,
  "text-one-label.csv": /text-one-label\.csv \(column "sentiment"\): the training split has 1 label; classification needs at least 2/,
  "text-unseen-label.csv": /text-unseen-label\.csv:18 \(column "sentiment"\): label "neutral" never appears in the training split/,
  "text-duplicate-header.csv": /text-duplicate-header\.csv:1 \(column "review"\): the header names this column twice/,
  "text-three-labels.csv": /output label of model BadText has 2 classes, but .*text-three-labels\.csv has 3 labels in its training split \(neg, neutral, pos\)/,
  "series-nan.csv": /series-nan\.csv:7 \(column "a"\): "NaN" is not a finite number/,
  "series-inf.csv": /series-inf\.csv:7 \(column "b"\): "Infinity" is not a finite number/,
  "series-wrong-type.csv": /series-wrong-type\.csv:6 \(column "a"\): "abc" is not a finite number/,
  "series-empty-cell.csv": /series-empty-cell\.csv:6 \(column "a"\): "" is not a finite number/,
  "series-hex.csv": /series-hex\.csv:6 \(column "a"\): "0x10" is not a finite number \(numbers are decimal, such as 12, -0\.5 or 1\.5e-3\)/,
  "series-underscore.csv": /series-underscore\.csv:6 \(column "a"\): "1_000" is not a finite number/,
  "series-1e300.csv": /series-1e300\.csv:6 \(column "b"\): "1e300" is beyond the float32 range/,
  "series-beyond-float32.csv": /series-beyond-float32\.csv:6 \(column "a"\): "3\.5e38" is beyond the float32 range/,
  "series-short.csv": /series-short\.csv: the series has 3 rows, shorter than the window plus the horizon \(4\)/,
  "series-duplicate-time.csv": /series-duplicate-time\.csv:9 \(column "date"\): duplicate timestamp "2020-01-16"/,
  "series-unsorted-time.csv": /series-unsorted-time\.csv:9 \(column "date"\): "2020-01-11" comes before "2020-01-16": rows must be in time order/,
  "series-missing-target.csv": /series-missing-target\.csv:1 \(column "b"\): no such column; the file has "date", "a", "c"/,
  "jsonl-bad-json.jsonl": /jsonl-bad-json\.jsonl:4: not valid JSON/,
  "jsonl-not-object.jsonl": /jsonl-not-object\.jsonl:4: each line must be a JSON object/,
  "jsonl-null-text.jsonl": /jsonl-null-text\.jsonl:4 \(column "text"\): is null/,
  "jsonl-object-label.jsonl": /jsonl-object-label\.jsonl:4 \(column "label"\): must be a string, not an object \(\{"toString":"pos"\}\)/,
  "jsonl-array-text.jsonl": /jsonl-array-text\.jsonl:4 \(column "text"\): must be a string, not an array/,
  "jsonl-number-label.jsonl": /jsonl-number-label\.jsonl:4 \(column "label"\): must be a string, not a number \(1\)/,
  "jsonl-missing-field.jsonl": /jsonl-missing-field\.jsonl:4 \(column "text"\): missing/,
};

const specFor = (file: string) => `test/fixtures/specs/${file.endsWith(".jsonl") ? "bad_jsonl" : file.startsWith("series") ? "bad_series" : "bad_text"}.attn`;

describe("broken data files", () => {
  it("the catalogue covers every fixture, at least 20", () => {
    expect(readdirSync(DIR).sort()).toEqual(Object.keys(CATALOGUE).sort());
    expect(Object.keys(CATALOGUE).length).toBeGreaterThanOrEqual(20);
  });

  it.each(Object.entries(CATALOGUE))("%s: a located message, exit code 1, nothing written", async (file, message) => {
    const out = join(mkdtempSync(join(tmpdir(), "attnc-bad-")), "model");
    const r = await attnc("train", specFor(file), "--data", `${DIR}/${file}`, "--out", out, "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it("a record under the 1 MiB cap is read and reported where it breaks; a 10 MB one stops at the cap", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-big-"));
    writeFileSync(join(dir, "big.csv"), `review,sentiment\n"${"a".repeat(1_000_000)}`);
    const r = await attnc("train", specFor("text"), "--data", join(dir, "big.csv"), "--out", join(dir, "model"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/big\.csv:2 \(field 1\): a quoted field is never closed/);
    writeFileSync(join(dir, "huge.csv"), `review,sentiment\n"${"a".repeat(10 * 1024 * 1024)}`);
    const h = await attnc("train", specFor("text"), "--data", join(dir, "huge.csv"), "--out", join(dir, "model"), "--allow-outside");
    expect(h.code).toBe(1);
    expect(h.err).toMatch(/huge\.csv:2: this record is longer than 1048576 characters \(1 MiB\)/);
    expect(existsSync(join(dir, "model"))).toBe(false);
  });

  it("a data path that leaves the project is refused unless allowed", async () => {
    const r = await attnc("train", specFor("text"), "--data", "/etc/hostname", "--out", "runs/never");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/the data file \/etc\/hostname is outside the working directory \(it resolves to \/.+\); pass --allow-outside to use it/);
    expect(existsSync("runs/never")).toBe(false);
  });
});
