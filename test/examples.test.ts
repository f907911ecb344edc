import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { attnc } from "./in-process.js";

/** Small versions of the examples: each trains in seconds and must learn. */
const num = (re: RegExp, s: string) => Number(re.exec(s)![1]);
const history = (dir: string) => JSON.parse(readFileSync(join(dir, "history.json"), "utf8")) as { loss: number }[];

describe("small versions of the examples learn", () => {
  it("spam: a sample of the SpamAssassin corpus is classified far above chance", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-spam-"));
    execFileSync(process.execPath, ["examples/spam/prepare.mjs", "--out", join(dir, "spam.jsonl"), "--per-class", "250"]);
    const r = await attnc("train", "test/fixtures/specs/spam_small.attn", "--data", join(dir, "spam.jsonl"), "--out", join(dir, "m"), "--allow-outside");
    expect(r.code, r.err).toBe(0);
    const h = history(join(dir, "m"));
    expect(h[h.length - 1]!.loss).toBeLessThan(h[0]!.loss);
    expect(num(/test accuracy ([0-9.]+)/, r.out)).toBeGreaterThan(0.8);
  });

  it("co2: the temporal-attention forecaster beats the seasonal naive forecast", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-co2-"));
    expect((await attnc("train", "examples/co2/co2.attn", "--out", join(dir, "m"), "--allow-outside", "--epochs", "20")).code).toBe(0);
    const e = await attnc("evaluate", join(dir, "m"), "--baselines", "--season", "12", "--allow-outside");
    const model = num(/test RMSE ([0-9.]+)/, e.out);
    const seasonal = num(/seasonal naive \(12\)\s+RMSE ([0-9.]+)/, e.out);
    expect(model).toBeLessThan(seasonal);
  });

  it("weather: the feature-attention forecaster's loss falls and it beats the training mean", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-weather-"));
    const r = await attnc("train", "examples/weather/weather.attn", "--out", join(dir, "m"), "--allow-outside", "--epochs", "4");
    expect(r.code, r.err).toBe(0);
    const h = history(join(dir, "m"));
    expect(h[h.length - 1]!.loss).toBeLessThan(h[0]!.loss);
    // Scaled change targets: predicting their training mean gives a loss near 1.
    expect(num(/test loss ([0-9.]+)/, r.out)).toBeLessThan(1);
  });

  it("hourly: with calendar features, two epochs of the default temporal attention beat persistence and the seasonal naive forecast", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-hourly-"));
    const r = await attnc("train", "examples/hourly/hourly.attn", "--out", join(dir, "m"), "--allow-outside", "--epochs", "2");
    expect(r.code, r.err).toBe(0);
    const e = await attnc("evaluate", join(dir, "m"), "--allow-outside");
    const model = num(/test RMSE ([0-9.]+)/, e.out);
    expect(model).toBeLessThan(num(/persistence\s+RMSE ([0-9.]+)/, e.out));
    expect(model).toBeLessThan(num(/seasonal naive \(24\)\s+RMSE ([0-9.]+)/, e.out));
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
  });
});
