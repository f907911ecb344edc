/**
 * Generated PyTorch programs train and write model directories attnc reads: `attnc evaluate`, `predict` and `explain`
 * succeed on them and they pass attnc's model-directory validation; --resume continues a run, --init starts from
 * another directory's weights; bad input is one line and an exit code; and a 2-process DistributedDataParallel run
 * (torchrun on loopback, gloo) equals a 1-process run of the same global batch after 20 steps.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
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
