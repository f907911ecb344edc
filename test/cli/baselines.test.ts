import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { run as attncRun } from "../../src/cli/main.js";
import { attncIn } from "../in-process.js";

/**
 * Baselines in `train` and `evaluate`, on tiny series written here: a model that learns its series well (the target
 * is the square of the previous step's input, which neither persistence nor a linear model can follow) and one
 * trained a single epoch on a trend (which both beat).
 */
const dir = mkdtempSync(join(tmpdir(), "attnc-baselines-cli-"));
const run = (...args: string[]) => attncIn(dir, ...args);

function squares(): string {
  let seed = 1;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648) * 2 - 1;
  };
  // Every 40th input is 0, so every split has targets of exactly 0: MAPE means nothing there.
  const xs = Array.from({ length: 600 }, (_, i) => (i % 40 === 0 ? 0 : Number(rand().toFixed(4))));
  return `t,x,y\n${xs.map((x, i) => `${i},${x},${i > 0 ? (xs[i - 1]! * xs[i - 1]!).toFixed(8) : 0}`).join("\n")}\n`;
}

function trend(): string {
  return `day,y\n${Array.from({ length: 300 }, (_, i) => `${new Date(Date.UTC(2020, 0, 1 + i)).toISOString().slice(0, 10)},${(10 + 0.5 * i + Math.sin(i)).toFixed(4)}`).join("\n")}\n`;
}

const GOOD = `model Good {
  input window: float[T = 2, F = 1]
  window -> lstm(units: 8) as enc -> last -> dense(1) as y
}
data Good {
  source: csv("squares.csv", features: ["x"], target: "y")
  window: 2, horizon 1
  scale: standard
  split: chronological train 0.7, validation 0.15, test 0.15
}
train Good {
  loss: mse
  optimizer: adam(lr: 3e-2)
  batch: 32
  epochs: 8
  metrics: [rmse, mae, mape]
  seed: 1
}
`;

const trendSpec = (window: string) => `model Trend {
  input window: float[T = 4, F = 1]
  window -> lstm(units: 4) as enc -> last -> dense(1) as y
}
data Trend {
  source: csv("trend.csv", time: "day", features: ["y"], target: "y")
  ${window}
  scale: standard
  split: chronological train 0.7, validation 0.15, test 0.15
}
train Trend {
  loss: mse
  optimizer: adam(lr: 1e-3)
  batch: 32
  epochs: 1
  metrics: [rmse]
  seed: 1
}
`;

type EvalJson = {
  split: string;
  regression: { rmse: number; mape?: number; count: number };
  baselines: Record<string, { rmse: number; mae: number; mape?: number; count: number; season?: number; lambda?: number }>;
  season: { period: number | null; source: string; step?: string };
  baseline_notes: string[];
  worse_than: string[];
};

beforeAll(() => {
  writeFileSync(join(dir, "squares.csv"), squares());
  writeFileSync(join(dir, "trend.csv"), trend());
  writeFileSync(join(dir, "good.attn"), GOOD);
  // The level of a trending series (predict value): worse than persistence.
  writeFileSync(join(dir, "trend.attn"), trendSpec("window: 4, horizon 1, predict value"));
  writeFileSync(join(dir, "season.attn"), trendSpec("window: 4, horizon 1, season 5"));
});

describe("a forecaster that beats its baselines", () => {
  let train: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    train = await run("train", "good.attn", "--out", "good", "--threads", "1");
  });

  it("trains without a baseline warning; MAPE is n/a where targets are 0", () => {
    expect(train.code, train.err).toBe(0);
    expect(train.err).not.toContain("warning");
    expect(train.out).toContain("test RMSE");
    expect(train.out).toContain("MAPE n/a (target near zero)");
    // No val_mape in the history when it means nothing.
    const history = JSON.parse(readFileSync(join(dir, "good/history.json"), "utf8")) as Record<string, number>[];
    expect(history[0]).toHaveProperty("val_rmse");
    expect(history[0]).not.toHaveProperty("val_mape");
  });

  it("early stopping on val_mape, which is n/a here, stops the run with exit 1 and says what to watch", async () => {
    writeFileSync(join(dir, "mape.attn"), GOOD.replace("epochs: 8", "epochs: 2\n  early_stop: val_mape, patience 1"));
    const r = await run("train", "mape.attn", "--out", "mape", "--threads", "1");
    expect(r.code).toBe(1);
    expect(r.err).toContain("early stopping watches val_mape, but MAPE is not defined on the validation split");
    expect(r.err).toContain("watch val_rmse, val_mae or val_loss instead");
    expect(r.err).not.toContain("internal error");
  });

  it("evaluate on a file too short for the model's test split says so (exit 1), instead of scoring no windows as perfect", async () => {
    const rows = readFileSync(join(dir, "squares.csv"), "utf8").split("\n");
    writeFileSync(join(dir, "short.csv"), `${rows.slice(0, 6).join("\n")}\n`);
    const r = await run("evaluate", "good", "--data", "short.csv");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/short\.csv: the test split has no windows to score \(the model's splits were cut for \d+ rows\)/);
    expect(r.out).not.toContain("beats every baseline");
  });

  it("evaluate prints the baselines without --baselines, in text and JSON, and the model beats them", async () => {
    const text = await run("evaluate", "good");
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/baselines on the same (\d+) test windows; no season: the data has no time column:/);
    expect(text.out).toMatch(/\n {2}persistence +RMSE [0-9.]+ {2}MAE [0-9.]+ {2}MAPE n\/a \(target near zero\)\n/);
    expect(text.out).toMatch(/\n {2}linear \(ridge, L2 [0-9.e+-]+\) +RMSE [0-9.]+/);
    expect(text.out).toContain("(seasonal naive left out: no season");
    expect(text.out).toContain("the model beats every baseline on test RMSE");
    expect(text.out).not.toContain("better than the model");
    // --baselines is accepted and changes nothing.
    expect((await run("evaluate", "good", "--baselines")).out).toBe(text.out);

    const json = await run("evaluate", "good", "--format", "json");
    expect(json.code, json.err).toBe(0);
    const j = JSON.parse(json.out) as EvalJson;
    expect(Object.keys(j.baselines).sort()).toEqual(["linear", "persistence"]);
    expect(j.baselines["persistence"]!.count).toBe(j.regression.count);
    expect(j.baselines["linear"]!.count).toBe(j.regression.count);
    expect(j.regression).not.toHaveProperty("mape");
    expect(j.baselines["persistence"]).not.toHaveProperty("mape");
    expect(j.regression.rmse).toBeLessThan(Math.min(j.baselines["persistence"]!.rmse, j.baselines["linear"]!.rmse));
    expect(j.worse_than).toEqual([]);
    expect(j.season).toEqual({ period: null, source: "time", step: "none" });
    expect(j.baseline_notes.join(" ")).toContain("seasonal naive left out");
  });
});

describe("a forecaster worse than its baselines", () => {
  let train: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    train = await run("train", "trend.attn", "--out", "trend", "--threads", "1");
  });

  it("train ends with a warning naming the better baselines and what to try", () => {
    expect(train.code, train.err).toBe(0);
    const line = train.err.split("\n").find((l) => l.includes("warning:"));
    expect(line).toMatch(
      /^attnc: warning: validation RMSE [0-9.]+ is worse than .*persistence \([0-9.]+\).*; try predict delta, predict residual, more epochs/,
    );
    // After the test metrics: the warning is the run's last word.
    expect(train.err.trimEnd().endsWith(line!)).toBe(true);
  });

  it("evaluate marks the baselines that beat it, and records the season from the daily time column", async () => {
    const text = await run("evaluate", "trend");
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain("season 7 from the daily time steps");
    expect(text.out).toMatch(/\n {2}persistence +RMSE [0-9.]+ .*<- better than the model\n/);
    expect(text.out).toMatch(/\n {2}seasonal naive \(7\) +RMSE /);
    expect(text.out).toMatch(/the model is worse than a baseline: test RMSE [0-9.]+ against .*persistence [0-9.]+/);
    const j = JSON.parse((await run("evaluate", "trend", "--format", "json", "--split", "validation")).out) as EvalJson;
    expect(j.split).toBe("validation");
    expect(j.worse_than).toContain("persistence");
    expect(j.baselines["seasonal_naive"]!.season).toBe(7);
    expect(j.regression.rmse).toBeGreaterThan(j.baselines["persistence"]!.rmse);
    const meta = JSON.parse(readFileSync(join(dir, "trend/attnc.json"), "utf8")) as { prep: { season: unknown } };
    expect(meta.prep.season).toEqual({ period: 7, source: "time", step: "daily" });
    // --season when the spec gives none.
    const opt = JSON.parse((await run("evaluate", "trend", "--format", "json", "--season", "3")).out) as EvalJson;
    expect(opt.season).toEqual({ period: 3, source: "option" });
    expect(opt.baselines["seasonal_naive"]!.season).toBe(3);
  });

  it("--season: a season longer than the series is left out with a note; a bad value is a usage error (exit 2)", async () => {
    const long = JSON.parse((await run("evaluate", "trend", "--format", "json", "--season", "300")).out) as EvalJson;
    expect(Object.keys(long.baselines).sort()).toEqual(["linear", "persistence"]);
    expect(long.baseline_notes).toContain("seasonal naive left out: its season (300) is as long as the series (300 rows) or longer");
    for (const bad of ["0", "1.5", "x", "1000001"]) {
      const r = await run("evaluate", "trend", "--season", bad);
      expect(r.code, bad).toBe(2);
      expect(r.err).toMatch(/^attnc: --season must be /m);
      expect(r.out).toBe("");
    }
  });

  it("a model directory written before seasons were recorded still loads, and its season is found again", async () => {
    const path = join(dir, "trend/attnc.json");
    const meta = JSON.parse(readFileSync(path, "utf8")) as { prep: Record<string, unknown> };
    delete meta.prep["season"];
    writeFileSync(path, JSON.stringify(meta));
    const r = await run("evaluate", "trend", "--format", "json");
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as EvalJson).season).toEqual({ period: 7, source: "time", step: "daily" });
  });
});

describe("the progress line", () => {
  it("shows the training RMSE in the data's units, as the validation metrics beside it", async () => {
    const err: string[] = [];
    const quiet = { write: () => true };
    const code = await attncRun(["train", "trend.attn", "--out", "tty", "--threads", "1"], {
      cwd: dir,
      env: {},
      stdout: quiet,
      stderr: { write: (s: string) => err.push(s), isTTY: true },
    });
    expect(code).toBe(0);
    const last = err.filter((s) => s.includes("samples/s ETA")).pop()!;
    const [, loss, rmse] = /loss ([0-9.]+) rmse ([0-9.]+)/.exec(last)!;
    // With an mse loss the epoch's loss is the mean squared scaled error, so rmse = sqrt(loss) * targetScale.
    const meta = JSON.parse(readFileSync(join(dir, "tty/attnc.json"), "utf8")) as { prep: { targetScale: number } };
    expect(meta.prep.targetScale).toBeGreaterThan(10);
    expect(Number(rmse)).toBeCloseTo(Math.sqrt(Number(loss)) * meta.prep.targetScale, 1);
  });
});

describe("the season in the spec", () => {
  it("is recorded at training and wins over --season, which is then named as unused", async () => {
    const t = await run("train", "season.attn", "--out", "season", "--threads", "1");
    expect(t.code, t.err).toBe(0);
    const meta = JSON.parse(readFileSync(join(dir, "season/attnc.json"), "utf8")) as { prep: { season: unknown }; data: { window: { season: number } } };
    expect(meta.prep.season).toEqual({ period: 5, source: "spec" });
    expect(meta.data.window.season).toBe(5);
    const r = await run("evaluate", "season", "--format", "json", "--season", "3");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("the spec gives season 5; --season 3 is not used");
    const j = JSON.parse(r.out) as EvalJson;
    expect(j.season).toEqual({ period: 5, source: "spec" });
    expect(j.baselines["seasonal_naive"]!.season).toBe(5);
  });

  it("a bad season is a located spec error (exit 1), and nothing is written", async () => {
    writeFileSync(join(dir, "bad-season.attn"), trendSpec("window: 4, horizon 1, season 0"));
    const r = await run("train", "bad-season.attn", "--out", "bad");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad-season\.attn:7:\d+ - error ATN\d+: .*season/);
    expect(existsSync(join(dir, "bad"))).toBe(false);
    expect(readdirSync(dir)).not.toContain("bad");
  });
});
