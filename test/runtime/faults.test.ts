import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { prng as rng } from "../../src/runtime/data.js";
import { attnc } from "../in-process.js";
import { loadModelDir, readManifest } from "../../src/runtime/modeldir.js";

const BIN = resolve("bin/attnc.js");
const SPEC = "test/fixtures/specs/tiny_series.attn";

/** Runs attnc train in a child process and kills it with SIGKILL after `ms` (or lets it finish). */
function trainKilledAfter(ms: number, args: string[]): Promise<number | null> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, "train", ...args], { stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
}

async function weights(dir: string): Promise<Float32Array[]> {
  return (await loadModelDir(dir)).model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe("interrupted training", () => {
  it("survives 20+ SIGKILLs at random moments: the directory is never corrupt, no more than the epoch in progress is lost, and the result equals an uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-kill-"));
    const out = join(dir, "killed");
    const args = [SPEC, "--out", out, "--allow-outside", "--epochs", "80", "--backend", "wasm"];
    const next = rng(7);
    let kills = 0;
    let lastEpoch = 0;
    for (let attempt = 0; attempt < 200; attempt++) {
      const ms = kills < 20 ? 350 + Math.floor(next() * 750) : 600_000;
      const code = await trainKilledAfter(ms, attempt === 0 ? args : [...args, "--resume"]);
      const manifest = readManifest(out);
      if (manifest) {
        // Whatever the moment of the kill, the manifest names a complete, loadable checkpoint.
        const loaded = await loadModelDir(out);
        expect(loaded.state.epoch).toBeGreaterThanOrEqual(lastEpoch);
        lastEpoch = loaded.state.epoch;
      }
      if (code === 0) break;
      expect(code).toBeNull(); // killed, not failed
      kills++;
    }
    expect(kills).toBeGreaterThanOrEqual(20);
    expect(readManifest(out)!.done).toBe(true);
    expect((await attnc("train", SPEC, "--out", join(dir, "whole"), "--allow-outside", "--epochs", "80", "--backend", "wasm")).code).toBe(0);
    expect(await weights(out)).toEqual(await weights(join(dir, "whole")));
  }, 600_000);

  it("a loss that becomes NaN or Inf stops training with a clear message and keeps the last good checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-nan-"));
    const out = join(dir, "m");
    expect((await attnc("train", SPEC, "--out", out, "--allow-outside", "--epochs", "2")).code).toBe(0);
    const before = readManifest(out)!;
    // The same model with an absurd learning rate, resumed from the good checkpoint.
    const wild = join("test/fixtures/specs", "tiny_series_wild.attn");
    writeFileSync(wild, readFileSync(SPEC, "utf8").replace("optimizer: adam(lr: 1e-2)", "optimizer: sgd(lr: 1e30)"));
    try {
      const r = await attnc("train", wild, "--out", out, "--allow-outside", "--epochs", "4", "--resume");
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/the loss became (NaN|Infinity) at epoch 3, batch \d+; training stopped and the model directory keeps the checkpoint of epoch 2/);
      expect(readManifest(out)).toEqual(before);
      expect((await loadModelDir(out)).state.epoch).toBe(2);
    } finally {
      (await import("node:fs")).rmSync(wild, { force: true });
    }
  });
});
