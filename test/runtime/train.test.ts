import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { attnc } from "../in-process.js";
import { loadModelDir } from "../../src/runtime/modeldir.js";
import { registerLayers } from "../../src/runtime/layers.js";

const tmp = () => mkdtempSync(join(tmpdir(), "attnc-train-"));
const TEXT = "test/fixtures/specs/tiny_text.attn";
const SERIES = "test/fixtures/specs/tiny_series.attn";

async function weightsOf(dir: string): Promise<Float32Array[]> {
  const l = await loadModelDir(dir);
  return l.model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe("attnc train on real data", () => {
  it("learns the text task: training loss falls and test accuracy is far above chance", async () => {
    const dir = tmp();
    const r = await attnc("train", TEXT, "--out", join(dir, "m"), "--allow-outside", "--backend", "wasm");
    expect(r.code, r.err).toBe(0);
    const history = JSON.parse(readFileSync(join(dir, "m/history.json"), "utf8")) as { loss: number }[];
    expect(history[history.length - 1]!.loss).toBeLessThan(history[0]!.loss * 0.7);
    const acc = Number(/test accuracy ([0-9.]+)/.exec(r.out)![1]);
    expect(acc).toBeGreaterThan(0.8);
    expect(readdirSync(join(dir, "m")).sort()).toEqual(expect.arrayContaining(["attnc.json", "history.json", "history.svg", "manifest.json", "model.json"]));
  });

  it("learns the series task better than predicting the training mean", async () => {
    const dir = tmp();
    const r = await attnc("train", SERIES, "--out", join(dir, "m"), "--allow-outside");
    expect(r.code, r.err).toBe(0);
    // Scaled targets: always predicting the training mean gives an MSE near 1.
    const loss = Number(/test loss ([0-9.]+)/.exec(r.out)![1]);
    expect(loss).toBeLessThan(0.5);
  });

  it("the same seed gives the same weights; another seed other weights", async () => {
    const dir = tmp();
    for (const [name, seed] of [
      ["a", "5"],
      ["b", "5"],
      ["c", "6"],
    ] as const) {
      expect((await attnc("train", TEXT, "--out", join(dir, name), "--allow-outside", "--epochs", "2", "--seed", seed)).code).toBe(0);
    }
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => weightsOf(join(dir, n))));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("a saved model loads back (attnc's loader and tf.loadLayersModel) and predicts the same", async () => {
    const dir = tmp();
    expect((await attnc("train", TEXT, "--out", join(dir, "m"), "--allow-outside", "--epochs", "1")).code).toBe(0);
    const loaded = await loadModelDir(join(dir, "m"));
    registerLayers();
    const json = JSON.parse(readFileSync(join(dir, "m/model.json"), "utf8")) as {
      modelTopology: object;
      weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    };
    const bin = readFileSync(join(dir, "m", json.weightsManifest[0]!.paths[0]!));
    const stock = await tf.loadLayersModel(
      tf.io.fromMemory(json.modelTopology, json.weightsManifest[0]!.weights, bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength)),
    );
    const x = tf.tensor2d([[3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], [1, 24], "int32");
    const p1 = (loaded.model.predict(x) as tf.Tensor).dataSync();
    const p2 = (stock.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(p2)).toEqual(Array.from(p1));
    const again = await loadModelDir(join(dir, "m"));
    expect(Array.from((again.model.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(p1));
  });

  it("resuming after epoch 2 reaches exactly the weights of an uninterrupted run", async () => {
    const dir = tmp();
    expect((await attnc("train", TEXT, "--out", join(dir, "full"), "--allow-outside", "--epochs", "4")).code).toBe(0);
    expect((await attnc("train", TEXT, "--out", join(dir, "part"), "--allow-outside", "--epochs", "2")).code).toBe(0);
    const resumed = await attnc("train", TEXT, "--out", join(dir, "part"), "--allow-outside", "--epochs", "4", "--resume");
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toContain("resuming TinyText after epoch 2");
    expect(await weightsOf(join(dir, "part"))).toEqual(await weightsOf(join(dir, "full")));
  });

  it("refuses to overwrite a model directory without --resume", async () => {
    const dir = tmp();
    expect((await attnc("train", TEXT, "--out", join(dir, "m"), "--allow-outside", "--epochs", "1")).code).toBe(0);
    const again = await attnc("train", TEXT, "--out", join(dir, "m"), "--allow-outside", "--epochs", "1");
    expect(again.code).toBe(2);
    expect(again.err).toContain("already holds a model");
  });
});

describe("evaluate, predict, explain", () => {
  it("work on a trained model", async () => {
    const dir = tmp();
    expect((await attnc("train", TEXT, "--out", join(dir, "m"), "--allow-outside")).code).toBe(0);
    const ev = await attnc("evaluate", join(dir, "m"), "--format", "json", "--allow-outside");
    const report = JSON.parse(ev.out) as { classification: { accuracy: number; confusion: number[][] } };
    expect(report.classification.confusion).toHaveLength(2);
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "req.jsonl"), '{"review": "this lamp is perfect and lovely"}\n{"text": "terrible awful broken"}\n');
    const pr = await attnc("predict", join(dir, "m"), "--input", join(dir, "req.jsonl"), "--allow-outside");
    const preds = pr.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { label: string });
    expect(preds.map((p) => p.label)).toEqual(["pos", "neg"]);
    const ex = await attnc("explain", join(dir, "m"), "--input", join(dir, "req.jsonl"), "--out", join(dir, "ex"), "--allow-outside");
    const first = JSON.parse(ex.out.split("\n")[0]!) as { tokens: string[]; attention: { attn: number[] } };
    expect(first.tokens).toEqual(["this", "lamp", "is", "perfect", "and", "lovely"]);
    expect(first.attention.attn.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const files = readdirSync(join(dir, "ex")).sort();
    expect(files.filter((f) => f.endsWith(".svg"))).toEqual(["example-1-attn.svg", "example-2-attn.svg"]);
    // PNG beside each SVG where a renderer (rsvg-convert) is installed, and nothing else.
    for (const f of files.filter((f) => !f.endsWith(".svg"))) expect(f.endsWith(".png") && files.includes(f.replace(/\.png$/, ".svg"))).toBe(true);
  });

  it("a broken request is a located error, not a stack trace", async () => {
    const dir = tmp();
    expect((await attnc("train", TEXT, "--out", join(dir, "m"), "--allow-outside", "--epochs", "1")).code).toBe(0);
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "bad.jsonl"), '{"review": "fine"}\n{"review": 3}\n');
    const r = await attnc("predict", join(dir, "m"), "--input", join(dir, "bad.jsonl"), "--allow-outside");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.jsonl:2: needs a string field "review"/);
    // Token ids beyond the vocabulary are an error at data time, not silent garbage.
    writeFileSync(join(dir, "ids.jsonl"), '{"ids": [2, 3]}\n{"ids": [2, 99999]}\n');
    const ids = await attnc("predict", join(dir, "m"), "--input", join(dir, "ids.jsonl"), "--allow-outside");
    expect(ids.code).toBe(1);
    expect(ids.err).toMatch(/ids\.jsonl:2: id 99999 at position 2 is not in the vocabulary \(0 to \d+\)/);
  });
});

describe("interrupting training", () => {
  it("SIGINT stops after the current batch with a checkpoint; --resume then ends where an uninterrupted run ends", async () => {
    const { spawn } = await import("node:child_process");
    const dir = tmp();
    const bin = join(process.cwd(), "bin/attnc.js");
    const common = [bin, "train", TEXT, "--allow-outside", "--epochs", "8", "--backend", "wasm"];
    const child = spawn(process.execPath, [...common, "--out", join(dir, "cut")], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    let sent = false;
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (!sent && /epoch 2\/8/.test(err)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((res) => child.on("close", res));
    expect(code, err).toBe(130);
    expect(err).toContain("checkpoint saved");
    const state = JSON.parse(readFileSync(join(dir, "cut", JSON.parse(readFileSync(join(dir, "cut/manifest.json"), "utf8")).state as string), "utf8")) as {
      epoch: number;
      done: boolean;
    };
    expect(state.done).toBe(false);
    expect(state.epoch).toBeGreaterThanOrEqual(2);
    expect((await attnc("train", TEXT, "--allow-outside", "--epochs", "8", "--out", join(dir, "cut"), "--resume")).code).toBe(0);
    expect((await attnc("train", TEXT, "--allow-outside", "--epochs", "8", "--out", join(dir, "whole"))).code).toBe(0);
    expect(await weightsOf(join(dir, "cut"))).toEqual(await weightsOf(join(dir, "whole")));
  });
});
