/**
 * Extreme but valid series: a column constant over the training rows, values far outside the training rows'
 * spread, values near the float32 limit without scaling. `train` and `evaluate` either compute finite metrics or
 * refuse the data with its file, line and column (exit 1); never Infinity or NaN with exit 0, and never a model
 * directory that attnc itself then calls damaged.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { attncIn } from "../in-process.js";

const work = mkdtempSync(join(tmpdir(), "attnc-extreme-"));
const run = (...args: string[]) => attncIn(work, ...args);

/** 200 hourly rows of columns a, b, c; `a(i)` gives column a. */
function series(name: string, a: (i: number) => number): void {
  const lines = ["time,a,b,c"];
  for (let i = 0; i < 200; i++) lines.push(`${new Date(Date.UTC(2024, 0, 1, i)).toISOString().slice(0, 16)},${a(i)},${Math.sin(i / 4)},${i % 3}`);
  writeFileSync(join(work, name), `${lines.join("\n")}\n`);
}

function spec(name: string, data: string, predict: string, scale = "standard"): string {
  writeFileSync(
    join(work, name),
    `model M {
  input w: float[T = 4, F]
  w -> lstm(units: 4) -> last -> dense(1)
}
data M {
  source: csv("${data}", time: "time", features: ["a", "b", "c"], target: "a")
  window: 4, horizon 1, predict ${predict}
  scale: ${scale}
  split: chronological train 0.6, validation 0.2, test 0.2
}
train M {
  loss: mse
  batch: 16
  epochs: 2
  seed: 1
  metrics: [rmse, mae]
}
`,
  );
  return name;
}

const numbersIn = (s: string) => s.match(/(?:loss|RMSE|MAE|val_\w+)\s+(\S+)/g) ?? [];

describe("extreme but valid series", () => {
  it("a column constant over the training rows scales by 1, not by rounding noise, so later values stay near", async () => {
    // 0.1 is not exact in binary: mean(x^2) - mean^2 leaves about 7e-9 of noise, which once scaled the jump to 0.2 by 1.4e7.
    series("step.csv", (i) => (i < 150 ? 0.1 : 0.2));
    const r = await run("train", spec("step.attn", "step.csv", "value"), "--out", "step", "--backend", "wasm");
    expect(r.code, r.err).toBe(0);
    const prep = (JSON.parse(readFileSync(join(work, "step", "attnc.json"), "utf8")) as { prep: { scale: number[]; targetScale: number } }).prep;
    expect(prep.scale[0]).toBe(1);
    expect(prep.targetScale).toBe(1);
    const loss = Number(/test loss (\S+)/.exec(r.out)![1]);
    expect(loss).toBeLessThan(1);
    for (const n of numbersIn(r.out + r.err)) expect(n).not.toMatch(/Infinity|NaN/);
  });

  for (const predict of ["value", "delta"]) {
    it(`a value 1e25 after training rows near 1 is refused where it is (predict ${predict}), not printed as val_loss Infinity`, async () => {
      series("jump.csv", (i) => (i < 150 ? Math.sin(i / 3) : 1e25));
      const out = `jump-${predict}`;
      const r = await run("train", spec(`jump-${predict}.attn`, "jump.csv", predict), "--out", out, "--backend", "wasm");
      expect(r.code, r.out).toBe(1);
      expect(r.err).toMatch(
        /attnc: jump\.csv:152 \(column "a"\): scaled by the training rows' statistics, this value is 1\.41e\+25, beyond ±1e15 \(its squared error would overflow the float32 loss\)/,
      );
      expect(r.out + r.err).not.toMatch(/Infinity|NaN/);
      expect(existsSync(join(work, out, "manifest.json"))).toBe(false);
    });
  }

  it("unscaled values near 1e20 are refused at their row, not reported as a learning rate problem", async () => {
    series("big.csv", (i) => 1e20 * Math.sin(i / 5));
    const r = await run("train", spec("big.attn", "big.csv", "value", "none"), "--out", "big", "--backend", "wasm");
    expect(r.code, r.out).toBe(1);
    expect(r.err).toMatch(/attnc: big\.csv:3 \(column "a"\): scaled by the training rows' statistics, this value is 1\.99e\+19, beyond ±1e15/);
    expect(r.err).not.toMatch(/learning rate|Infinity/);
  });

  it("values near the float32 limit, scaled, give finite metrics in train and evaluate", async () => {
    series("huge.csv", (i) => 3e38 * Math.sin(i / 5));
    const r = await run("train", spec("huge.attn", "huge.csv", "delta", "minmax"), "--out", "huge", "--backend", "wasm");
    expect(r.code, r.err).toBe(0);
    const e = await run("evaluate", "huge", "--backend", "wasm");
    expect(e.code, e.err).toBe(0);
    for (const text of [r.out + r.err, e.out + e.err]) {
      expect(numbersIn(text).length).toBeGreaterThan(2);
      expect(text).not.toMatch(/Infinity|NaN/);
    }
  });
});
