/**
 * Generated PyTorch programs train and write model directories attnc reads: `attnc evaluate`, `predict` and `explain`
 * succeed on them and they pass attnc's model-directory validation; --resume continues a run, --init starts from
 * another directory's weights; bad input is one line and an exit code; and a 2-process DistributedDataParallel run
 * (torchrun on loopback, gloo) equals a 1-process run of the same global batch after 20 steps.
 */
import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { validateModelDir } from "../../src/modeldir/validate.js";
import { attncIn } from "../in-process.js";
import { python, runPython, runPythonAsync } from "./python.js";

const TEXT = `model Tiny {
  input tokens: int[T]

  tokens
    -> embedding(vocab: 400, dim: 8, mask_zero: true)
    -> dropout(0.2)
    -> bilstm(units: 6)
    -> attention_pool(units: 5) as attn
    -> dropout(0.3)
    -> dense(2, activation: softmax) as label
}

data Tiny {
  source: csv("reviews.csv", text: "review", label: "sentiment")
  tokenizer: words(lowercase: true, max_len: 24, vocab: 400)
  split: train 0.8, validation 0.1, test 0.1, seed 42
}

train Tiny {
  loss: cross_entropy
  optimizer: adam(lr: 1e-2, clipnorm: 1.0)
  batch: 7
  epochs: 2
  early_stop: val_accuracy, patience 3
  metrics: [accuracy, macro_f1]
}

model Wave {
  input w: float[T = 8, F]

  w
    -> lstm(units: 6, input_attention: temporal(units: 4)) as enc
    -> last
    -> dense(1) as next
}

data Wave {
  source: csv("co2.csv", time: "Date", features: ["CO2"], target: "CO2")
  calendar: [month]
  window: 8, horizon 1
  split: chronological train 0.8, validation 0.1, test 0.1
}

train Wave {
  loss: huber
  optimizer: rmsprop(lr: 1e-2)
  batch: 16
  epochs: 1
  metrics: [rmse, mae]
}

model Multi {
  input w: float[T = 6, F]

  w -> lstm(units: 5) -> last -> dense(6) as steps
}

data Multi {
  source: csv("co2.csv", time: "Date", features: ["CO2", "CO2_change"], target: ["CO2", "CO2_change"])
  window: 6, horizon 3, steps all
  split: chronological train 0.8, validation 0.1, test 0.1
}

train Multi {
  loss: mse
  batch: 16
  epochs: 1
  metrics: [rmse]
}
`;

let dir = "";

function program(model: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return runPython([join(dir, "gen", `${model}.py`), ...args], { cwd: dir, env });
}

function weights(run: string): Float32Array {
  const m = JSON.parse(readFileSync(join(dir, run, "manifest.json"), "utf8")) as { weights: string };
  const b = readFileSync(join(dir, run, m.weights));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "attnc-pt-train-"));
  copyFileSync("specs/data/reviews.csv", join(dir, "reviews.csv"));
  copyFileSync("specs/data/co2.csv", join(dir, "co2.csv"));
  writeFileSync(join(dir, "tiny.attn"), TEXT);
  const r = await attncIn(dir, "build", "tiny.attn", "--target", "pytorch", "--out", "gen");
  expect(r.code, r.err).toBe(0);
  python();
});

describe("a generated PyTorch program", () => {
  it("trains a classifier into a model directory that attnc validates, evaluates, predicts from and explains", async () => {
    const r = program("Tiny", ["--out", "tiny", "--epochs", "1", "--max-steps", "6"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/epoch 1\/1 .*val_accuracy/);
    await validateModelDir(join(dir, "tiny"));
    const meta = JSON.parse(readFileSync(join(dir, "tiny/attnc.json"), "utf8")) as { prep: { vocab: string[]; labels: string[] } };
    expect(meta.prep.labels).toEqual(["neg", "pos"]);
    const ev = await attncIn(dir, "evaluate", "tiny");
    expect(ev.code, ev.err).toBe(0);
    expect(ev.out).toMatch(/test accuracy \d\.\d{4}/);
    writeFileSync(join(dir, "req.jsonl"), `${JSON.stringify({ text: "a wonderful, moving film" })}\n`);
    const pr = await attncIn(dir, "predict", "tiny", "--input", "req.jsonl");
    expect(pr.code, pr.err).toBe(0);
    expect(JSON.parse(pr.out.trim().split("\n")[0]!)).toHaveProperty("label");
    const ex = await attncIn(dir, "explain", "tiny", "--input", "req.jsonl", "--out", "explained");
    expect(ex.code, ex.err).toBe(0);
    expect(Object.keys((JSON.parse(ex.out.trim().split("\n")[0]!) as { attention: object }).attention)).toEqual(["attn"]);
    expect(readdirSync(join(dir, "tiny")).sort()).toEqual(
      ["attnc.json", "history.json", "manifest.json", "model.json", "optimizer.g2.bin", "optimizer.g2.json", "state.g2.json", "weights.g2.bin"].sort(),
    );
  });

  it("--resume continues the run; --init starts from another directory's weights", () => {
    const r = program("Tiny", ["--out", "tiny", "--epochs", "2", "--max-steps", "3", "--resume"]);
    expect(r.status, r.stderr).toBe(0);
    const state = JSON.parse(readFileSync(join(dir, "tiny/state.g4.json"), "utf8")) as { epoch: number; history: unknown[]; done: boolean };
    expect(state.epoch).toBe(2);
    expect(state.history).toHaveLength(2);
    expect(state.done).toBe(true);
    const init = program("Tiny", ["--out", "tiny-init", "--epochs", "0", "--init", "tiny"]);
    expect(init.status, init.stderr).toBe(0);
    expect(weights("tiny-init")).toEqual(weights("tiny"));
  });

  it("trains a forecaster that attnc evaluates", async () => {
    const r = program("Wave", ["--out", "wave", "--max-steps", "4"]);
    expect(r.status, r.stderr).toBe(0);
    await validateModelDir(join(dir, "wave"));
    const ev = await attncIn(dir, "evaluate", "wave");
    expect(ev.code, ev.err).toBe(0);
    expect(ev.out).toMatch(/test RMSE/);
    // MAPE as attnc prints it: percent with two decimals, or n/a.
    expect(r.stdout).toMatch(/^test .*  (MAPE \d+\.\d{2}%|MAPE n\/a \(target near zero\))$/m);
    expect(r.stdout).not.toMatch(/mape \d/);
  });

  it("trains a forecaster of every step of two targets whose loss and RMSE attnc's evaluate gives too", async () => {
    const r = program("Multi", ["--out", "multi", "--max-steps", "6"]);
    expect(r.status, r.stderr).toBe(0);
    await validateModelDir(join(dir, "multi"));
    const ev = await attncIn(dir, "evaluate", "multi", "--format", "json");
    expect(ev.code, ev.err).toBe(0);
    const report = JSON.parse(ev.out) as { loss: number; regression: { rmse: number; outputs: unknown[] } };
    expect(report.regression.outputs).toHaveLength(6);
    // The program's test line: the mean loss over every output and the RMSE over every output, as attnc's.
    const m = /^test {2}loss (\d+\.\d{4}) {2}rmse (\d+\.\d{4})/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Math.abs(Number(m![1]) - report.loss)).toBeLessThan(2e-4 + 1e-4 * report.loss);
    expect(Math.abs(Number(m![2]) - report.regression.rmse)).toBeLessThan(2e-4 + 1e-4 * report.regression.rmse);
  });

  it("reports bad input in one line with an exit code, and writes nothing", async () => {
    writeFileSync(join(dir, "broken.csv"), 'review,sentiment\n"open quote,pos\n');
    mkdirSync(join(dir, "mine"));
    writeFileSync(join(dir, "mine/notes.txt"), "keep");
    const run = (args: string[]) => runPythonAsync([join(dir, "gen", "Tiny.py"), ...args], { cwd: dir });
    const [missing, broken, foreign] = await Promise.all([
      run(["--data", "nope.csv", "--out", "bad1"]),
      run(["--data", "broken.csv", "--out", "bad2"]),
      run(["--out", "mine"]),
    ]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^error: cannot read nope\.csv: .+\n$/);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/^error: broken\.csv:2: field 1: a quoted field is never closed\n$/);
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toMatch(/refusing to write into mine: it holds notes\.txt/);
    expect(readdirSync(join(dir, "mine"))).toEqual(["notes.txt"]);
    expect(existsSync(join(dir, "bad1")) || existsSync(join(dir, "bad2"))).toBe(false);
  });

  it("refuses a pipe or device as data, paths outside the working directory, and damaged --init/--resume directories", async () => {
    const away = mkdtempSync(join(tmpdir(), "attnc-pt-away-"));
    try {
      execFileSync("mkfifo", [join(dir, "fifo.csv")]);
      copyFileSync(join(dir, "reviews.csv"), join(away, "reviews.csv"));
      symlinkSync(join(away, "reviews.csv"), join(dir, "leaving.csv"));
      // A model directory whose weights file is a symbolic link leading outside it; one whose weights file is
      // longer than its manifest needs; one whose state file leaves it (read by --resume).
      const m = JSON.parse(readFileSync(join(dir, "tiny/manifest.json"), "utf8")) as { weights: string; state: string };
      for (const d of ["evil", "long", "evil-resume"]) cpSync(join(dir, "tiny"), join(dir, d), { recursive: true });
      copyFileSync(join(dir, "tiny", m.weights), join(away, m.weights));
      rmSync(join(dir, "evil", m.weights));
      symlinkSync(join(away, m.weights), join(dir, "evil", m.weights));
      appendFileSync(join(dir, "long", m.weights), Buffer.alloc(4));
      copyFileSync(join(dir, "tiny", m.state), join(away, m.state));
      rmSync(join(dir, "evil-resume", m.state));
      symlinkSync(join(away, m.state), join(dir, "evil-resume", m.state));
      const run = (args: string[]) => runPythonAsync([join(dir, "gen", "Tiny.py"), ...args], { cwd: dir, timeout: 60_000 });
      const [fifo, device, zero, leaving, outside, initOutside, evil, long, resume] = await Promise.all([
        run(["--data", "fifo.csv", "--out", "r-fifo"]),
        run(["--data", "/dev/zero", "--out", "r-dev", "--allow-outside"]),
        run(["--data", "/dev/zero", "--out", "r-zero"]),
        run(["--data", "leaving.csv", "--out", "r-leave"]),
        run(["--out", join(away, "elsewhere")]),
        run(["--out", "r-init", "--init", away]),
        run(["--out", "r-evil", "--epochs", "0", "--init", "evil"]),
        run(["--out", "r-long", "--epochs", "0", "--init", "long"]),
        run(["--out", "evil-resume", "--epochs", "3", "--resume"]),
      ]);
      const outsideLine = (what: string, shown: string) =>
        new RegExp(`^error: ${what} ${shown} is outside the working directory \\(it resolves to .+\\); pass --allow-outside to use it\n$`);
      expect([fifo.status, fifo.stderr]).toEqual([1, "error: fifo.csv: is a pipe (FIFO); a data file is read more than once, so it must be a regular file\n"]);
      expect([device.status, device.stderr]).toEqual([1, "error: /dev/zero: is a device; a data file is read more than once, so it must be a regular file\n"]);
      expect(zero.status).toBe(2);
      expect(zero.stderr).toMatch(outsideLine("the data file", "/dev/zero"));
      expect(leaving.status).toBe(2);
      expect(leaving.stderr).toMatch(outsideLine("the data file", "leaving\\.csv"));
      expect(outside.status).toBe(2);
      expect(outside.stderr).toMatch(outsideLine("the output directory", ".+/elsewhere"));
      expect(initOutside.status).toBe(2);
      expect(initOutside.stderr).toMatch(outsideLine("the model directory", ".+"));
      expect([evil.status, evil.stderr]).toEqual([2, `error: damaged model directory evil: ${m.weights} is a symbolic link leading outside the directory\n`]);
      expect(long.status).toBe(2);
      expect(long.stderr).toMatch(
        /^error: damaged model directory long: model\.json: the weights manifest needs \d+ bytes, but weights\.g\d+\.bin holds \d+\n$/,
      );
      expect([resume.status, resume.stderr]).toEqual([
        2,
        `error: damaged model directory evil-resume: ${m.state} is a symbolic link leading outside the directory\n`,
      ]);
      // Nothing written: no run directory here, nothing new outside.
      for (const d of ["r-fifo", "r-dev", "r-zero", "r-leave", "r-init", "r-evil", "r-long"]) expect(existsSync(join(dir, d)), d).toBe(false);
      expect(readdirSync(away).sort()).toEqual([m.state, m.weights, "reviews.csv"].sort());
      expect(readdirSync(join(dir, "evil-resume")).sort()).toEqual(readdirSync(join(dir, "tiny")).sort());
    } finally {
      rmSync(away, { recursive: true, force: true });
    }
  });

  it("2 processes under torchrun (gloo, loopback) equal 1 process with the same global batch after 20 steps", async () => {
    const [one, two] = await Promise.all([
      runPythonAsync([join(dir, "gen", "Tiny.py"), "--out", "ddp1", "--max-steps", "20"], { cwd: dir }),
      runPythonAsync(
        [
          "-m",
          "torch.distributed.run",
          "--standalone",
          "--nproc-per-node",
          "2",
          join(dir, "gen", "Tiny.py"),
          "--out",
          "ddp2",
          "--max-steps",
          "20",
          "--device",
          "cpu",
        ],
        { cwd: dir },
      ),
    ]);
    expect(one.status, one.stderr).toBe(0);
    expect(two.status, two.stderr).toBe(0);
    const a = weights("ddp1");
    const b = weights("ddp2");
    expect(b.length).toBe(a.length);
    let worst = 0;
    a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]!))));
    process.stdout.write(`1 vs 2 processes after 20 steps: max abs weight difference ${worst.toExponential(2)}\n`);
    expect(worst).toBeLessThanOrEqual(1e-5);
  });
});
