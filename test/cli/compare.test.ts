import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { attncIn } from "../in-process.js";

// Two tiny specs (a forecaster and a text classifier, a few hundred weights each, one or two epochs) in a
// temporary working directory; each test runs `attnc compare` in process, whose runs are child processes of the
// built command line (bin/attnc.js).

const SERIES = `model Wave {
  input window: float[T = 4, F = 2]
  window -> lstm(units: 4) -> last -> dense(1)
}
data Wave {
  source: csv("wave.csv", time: "t", features: ["x", "y"], target: "y")
  window: 4, horizon 1
  scale: standard
  split: chronological train 0.7, validation 0.15, test 0.15
}
train Wave {
  loss: mse
  optimizer: adam(lr: 1e-2)
  batch: 16
  epochs: 2
  seed: 1
}
`;

const TEXT = `model Mood {
  input tokens: int[T]
  tokens -> embedding(vocab: 30, dim: 4, mask_zero: true) -> lstm(units: 4) -> last -> dense(2, activation: softmax)
}
data Mood {
  source: jsonl("mood.jsonl", text: "text", label: "label")
  tokenizer: words(lowercase: true, max_len: 6, vocab: 30)
  split: train 0.6, validation 0.2, test 0.2, seed 7
}
train Mood {
  loss: cross_entropy
  optimizer: adam(lr: 1e-2)
  batch: 8
  epochs: 1
}
`;

function writeData(dir: string): void {
  let csv = "t,x,y\n";
  for (let i = 0; i < 80; i++) csv += `${i},${Math.sin(i / 3).toFixed(4)},${Math.cos(i / 3).toFixed(4)}\n`;
  writeFileSync(join(dir, "wave.csv"), csv);
  const good = ["good fine nice", "nice day good", "fine good happy", "happy nice"];
  const bad = ["bad awful sad", "sad day bad", "awful bad grim", "grim sad"];
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    lines.push(JSON.stringify({ text: good[i % 4], label: "pos" }));
    lines.push(JSON.stringify({ text: bad[i % 4], label: "neg" }));
  }
  writeFileSync(join(dir, "mood.jsonl"), `${lines.join("\n")}\n`);
}

interface Stats {
  mean: number;
  sd: number | null;
  min: number;
  max: number;
  n: number;
}
interface Report {
  split: string;
  seeds: number[];
  results: {
    spec: string;
    model: string;
    task: string;
    runs: { seed: number; dir: string; reused: boolean; metrics: Record<string, number> }[];
    metrics: Record<string, Stats>;
    baselines?: Record<string, Record<string, number>>;
  }[];
  failures: { spec: string; model: string | null; seed: number | null; exitCode: number; message: string }[];
}

/** The modification times of every file under a directory. */
function mtimes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return out;
}

describe("attnc compare", () => {
  let cwd: string;
  let first: { code: number; out: string; err: string };

  beforeAll(async () => {
    cwd = realpathSync(mkdtempSync(join(tmpdir(), "attnc-compare-")));
    writeData(cwd);
    writeFileSync(join(cwd, "wave.attn"), SERIES);
    writeFileSync(join(cwd, "mood.attn"), TEXT);
    first = await attncIn(cwd, "compare", "wave.attn", "mood.attn", "--seeds", "2", "--jobs", "2", "--format", "json");
  }, 60_000);

  it("reports each metric's mean, sample sd, min and max over the seeds, equal to evaluate's numbers for each run", async () => {
    expect(first.code, first.err).toBe(0);
    const report = JSON.parse(first.out) as Report;
    expect(report.seeds).toEqual([1, 2]);
    expect(report.failures).toEqual([]);
    expect(report.results.map((r) => [r.spec, r.model, r.task])).toEqual([
      ["wave.attn", "Wave", "series"],
      ["mood.attn", "Mood", "text"],
    ]);
    for (const r of report.results) {
      expect(r.runs.map((x) => x.seed)).toEqual([1, 2]);
      const dirs = [1, 2].map((s) => `runs/compare/${r.spec.replace(".attn", "")}/${r.model}/seed-${s}`);
      expect(r.runs.map((x) => x.dir)).toEqual(dirs);
      // Each run's test metrics, read from its model directory here.
      const own = [];
      for (const d of dirs) {
        const e = await attncIn(cwd, "evaluate", d, "--format", "json", ...(r.task === "series" ? ["--baselines"] : []));
        expect(e.code, e.err).toBe(0);
        own.push(JSON.parse(e.out) as Record<string, unknown> & { loss: number; regression?: Record<string, number>; classification?: Record<string, number> });
      }
      const names = r.task === "series" ? ["rmse", "mae"] : ["accuracy", "macro_f1"];
      for (const name of ["loss", ...names]) {
        const v = own.map((o) => (name === "loss" ? o.loss : (o.regression ?? o.classification)![name]!));
        const mean = (v[0]! + v[1]!) / 2;
        const sd = Math.sqrt(((v[0]! - mean) ** 2 + (v[1]! - mean) ** 2) / 1);
        const s = r.metrics[name]!;
        expect(s.n, name).toBe(2);
        expect(s.mean, name).toBeCloseTo(mean, 12);
        expect(s.sd!, name).toBeCloseTo(sd, 12);
        expect(s.min, name).toBe(Math.min(...v));
        expect(s.max, name).toBe(Math.max(...v));
      }
      if (r.task === "series") {
        // The baselines, once per spec, as evaluate gives them.
        const b = own[0]!["baselines"] as Record<string, Record<string, number>>;
        expect(Object.keys(r.baselines ?? {})).toEqual(Object.keys(b));
        expect(r.baselines!["persistence"]!["rmse"]).toBe(b["persistence"]!["rmse"]);
      } else expect(r.baselines).toBeUndefined();
    }
    // One progress line per finished run: spec, model, seed, metric and wall time.
    const progress = first.err.split("\n").filter((l) => / seed \d+: /.test(l));
    expect(progress).toHaveLength(4);
    for (const l of progress) expect(l).toMatch(/^attnc: compare: (wave|mood)\.attn (Wave|Mood) seed [12]: (rmse|accuracy) \d+\.\d{4} \(trained, \d+\.\d s\)$/);
  });

  it("reuses finished runs on a rerun (nothing retrained or rewritten) and prints the text table", async () => {
    const before = mtimes(join(cwd, "runs"));
    const again = await attncIn(cwd, "compare", "wave.attn", "mood.attn", "--seeds", "2", "--jobs", "2");
    expect(again.code, again.err).toBe(0);
    expect(mtimes(join(cwd, "runs"))).toEqual(before);
    expect(again.err).toContain("attnc: compare: wave.attn Wave seed 1: rmse ");
    expect(again.err.match(/\(reused, /g)).toHaveLength(4);
    expect(again.err).not.toContain("(trained, ");
    const lines = again.out.split("\n");
    expect(lines[0]).toBe("test split, seeds 1-2");
    expect(lines).toContain("wave.attn  Wave  (2 of 2 runs, 2 reused)");
    expect(lines).toContain("mood.attn  Mood  (2 of 2 runs, 2 reused)");
    // Every baseline evaluate scored (persistence and the linear model here: no time column, so no season).
    expect(again.out).toMatch(/^metric +mean +sd +min +max +n +persistence +linear$/m);
    expect(again.out).toMatch(/^metric +mean +sd +min +max +n$/m);
    // The same numbers as the JSON, at four decimals.
    const report = JSON.parse(first.out) as Report;
    const rmse = report.results[0]!.metrics["rmse"]!;
    const persistence = report.results[0]!.baselines!["persistence"]!["rmse"]!;
    const linear = report.results[0]!.baselines!["linear"]!["rmse"]!;
    expect(again.out).toMatch(
      new RegExp(
        `^rmse +${rmse.mean.toFixed(4)} +${rmse.sd!.toFixed(4)} +${rmse.min.toFixed(4)} +${rmse.max.toFixed(4)} +2 +${persistence.toFixed(4)} +${linear.toFixed(4)}$`,
        "m",
      ),
    );
    const acc = report.results[1]!.metrics["accuracy"]!;
    expect(again.out).toMatch(new RegExp(`^accuracy +${acc.mean.toFixed(4)} +${acc.sd!.toFixed(4)} +${acc.min.toFixed(4)} +${acc.max.toFixed(4)} +2$`, "m"));
  }, 60_000);

  it("reports a spec with an error and a run with a data error, exits 1, and still prints the other spec's results", async () => {
    writeFileSync(join(cwd, "broken.attn"), SERIES.replace("lstm(units: 4)", "lstm(unit: 4)"));
    // Compiles, but its data file lacks the target column: each of its runs fails in train.
    writeFileSync(join(cwd, "nodata.attn"), SERIES.replace('target: "y"', 'target: "z"').replace(/Wave/g, "Dry"));
    const r = await attncIn(cwd, "compare", "broken.attn", "wave.attn", "nodata.attn", "--seeds", "1", "--jobs", "2", "--format", "json");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^attnc: compare: broken\.attn failed \(exit 1\): broken\.attn:3:\d+ - error ATN\d+: .*unit/m);
    expect(r.err).toMatch(/^attnc: compare: nodata\.attn Dry seed 1 failed \(exit 1\): .*wave\.csv.*z/m);
    expect(r.err).not.toMatch(/\n\s+at .+:\d+:\d+/);
    const report = JSON.parse(r.out) as Report;
    expect(report.results.map((x) => x.spec)).toEqual(["wave.attn"]);
    expect(report.results[0]!.metrics["rmse"]!.n).toBe(1);
    expect(report.failures.map((f) => [f.spec, f.model, f.seed, f.exitCode])).toEqual([
      ["broken.attn", null, null, 1],
      ["nodata.attn", "Dry", 1, 1],
    ]);
    expect(existsSync(join(cwd, "runs/compare/broken"))).toBe(false);
  }, 60_000);

  it("refuses an output directory or a data file outside the working directory, writing nothing", async () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), "attnc-compare-outside-")));
    const r = await attncIn(cwd, "compare", "wave.attn", "--seeds", "1", "--out", join(outside, "runs"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^attnc: the output directory .* is outside the working directory .*; pass --allow-outside to use it\n$/);
    expect(readdirSync(outside)).toEqual([]);
    // A spec whose data lies outside: refused before any run starts.
    writeFileSync(join(outside, "wave.csv"), "t,x,y\n");
    mkdirSync(join(cwd, "far"), { recursive: true });
    writeFileSync(join(cwd, "far", "far.attn"), SERIES.replace('"wave.csv"', JSON.stringify(join(outside, "wave.csv"))));
    const d = await attncIn(cwd, "compare", "far/far.attn", "--seeds", "1");
    expect(d.code).toBe(1);
    expect(d.err).toMatch(/^attnc: compare: far\/far\.attn Wave failed \(exit 2\): the data file .* is outside the working directory/m);
    expect(existsSync(join(cwd, "runs/compare/far"))).toBe(false);
    // A link planted where a run's model directory goes, leading outside: that run is refused, nothing written there.
    const target = realpathSync(mkdtempSync(join(tmpdir(), "attnc-compare-link-")));
    mkdirSync(join(cwd, "links/wave/Wave"), { recursive: true });
    symlinkSync(target, join(cwd, "links/wave/Wave/seed-1"), "dir");
    const l = await attncIn(cwd, "compare", "wave.attn", "--seeds", "1", "--out", "links");
    expect(l.code).toBe(1);
    expect(l.err).toMatch(
      /^attnc: compare: wave\.attn Wave seed 1 failed \(exit 2\): the output directory links\/wave\/Wave\/seed-1 is outside the working directory/m,
    );
    expect(readdirSync(target)).toEqual([]);
  });

  it("refuses bad options and specs that would share directories (exit 2)", async () => {
    mkdirSync(join(cwd, "other"), { recursive: true });
    writeFileSync(join(cwd, "other", "wave.attn"), SERIES);
    const cases: [string[], RegExp][] = [
      [["--seeds", "0"], /--seeds must be a whole number from 1/],
      [["--jobs", "x"], /--jobs must be a whole number/],
      [["--epochs", "1.5"], /--epochs must be a whole number/],
      [["other/wave.attn"], /wave\.attn and other\/wave\.attn would share runs\/compare\/wave/],
      // A spec whose name without the extension is ".." would file its runs outside --out.
      [["...attn"], /\.\.\.attn: compare files a spec's runs under its name without the extension, which must not be "\.\."/],
      [["--out", ""], /--out needs a path, not an empty string/],
    ];
    writeFileSync(join(cwd, "...attn"), SERIES);
    for (const [args, message] of cases) {
      const r = await attncIn(cwd, "compare", "wave.attn", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(message);
    }
  });
});

describe("attnc compare, interrupted", () => {
  it("passes Ctrl-C (SIGINT) on to its runs, which save a checkpoint and stop, and exits 130", async () => {
    const cwd = realpathSync(mkdtempSync(join(tmpdir(), "attnc-compare-int-")));
    writeData(cwd);
    writeFileSync(join(cwd, "wave.attn"), SERIES.replace("epochs: 2", "epochs: 100000"));
    const child = spawn(process.execPath, [resolve("bin/attnc.js"), "compare", "wave.attn", "--seeds", "2", "--jobs", "2"], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    const manifests = [1, 2].map((s) => join(cwd, `runs/compare/wave/Wave/seed-${s}/manifest.json`));
    // Once both runs have written their first checkpoint, they are training.
    const deadline = Date.now() + 30_000;
    while (!manifests.every((m) => existsSync(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(
      manifests.every((m) => existsSync(m)),
      err,
    ).toBe(true);
    child.kill("SIGINT");
    expect(await exited, err).toBe(130);
    expect(err).toContain("attnc: compare: interrupted; finished runs and checkpoints are kept");
    expect(err).not.toMatch(/ seed \d+: rmse /);
    // The runs stopped with their parent: their checkpoints stay as they are.
    const after = manifests.map((m) => statSync(m).mtimeMs);
    await new Promise((r) => setTimeout(r, 1500));
    expect(manifests.map((m) => statSync(m).mtimeMs)).toEqual(after);
  }, 60_000);
});
