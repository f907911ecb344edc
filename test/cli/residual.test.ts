/**
 * `predict residual` through the command line: check accepts it, train runs, the model directory records the
 * linear forecast, predict answers the linear forecast plus the network's unscaled output, evaluate reports the
 * linear baseline the model starts from, and a damaged linear forecast is refused.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../src/api/index.js";
import { attncIn } from "../in-process.js";

const work = mkdtempSync(join(tmpdir(), "attnc-residual-cli-"));
const run = (...args: string[]) => attncIn(work, ...args);

const spec = `model Load {
  input w: float[T = 6, F]
  w -> lstm(units: 4, input_attention: temporal(units: 3)) -> last -> dense(1)
}

data Load {
  source: csv("load.csv", time: "time", features: ["load", "temp"], target: "load")
  window: 6, horizon 1, predict residual
  split: chronological train 0.6, validation 0.2, test 0.2
}

train Load {
  loss: mse
  batch: 8
  epochs: 2
  seed: 1
}
`;

interface Meta {
  data: { window: { predict: string } };
  prep: { offset: number[]; scale: number[]; targetOffset: number; targetScale: number; linear?: { lambda: number; weights: number[] }; predict: string };
}

beforeAll(() => {
  const lines = ["time,load,temp"];
  for (let i = 0; i < 120; i++)
    lines.push(
      `${new Date(Date.UTC(2024, 0, 1, i)).toISOString().slice(0, 16)},${(50 + 0.2 * i + 5 * Math.sin(i / 4)).toFixed(3)},${(10 + Math.cos(i / 6)).toFixed(3)}`,
    );
  writeFileSync(join(work, "load.csv"), `${lines.join("\n")}\n`);
  writeFileSync(join(work, "load.attn"), spec);
});

describe("predict residual from the command line", () => {
  it("check accepts => train runs; predict answers the linear forecast plus the network's output; evaluate reports that linear forecast", async () => {
    expect((await run("check", "load.attn")).code).toBe(0);
    const trained = await run("train", "load.attn", "--out", "runs/load", "--backend", "wasm");
    expect(trained.code, trained.err).toBe(0);
    const meta = JSON.parse(readFileSync(join(work, "runs/load/attnc.json"), "utf8")) as Meta;
    expect(meta.prep.predict).toBe("residual");
    expect(meta.prep.linear!.weights).toHaveLength(6 * 2 + 1);

    const window = Array.from({ length: 6 }, (_, t) => [60 + t, 10 + t / 10]);
    writeFileSync(join(work, "req.jsonl"), `${JSON.stringify({ window })}\n`);
    const p = await run("predict", "runs/load", "--input", "req.jsonl", "--backend", "wasm");
    expect(p.code, p.err).toBe(0);
    const answer = (JSON.parse(p.out.trim()) as { prediction: number }).prediction;
    // By hand: the scaled window, the linear forecast (weights . [x, 1]) and the network's output unscaled.
    const x = window.flatMap((row) => row.map((v, k) => Math.fround((v - meta.prep.offset[k]!) / meta.prep.scale[k]!)));
    const w = meta.prep.linear!.weights;
    const linear = x.reduce((s, v, i) => s + v * w[i]!, w[x.length]!);
    const model = await loadModel(join(work, "runs/load"), { backend: "wasm" });
    let net: number;
    try {
      const out = (model as unknown as { tfModel: tf.LayersModel }).tfModel.predict(tf.tensor3d(x, [1, 6, 2])) as tf.Tensor;
      net = out.dataSync()[0]!;
      out.dispose();
    } finally {
      model.dispose();
    }
    expect(answer).toBeCloseTo(linear + net * meta.prep.targetScale + meta.prep.targetOffset, 9);
    expect(Math.abs(answer - linear)).toBeLessThan(5 * meta.prep.targetScale + Math.abs(meta.prep.targetOffset));

    const e = await run("evaluate", "runs/load", "--backend", "wasm", "--format", "json");
    expect(e.code, e.err).toBe(0);
    const report = JSON.parse(e.out) as { baselines: Record<string, { rmse: number; lambda?: number }> };
    expect(report.baselines["linear"]!.lambda).toBe(meta.prep.linear!.lambda);
    expect(report.baselines["linear"]!.rmse).toBeGreaterThan(0);
  });

  it("a damaged linear forecast is refused (exit 2, the field named), as is one on a model that does not predict residual", async () => {
    const damage = async (name: string, edit: (m: Meta) => void): Promise<{ code: number; err: string; out: string }> => {
      cpSync(join(work, "runs/load"), join(work, `runs/${name}`), { recursive: true });
      const path = join(work, `runs/${name}/attnc.json`);
      const m = JSON.parse(readFileSync(path, "utf8")) as Meta;
      edit(m);
      writeFileSync(path, JSON.stringify(m));
      return run("predict", `runs/${name}`, "--input", "req.jsonl", "--backend", "wasm");
    };
    const short = await damage("short", (m) => (m.prep.linear!.weights = m.prep.linear!.weights.slice(1)));
    expect(short.code).toBe(2);
    expect(short.err).toMatch(
      /damaged model directory runs[/\\]short: attnc\.json: prep\.linear\.weights must be 13 numbers within ±6\.8e\+38 \(window x features \+ 1 per output\)\n/,
    );
    expect(short.out).toBe("");
    const huge = await damage("huge", (m) => (m.prep.linear!.weights[0] = 1e308));
    expect(huge.code).toBe(2);
    expect(huge.err).toMatch(/attnc\.json: prep\.linear\.weights must be 13 numbers within/);
    const missing = await damage("missing", (m) => delete m.prep.linear);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/attnc\.json: prep\.linear must be an object \(lambda, weights\)/);
    // The prep must agree with the data block beside it; both say value here, so the stray linear forecast is what is wrong.
    const stray = await damage("stray", (m) => {
      m.prep.predict = "value";
      m.data.window.predict = "value";
    });
    expect(stray.code).toBe(2);
    expect(stray.err).toMatch(/attnc\.json: prep\.linear is only for predict residual, and predict is "value"/);
  });
});
