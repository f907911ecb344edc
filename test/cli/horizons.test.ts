/**
 * A forecaster of every step 1..3 of two targets through the command line: `check` refuses a head of the wrong
 * width and accepts the right one, `train` then runs, `evaluate` reports each step and target (and the baselines'),
 * predict and explain answer a list per step of a value per target, and the model directory keeps one scaling per
 * output (a damaged list is refused).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../src/api/index.js";
import { valuesPerAnswer } from "../../src/cli/serve.js";
import { attncIn } from "../in-process.js";

const root = resolve(".");
const work = mkdtempSync(join(tmpdir(), "attnc-horizons-cli-"));
const run = (...args: string[]) => attncIn(work, ...args);

const spec = (head: string, window = "window: 4, horizon 3, steps all") => `model Two {
  input w: float[T = 4, F]
  w -> lstm(units: 4, input_attention: temporal(units: 3)) -> last -> ${head}
}

data Two {
  source: csv("two.csv", time: "time", features: ["load", "temp"], target: ["load", "temp"])
  ${window}
  split: chronological train 0.6, validation 0.2, test 0.2
}

train Two {
  loss: mse
  batch: 8
  epochs: 1
  seed: 1
}
`;

const answers = (out: string) =>
  out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(() => {
  const lines = ["time,load,temp"];
  for (let i = 0; i < 80; i++)
    lines.push(
      `${new Date(Date.UTC(2024, 0, 1, i)).toISOString().slice(0, 16)},${(50 + 0.2 * i + 5 * Math.sin(i / 4)).toFixed(3)},${(10 + Math.cos(i / 6)).toFixed(3)}`,
    );
  writeFileSync(join(work, "two.csv"), `${lines.join("\n")}\n`);
  writeFileSync(join(work, "wide.attn"), spec("dense(3)"));
  writeFileSync(join(work, "zero.attn"), spec("dense(2)", "window: 4, horizon 0, steps all"));
  writeFileSync(join(work, "two.attn"), spec("dense(6)"));
});

describe("several steps and targets from the command line", () => {
  it("check names the head's width against steps x targets, and refuses steps all with horizon 0", async () => {
    const wide = await run("check", "wide.attn");
    expect(wide.code).toBe(1);
    expect(wide.out + wide.err).toMatch(
      /wide\.attn:3:\d+ - error ATN4023: output dense gives 3 values per window, but the data block forecasts 3 steps \(steps all\) of 2 target columns: 6 values; use dense\(6\)\n/,
    );
    const zero = await run("check", "zero.attn");
    expect(zero.code).toBe(1);
    expect(zero.out + zero.err).toMatch(/zero\.attn:8:\d+ - error ATN4024: steps all forecasts every step 1\.\.horizon after the window, but the horizon is 0/);
    const ok = await run("check", "two.attn");
    expect(ok.code).toBe(0);
  });

  it("check accepts => train runs; evaluate, predict, explain and the model directory carry every output", async () => {
    const trained = await run("train", "two.attn", "--out", "runs/two", "--backend", "wasm");
    expect(trained.code, trained.err).toBe(0);
    const meta = JSON.parse(readFileSync(join(work, "runs/two/attnc.json"), "utf8")) as { prep: Record<string, unknown> };
    expect(meta.prep["target"]).toEqual(["load", "temp"]);
    expect(meta.prep["steps"]).toBe("all");
    expect(meta.prep["targetOffset"]).toHaveLength(6);
    expect(meta.prep["targetScale"]).toHaveLength(6);

    const text = await run("evaluate", "runs/two", "--backend", "wasm");
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/test RMSE [\d.]+ {2}MAE [\d.]+ .*\(\d+ windows, 6 outputs each\)/);
    expect(text.out).toMatch(/per step and target \(test\):\n\s+step\s+target\s+RMSE\s+MAE\s+MAPE\n\s+1\s+load\s+[\d.]+/);
    expect(text.out).toMatch(/RMSE per step and target \(test\):\n\s+step\s+target\s+model\s+persistence\s+seasonal_naive\s+linear\n/);
    expect(text.out).toMatch(/\n\s+3\s+temp\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\n/);
    const json = await run("evaluate", "runs/two", "--backend", "wasm", "--format", "json");
    const report = JSON.parse(json.out) as {
      regression: { count: number; outputs: { step: number; target: string; rmse: number }[] };
      baselines: Record<string, { outputs: { step: number; target: string }[] }>;
    };
    expect(report.regression.outputs.map((o) => `${o.step}:${o.target}`)).toEqual(["1:load", "1:temp", "2:load", "2:temp", "3:load", "3:temp"]);
    expect(report.baselines["persistence"]!.outputs).toHaveLength(6);

    writeFileSync(
      join(work, "req.jsonl"),
      `${JSON.stringify({
        window: [
          [50, 10],
          [51, 10.2],
          [52, 10.1],
          [53, 10],
        ],
      })}\n`,
    );
    const p = await run("predict", "runs/two", "--input", "req.jsonl", "--backend", "wasm");
    expect(p.code, p.err).toBe(0);
    const [answer] = answers(p.out);
    const prediction = answer!["prediction"] as number[][];
    expect(prediction).toHaveLength(3);
    for (const step of prediction) {
      expect(step).toHaveLength(2);
      expect(step.every(Number.isFinite)).toBe(true);
    }
    const tail = await run("predict", "runs/two", "--csv", "two.csv", "--backend", "wasm");
    expect(tail.code, tail.err).toBe(0);
    expect(answers(tail.out)[0]).toMatchObject({ after: "2024-01-04T07:00" });
    expect((answers(tail.out)[0]!["prediction"] as number[][]).map((s) => s.length)).toEqual([2, 2, 2]);
    const e = await run("explain", "runs/two", "--input", "req.jsonl", "--backend", "wasm");
    expect(e.code, e.err).toBe(0);
    const [explained] = answers(e.out);
    expect(explained!["prediction"]).toEqual(prediction);
    expect(Object.keys(explained!["attention"] as object)).toEqual(["lstm"]);

    // attnc serve: the metadata gives the steps and the answer's shape; the answer is predict's.
    const child = spawn(process.execPath, [join(root, "bin/attnc.js"), "serve", "runs/two", "--port", "0", "--backend", "wasm"], {
      cwd: work,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const exited = new Promise<void>((res) => child.on("exit", () => res()));
    try {
      let err = "";
      const url = await new Promise<string>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no address within 50 s:\n${err}`)), 50_000);
        child.stderr.on("data", (d: Buffer) => {
          err += d.toString();
          const m = /attnc: listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
          if (m) {
            clearTimeout(timer);
            res(m[1]!);
          }
        });
        child.on("exit", (code) => rej(new Error(`serve exited ${code}:\n${err}`)));
      });
      const metadata = (await (await fetch(`${url}/v1/models/Two/metadata`)).json()) as Record<string, any>;
      expect(metadata["inputs"]).toMatchObject({ kind: "series", target: ["load", "temp"], horizon: 3, steps: "all" });
      expect(metadata["outputs"]).toEqual({ prediction: { target: ["load", "temp"], horizon: 3, steps: "all", predict: "residual", shape: [3, 2] } });
      const served = await fetch(`${url}/v1/models/Two:predict`, {
        method: "POST",
        body: JSON.stringify({ instances: [JSON.parse(readFileSync(join(work, "req.jsonl"), "utf8"))] }),
        headers: { "content-type": "application/json" },
      });
      expect(await served.json()).toEqual({ predictions: [{ prediction }] });
    } finally {
      child.kill("SIGTERM");
      await exited;
    }

    // A copy whose per-output scaling is not one number per output is refused as damaged, and nothing is answered.
    cpSync(join(work, "runs/two"), join(work, "runs/damaged"), { recursive: true });
    const path = join(work, "runs/damaged/attnc.json");
    const damaged = JSON.parse(readFileSync(path, "utf8")) as { prep: { targetScale: number[] } };
    damaged.prep.targetScale = damaged.prep.targetScale.slice(0, 5);
    writeFileSync(path, JSON.stringify(damaged));
    const r = await run("predict", "runs/damaged", "--input", "req.jsonl", "--backend", "wasm");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/damaged model directory runs[/\\]damaged: attnc\.json: prep\.targetScale must be 6 finite numbers, one per output\n/);
    expect(r.out).toBe("");
  });

  it("the two-target fixture: check accepts it, one epoch trains, and the library answers a list per day of [max, min]", async () => {
    const spec = join(root, "test/fixtures/specs/tiny_two_targets.attn");
    const checked = await run("check", spec, "--allow-outside");
    expect(checked.code, checked.out + checked.err).toBe(0);
    const trained = await run("train", spec, "--out", "runs/fixture", "--epochs", "1", "--threads", "1", "--backend", "wasm", "--allow-outside");
    expect(trained.code, trained.err).toBe(0);
    expect(trained.out + trained.err).toMatch(/test RMSE [\d.]+ .*\(\d+ windows, 6 outputs each\)/);
    const model = await loadModel(join(work, "runs/fixture"));
    try {
      expect(model.input).toMatchObject({ kind: "series", target: ["temp_max", "temp_min"], horizon: 3, steps: "all", predict: "residual" });
      const window = Array.from({ length: 7 }, (_, t) => [12 + t, 5 + t / 2, 0, 3]);
      const [answer] = await model.predict([{ window }]);
      const prediction = (answer as { prediction: number[][] }).prediction;
      expect(prediction.map((day) => day.length)).toEqual([2, 2, 2]);
      expect(prediction.flat().every(Number.isFinite)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it("a target list of one answers lists as its metadata says; the time column is not a target; a head wider than dense allows is named", async () => {
    writeFileSync(join(work, "one.attn"), spec("dense(1)", "window: 4, horizon 1").replace('target: ["load", "temp"]', 'target: ["load"]'));
    const trained = await run("train", "one.attn", "--out", "runs/one", "--backend", "wasm");
    expect(trained.code, trained.err).toBe(0);
    expect((JSON.parse(readFileSync(join(work, "runs/one/attnc.json"), "utf8")) as { prep: { target: unknown } }).prep.target).toEqual(["load"]);
    const p = await run("predict", "runs/one", "--input", "req.jsonl", "--backend", "wasm");
    expect(p.code, p.err).toBe(0);
    const prediction = answers(p.out)[0]!["prediction"] as number[][];
    expect(prediction).toHaveLength(1);
    expect(prediction[0]).toHaveLength(1);
    const model = await loadModel(join(work, "runs/one"), { backend: "wasm" });
    expect(valuesPerAnswer(model, "predict")).toBe(1);
    // explain: the output and the temporal attention's T x T weights.
    expect(valuesPerAnswer(model, "explain")).toBe(1 + 4 * 4);
    model.dispose();

    writeFileSync(join(work, "clock.attn"), spec("dense(2)", "window: 4, horizon 1").replace('target: ["load", "temp"]', 'target: ["load", "time"]'));
    const clock = await run("check", "clock.attn");
    expect(clock.code).toBe(1);
    expect(clock.out + clock.err).toMatch(
      /clock\.attn:7:\d+ - error ATN\d+: the target "time" is the time column; the time column orders the rows and is not forecast/,
    );

    const many = Array.from({ length: 25 }, (_, i) => `"c${i}"`).join(", ");
    writeFileSync(
      join(work, "huge.attn"),
      spec("dense(100000)", "window: 4, horizon 4096, steps all").replace('target: ["load", "temp"]', `target: [${many}]`),
    );
    const huge = await run("check", "huge.attn");
    expect(huge.code).toBe(1);
    expect(huge.out + huge.err).toMatch(/102400 values; a dense layer gives at most 100000: forecast fewer steps or targets/);
    expect(huge.out + huge.err).not.toMatch(/use dense\(8192\)/);
  });
});
