/**
 * A hand-edited attnc.json `prep`: every field a user could damage is refused when the directory loads, with exit 2
 * and one line naming attnc.json and the field, before any forecast turns a damaged number into Infinity or a
 * misleading answer; nothing is written.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { attnc } from "../in-process.js";
import { copyOf, editJson, hasStackTrace, snapshot, trainedWorkspace, type Workspace } from "../security/modeldir-kit.js";

type Prep = Record<string, unknown> & { offset: number[]; scale: number[]; counts: Record<string, number>; split: Record<string, unknown> };

let series: Workspace;
let text: Workspace;
let multi: Workspace;

beforeAll(async () => {
  series = await trainedWorkspace("test/fixtures/specs/tiny_series.attn", "attnc-prep-series-");
  text = await trainedWorkspace("test/fixtures/specs/tiny_text.attn", "attnc-prep-text-");
  // Two targets, every step 1..2: its output scalings are lists of four.
  const work = mkdtempSync(join(tmpdir(), "attnc-prep-multi-src-"));
  const rows = ["time,load,temp"];
  for (let i = 0; i < 60; i++)
    rows.push(`${new Date(Date.UTC(2024, 0, 1, i)).toISOString().slice(0, 16)},${(50 + 5 * Math.sin(i / 4)).toFixed(3)},${(10 + Math.cos(i / 6)).toFixed(3)}`);
  writeFileSync(join(work, "two.csv"), `${rows.join("\n")}\n`);
  writeFileSync(
    join(work, "two.attn"),
    `model Two {
  input w: float[T = 4, F]
  w -> lstm(units: 4) -> last -> dense(4)
}
data Two {
  source: csv("two.csv", time: "time", features: ["load", "temp"], target: ["load", "temp"])
  calendar: [hour]
  window: 4, horizon 2, steps all
  split: chronological train 0.6, validation 0.2, test 0.2
}
train Two {
  loss: mse
  batch: 8
  epochs: 1
  seed: 1
}
`,
  );
  multi = await trainedWorkspace(join(work, "two.attn"), "attnc-prep-multi-");
});

/** Damages a copy's prep, runs predict on it; asserts exit 2, one line naming attnc.json's field, nothing written. */
async function refused(ws: Workspace, name: string, edit: (prep: Prep) => void, message: RegExp): Promise<void> {
  const dir = copyOf(ws, name);
  editJson(join(dir, "attnc.json"), (m) => edit(m["prep"] as Prep));
  const before = snapshot(ws.root);
  const r = await attnc("predict", dir, "--input", join(ws.root, "req.jsonl"), "--backend", "wasm", "--allow-outside");
  expect(r.code, r.err).toBe(2);
  const lines = r.err.split("\n").filter((l) => l.startsWith("attnc: ") && !/ backend$/.test(l));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/damaged model directory .*: attnc\.json: prep\b/);
  expect(lines[0]).toMatch(message);
  expect(lines[0]).not.toMatch(/\bitems\b.*\bat least 1\b|must be (integer|number|array|string)\b|Infinity|NaN/);
  expect(r.out).toBe("");
  expect(hasStackTrace(r.err)).toBe(false);
  expect(snapshot(ws.root)).toEqual(before);
}

const SERIES: [string, (p: Prep) => void, RegExp][] = [
  ["an empty feature list", (p) => (p["features"] = []), /prep\.features must not be empty$/],
  ["a feature named twice", (p) => ((p["features"] as string[])[1] = "temp_max"), /prep\.features names "temp_max" twice$/],
  ["a window of 1e9", (p) => (p["window"] = 1e9), /prep\.window must be <= 65536, not 1000000000$/],
  ["a window of 7.5", (p) => (p["window"] = 7.5), /prep\.window must be a whole number, not 7\.5$/],
  ["a horizon of 1e9", (p) => (p["horizon"] = 1e9), /prep\.horizon must be <= 65536, not 1000000000$/],
  ["a horizon of 0", (p) => (p["horizon"] = 0), /prep\.horizon 0 disagrees with data\.window\.horizon 1, the data block it was fitted from$/],
  ["a stride of 1e9", (p) => (p["stride"] = 1e9), /prep\.stride must be <= 65536, not 1000000000$/],
  ["a stride of 3", (p) => (p["stride"] = 3), /prep\.stride 3 disagrees with data\.window\.stride 1/],
  ["steps all", (p) => (p["steps"] = "all"), /prep\.steps "all" disagrees with data\.window\.steps "last"/],
  ["an offset list one short", (p) => p.offset.pop(), /prep\.offset must be 4 finite numbers, one per feature$/],
  ["an offset of 1e308", (p) => (p.offset[0] = 1e308), /prep\.offset\[0\] must be a number from -6\.8e\+38 to 6\.8e\+38, not 1e\+308$/],
  ["a scale of 1e308", (p) => (p.scale[2] = 1e308), /prep\.scale\[2\] must be a scale from 1e-12 to 6\.8e\+38, not 1e\+308$/],
  ["a scale of -0", (p) => (p.scale[0] = -0), /prep\.scale\[0\] must not be 0$/],
  ["a negative scale", (p) => (p.scale[1] = -3), /prep\.scale\[1\] must be a scale from 1e-12 to 6\.8e\+38, not -3$/],
  ["a denormal scale", (p) => (p.scale[1] = 1e-320), /prep\.scale\[1\] must be a scale from 1e-12 to 6\.8e\+38, not 1e-320$/],
  ["a target offset of 1e308", (p) => (p["targetOffset"] = 1e308), /prep\.targetOffset must be a number from -6\.8e\+38 to 6\.8e\+38, not 1e\+308$/],
  ["a target scale of 1e308", (p) => (p["targetScale"] = 1e308), /prep\.targetScale must be a scale from 1e-12 to 6\.8e\+38, not 1e\+308$/],
  ["a target scale of -0", (p) => (p["targetScale"] = -0), /prep\.targetScale must not be 0$/],
  ["a target scale as text", (p) => (p["targetScale"] = "2"), /prep\.targetScale must be a finite number or a list, not "2"$/],
  [
    "a target scale list for one output",
    (p) => (p["targetScale"] = [1, 2]),
    /prep\.targetScale is a list, but the model forecasts one output: it must be one number$/,
  ],
  ["a target of another column", (p) => (p["target"] = "wind"), /prep\.target "wind" disagrees with data\.source\.target "temp_max"/],
  ["a target that is a number", (p) => (p["target"] = 3), /prep\.target must be a string or a list, not 3$/],
  ["an empty target list", (p) => (p["target"] = []), /prep\.target must not be empty$/],
  ["negative counts", (p) => (p.counts["train"] = -1), /prep\.counts\.train must be >= 0, not -1$/],
  ["counts beyond the rows", (p) => (p.counts["test"] = 1e6), /prep\.counts add up to \d+ windows, more than the 1461 rows of prep\.rows$/],
  ["a season of 0", (p) => (p["season"] = { period: 0, source: "time" }), /prep\.season\.period must be >= 1, not 0$/],
  ["an empty calendar", (p) => (p["calendar"] = []), /prep\.calendar must not be empty$/],
  ["a calendar the data block lacks", (p) => (p["calendar"] = ["hour"]), /prep\.calendar \["hour"\] disagrees with data\.calendar \[\]/],
  ["an unknown calendar cycle", (p) => (p["calendar"] = ["minute"]), /prep\.calendar\[0\] must be one of "hour", "weekday", "yearday", "month", not "minute"$/],
  [
    "a derived feature the data block lacks",
    (p) => (p["derive"] = [{ kind: "diff", column: "wind" }]),
    /prep\.derive \[\{"kind":"diff","column":"wind"\}\] disagrees with data\.derive \[\]/,
  ],
  ["a lag of 0 steps", (p) => (p["derive"] = [{ kind: "lag", column: "wind", steps: 0 }]), /prep\.derive\[0\]\.steps must be >= 1, not 0$/],
  ["a split fraction of 1e308", (p) => (p.split["train"] = 1e308), /prep\.split\.train 1e\+308 disagrees with data\.split\.train 0\.7/],
  ["another scaling", (p) => (p["scaling"] = "minmax"), /prep\.scaling "minmax" disagrees with data\.scale "standard"/],
  ["another predict", (p) => (p["predict"] = "delta"), /prep\.predict "delta" disagrees with data\.window\.predict "value"/],
];

describe("a damaged forecaster's prep", () => {
  beforeAll(() => {
    const rows = [
      [12.8, 5, 0, 4.7],
      [10.6, 2.8, 10.9, 4.5],
      [11.7, 7.2, 0.8, 2.3],
      [12.2, 5.6, 20.3, 4.7],
      [8.9, 2.8, 1.3, 6.1],
      [4.4, 2.2, 2.5, 2.2],
      [7.2, 2.8, 0, 2.3],
    ];
    writeFileSync(join(series.root, "req.jsonl"), `${JSON.stringify({ window: rows })}\n`);
  });
  for (const [name, edit, message] of SERIES) it(name, () => refused(series, name.replace(/\W+/g, "-"), edit, message));

  it("the undamaged directory answers (the cases above fail for their damage alone)", async () => {
    const r = await attnc("predict", series.base, "--input", join(series.root, "req.jsonl"), "--backend", "wasm", "--allow-outside");
    expect(r.code, r.err).toBe(0);
    expect(Number.isFinite((JSON.parse(r.out) as { prediction: number }).prediction)).toBe(true);
  });
});

describe("a damaged prep of several outputs", () => {
  beforeAll(() => {
    const rows = Array.from({ length: 4 }, (_, t) => [50 + t, 10 - t]);
    writeFileSync(join(multi.root, "req.jsonl"), `${JSON.stringify({ window: rows, time: "2024-01-03T10:00" })}\n`);
  });
  const cases: [string, (p: Prep) => void, RegExp][] = [
    ["a target scale that is one number", (p) => (p["targetScale"] = 2), /prep\.targetScale must be a list of 4 numbers, one per output, not 2$/],
    ["a target offset list one short", (p) => (p["targetOffset"] as number[]).pop(), /prep\.targetOffset must be 4 finite numbers, one per output$/],
    ["a target scale of -0 in the list", (p) => ((p["targetScale"] as number[])[3] = -0), /prep\.targetScale\[3\] must not be 0$/],
    [
      "a target scale of 1e39 in the list",
      (p) => ((p["targetScale"] as number[])[1] = 1e39),
      /prep\.targetScale\[1\] must be a scale from 1e-12 to 6\.8e\+38, not 1e\+39$/,
    ],
    [
      "targets in another order",
      (p) => (p["target"] = ["temp", "load"]),
      /prep\.target \["temp","load"\] disagrees with data\.source\.target \["load","temp"\]/,
    ],
    ["steps last", (p) => delete p["steps"], /prep\.steps "last" disagrees with data\.window\.steps "all"/],
    ["a calendar dropped", (p) => delete p["calendar"], /prep\.calendar \[\] disagrees with data\.calendar \["hour"\]/],
  ];
  for (const [name, edit, message] of cases) it(name, () => refused(multi, name.replace(/\W+/g, "-"), edit, message));
});

describe("a damaged text model's prep", () => {
  const cases: [string, (p: Prep) => void, RegExp][] = [
    ["a maxLen of 0", (p) => (p["maxLen"] = 0), /prep\.maxLen must be >= 1, not 0$/],
    [
      "a vocabulary without padding",
      (p) => ((p["vocab"] as string[])[0] = "the"),
      /prep\.vocab must begin with "<pad>" and "<oov>" \(ids 0 and 1\), not \["the","<oov>"\]$/,
    ],
    ["a word twice", (p) => ((p["vocab"] as string[])[3] = (p["vocab"] as string[])[2]!), /prep\.vocab has "\S+" twice$/],
    [
      "a longer vocabulary than the tokenizer's",
      (p) => (p["vocab"] as string[]).push(...Array.from({ length: 70 }, (_, i) => `zz${i}`)),
      /prep\.vocab has \d+ entries, more than data\.tokenizer\.vocab 64$/,
    ],
    ["a label twice", (p) => (p["labels"] = ["neg", "neg"]), /prep\.labels repeats an entry: items 0 and 1 are equal$/],
    ["another tokenizer", (p) => (p["tokenizer"] = "chars"), /prep\.tokenizer "chars" disagrees with data\.tokenizer\.kind "words"/],
    ["lowercase off", (p) => (p["lowercase"] = false), /prep\.lowercase false disagrees with data\.tokenizer\.lowercase true/],
    ["another text column", (p) => (p["textColumn"] = "title"), /prep\.textColumn "title" disagrees with data\.source\.text "review"/],
    ["another split order", (p) => (p.split["order"] = "chronological"), /prep\.split\.order "chronological" disagrees with data\.split\.order "shuffled"/],
  ];
  for (const [name, edit, message] of cases) it(name, () => refused(text, name.replace(/\W+/g, "-"), edit, message));
});
