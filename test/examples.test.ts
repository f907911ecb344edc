import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../src/api/index.js";
import type { DataConfig } from "../src/runtime/data.js";
import type { Prep } from "../src/runtime/prep.js";
import { tailWindows } from "../src/runtime/tail.js";
import { attnc } from "./in-process.js";

/** Small versions of the examples: each trains in seconds and must learn. */
const num = (re: RegExp, s: string) => Number(re.exec(s)![1]);
const history = (dir: string) => JSON.parse(readFileSync(join(dir, "history.json"), "utf8")) as { loss: number }[];

/**
 * The library answers as the command line does: loadModel(dir).predict and explain equal attnc predict and attnc
 * explain on the same requests (texts, or the data file's last windows for a forecaster).
 */
async function libraryAnswersAsCli(dir: string, texts: string[] = []): Promise<void> {
  const meta = JSON.parse(readFileSync(join(dir, "attnc.json"), "utf8")) as { data: DataConfig; prep: Prep; dataPath: string };
  const requests =
    meta.prep.kind === "text"
      ? texts.map((text) => ({ text }))
      : (await tailWindows(meta.data, meta.prep, { path: resolve(dir, meta.dataPath), display: meta.dataPath }, 3)).map((w) => ({ window: w.rows }));
  expect(requests.length).toBeGreaterThan(0);
  const file = join(dir, "requests.jsonl");
  writeFileSync(file, requests.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const jsonl = (out: string) =>
    out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as unknown);
  const p = await attnc("predict", dir, "--input", file, "--allow-outside");
  const e = await attnc("explain", dir, "--input", file, "--out", join(dir, "heat"), "--allow-outside");
  expect(p.code, p.err).toBe(0);
  expect(e.code, e.err).toBe(0);
  const model = await loadModel(dir, { backend: "current" });
  try {
    expect(await model.predict(requests)).toEqual(jsonl(p.out));
    expect(await model.explain(requests)).toEqual(jsonl(e.out));
  } finally {
    model.dispose();
  }
}

describe("small versions of the examples learn", () => {
  it("spam: a sample of the SpamAssassin corpus is classified far above chance", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-spam-"));
    execFileSync(process.execPath, ["examples/spam/prepare.mjs", "--out", join(dir, "spam.jsonl"), "--per-class", "250"]);
    const r = await attnc("train", "test/fixtures/specs/spam_small.attn", "--data", join(dir, "spam.jsonl"), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code, r.err).toBe(0);
    const h = history(join(dir, "m"));
    expect(h[h.length - 1]!.loss).toBeLessThan(h[0]!.loss);
    expect(num(/test accuracy ([0-9.]+)/, r.out)).toBeGreaterThan(0.8);
    await libraryAnswersAsCli(join(dir, "m"), ["Congratulations! You have won a FREE cruise, click here now", "Minutes of Tuesday's meeting attached", ""]);
  });

  it("co2: the temporal-attention forecaster beats the seasonal naive forecast", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-co2-"));
    expect((await attnc("train", "examples/co2/co2.attn", "--out", join(dir, "m"), "--allow-outside", "--epochs", "20")).code).toBe(0);
    const e = await attnc("evaluate", join(dir, "m"), "--baselines", "--season", "12", "--allow-outside");
    const model = num(/test RMSE ([0-9.]+)/, e.out);
    const seasonal = num(/seasonal naive \(12\)\s+RMSE ([0-9.]+)/, e.out);
    expect(model).toBeLessThan(seasonal);
    await libraryAnswersAsCli(join(dir, "m"));
  });

  it("weather: the feature-attention forecaster's loss falls, and from the linear forecast it starts at it beats the naive ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-weather-"));
    const r = await attnc("train", "examples/weather/weather.attn", "--out", join(dir, "m"), "--allow-outside", "--epochs", "4");
    expect(r.code, r.err).toBe(0);
    const h = history(join(dir, "m"));
    expect(h[h.length - 1]!.loss).toBeLessThan(h[0]!.loss);
    // predict residual: the output is added to the linear baseline, so four epochs end near it, far from persistence.
    const e = await attnc("evaluate", join(dir, "m"), "--allow-outside");
    const model = num(/test RMSE ([0-9.]+)/, e.out);
    expect(model).toBeLessThan(num(/persistence\s+RMSE ([0-9.]+)/, e.out));
    expect(model).toBeLessThan(num(/seasonal naive \(7\)\s+RMSE ([0-9.]+)/, e.out));
    expect(model).toBeLessThan(1.01 * num(/linear \(ridge, L2 [0-9.e-]+\)\s+RMSE ([0-9.]+)/, e.out));
    await libraryAnswersAsCli(join(dir, "m"));
  });

  it("hourly: with calendar features, two epochs of the default temporal attention beat persistence and the seasonal naive forecast", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-hourly-"));
    const r = await attnc("train", "examples/hourly/hourly.attn", "--out", join(dir, "m"), "--allow-outside", "--epochs", "2");
    expect(r.code, r.err).toBe(0);
    const e = await attnc("evaluate", join(dir, "m"), "--allow-outside");
    const model = num(/test RMSE ([0-9.]+)/, e.out);
    expect(model).toBeLessThan(num(/persistence\s+RMSE ([0-9.]+)/, e.out));
    expect(model).toBeLessThan(num(/seasonal naive \(24\)\s+RMSE ([0-9.]+)/, e.out));
    await libraryAnswersAsCli(join(dir, "m"));
  });

  it("adding: attention pooling learns to add the marked values (far better than predicting the mean)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-adding-"));
    execFileSync(process.execPath, ["examples/adding/prepare.mjs", "--sequences", "1500", "--length", "20", "--out", join(dir, "adding.csv")]);
    const r = await attnc("train", "test/fixtures/specs/adding_small.attn", "--data", join(dir, "adding.csv"), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code, r.err).toBe(0);
    // The mean predictor's RMSE is the targets' spread, about 0.2.
    expect(num(/test RMSE ([0-9.]+)/, r.out)).toBeLessThan(0.1);
    // A horizon-0 model directory loads, and no naive baseline reads the answer (the target of the window's own last step).
    expect(r.err).not.toContain("is worse than persistence");
    const e = await attnc("evaluate", join(dir, "m"), "--tolerance", "0.04", "--allow-outside");
    expect(e.code, e.err).toBe(0);
    expect(e.out).toContain("persistence and seasonal naive left out: with horizon 0");
    expect(e.out).toMatch(/^ {2}linear \(ridge, L2 [0-9.e-]+\) +RMSE /m);
    await libraryAnswersAsCli(join(dir, "m"));
  });
});
