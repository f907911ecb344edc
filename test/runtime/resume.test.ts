/**
 * --resume continues only the model its checkpoint was trained from: the spec's fingerprint (graph, data block
 * but its path, loss, batch, shuffle, seed) must equal the one attnc.json records. A different model is refused
 * with exit 2, a message naming the difference, before any data is read and without touching the directory;
 * the generated programs refuse the same way.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import type { IrModel } from "../../src/ir/types.js";
import { runnableProgram } from "../programs.js";
import { fingerprintDifferences, specFingerprint } from "../../src/runtime/fingerprint.js";
import { attnc } from "../in-process.js";

const tmp = () => mkdtempSync(join(tmpdir(), "attnc-resume-"));
const DATA = resolve("specs/data/reviews.csv");

/** tiny_text.attn with its data path made absolute, edited by `edit`. */
function textSpec(edit: (s: string) => string = (s) => s): string {
  const s = readFileSync("test/fixtures/specs/tiny_text.attn", "utf8").replace('"../../../specs/data/reviews.csv"', JSON.stringify(DATA));
  return edit(s);
}

async function irOf(text: string): Promise<IrModel> {
  const r = await compile({ name: "t.attn", text });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.models[0]!;
}

async function fingerprintOf(text: string) {
  const ir = await irOf(text);
  return specFingerprint(ir, ir.data!, ir.train!);
}

/** Every file of a directory with its bytes, to show that a refused resume changed nothing. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(join(dir, f)).toString("base64")]),
  );
}

describe("the spec fingerprint", () => {
  it("names a changed attribute as node: key, the checkpoint's value, the spec's", async () => {
    const c = await fingerprintOf(textSpec((s) => s.replace("bilstm(units: 8)", "bilstm(units: 16) as enc")));
    const d = await fingerprintOf(textSpec((s) => s.replace("bilstm(units: 8)", "bilstm(units: 24) as enc")));
    expect(d.hash).not.toBe(c.hash);
    expect(fingerprintDifferences(c.fields, d.fields)).toEqual(["node enc: units 16 in the checkpoint, 24 in the spec"]);
  });

  it("ignores epochs, early stopping, metrics, the optimizer and the data file's path", async () => {
    const a = await fingerprintOf(textSpec());
    const b = await fingerprintOf(
      textSpec((s) =>
        s
          .replace("epochs: 6", "epochs: 20")
          .replace("adam(lr: 2e-2)", "sgd(lr: 0.1, momentum: 0.5)")
          .replace("metrics: [accuracy, macro_f1]", "metrics: [accuracy]\n  early_stop: val_loss, patience 2")
          .replace(JSON.stringify(DATA), '"elsewhere/reviews.csv"'),
      ),
    );
    expect(b.hash).toBe(a.hash);
    expect(fingerprintDifferences(a.fields, b.fields)).toEqual([]);
  });

  it.each([
    [
      "the output layer",
      (s: string) => s.replace("dense(2, activation: softmax)", "dense(1, activation: sigmoid)"),
      "node label: units 2 in the checkpoint, 1 in the spec",
    ],
    ["the batch", (s: string) => s.replace("batch: 32", "batch: 16"), "train: batch 32 in the checkpoint, 16 in the spec"],
    ["the seed", (s: string) => s.replace("seed: 1", "seed: 2"), "train: seed 1 in the checkpoint, 2 in the spec"],
    ["the tokenizer", (s: string) => s.replace("max_len: 24", "max_len: 30"), "data: tokenizer.max_len 24 in the checkpoint, 30 in the spec"],
    ["the split", (s: string) => s.replace("seed 3", "seed 4"), "data: split.seed 3 in the checkpoint, 4 in the spec"],
    ["a mask", (s: string) => s.replace("mask_zero: true", "mask_zero: false"), "node embedding: mask_zero true in the checkpoint, false in the spec"],
    [
      "the gate activation",
      (s: string) => s.replace("bilstm(units: 8)", "bilstm(units: 8, recurrent_activation: hard_sigmoid)"),
      "node bilstm: recurrent_activation sigmoid in the checkpoint, hard_sigmoid in the spec",
    ],
  ])("changes with %s", async (_, edit, message) => {
    const a = await fingerprintOf(textSpec());
    const b = await fingerprintOf(textSpec(edit));
    expect(b.hash).not.toBe(a.hash);
    expect(fingerprintDifferences(a.fields, b.fields)).toContain(message);
  });

  it("changes with the loss and shuffling, which the train block holds", async () => {
    const ir = await irOf(textSpec());
    const a = specFingerprint(ir, ir.data!, ir.train!);
    expect(fingerprintDifferences(a.fields, specFingerprint(ir, ir.data!, { ...ir.train!, loss: "mse" }).fields)).toEqual([
      "train: loss cross_entropy in the checkpoint, mse in the spec",
    ]);
    expect(fingerprintDifferences(a.fields, specFingerprint(ir, ir.data!, { ...ir.train!, shuffle: false }).fields)).toEqual([
      "train: shuffle true in the checkpoint, false in the spec",
    ]);
  });

  it("a node added is one difference, not one per attribute", async () => {
    const a = await fingerprintOf(textSpec());
    const b = await fingerprintOf(textSpec((s) => s.replace("-> bilstm(units: 8)", "-> bilstm(units: 8)\n    -> dropout(0.2) as drop")));
    const diffs = fingerprintDifferences(a.fields, b.fields);
    expect(diffs).toContain("node drop: op (absent) in the checkpoint, dropout in the spec");
    expect(diffs.some((d) => d.startsWith("node drop: rate"))).toBe(false);
  });
});

describe("attnc train --resume", () => {
  let dir: string;
  let model: string;
  /** Data that cannot be read as the spec says: a resume that reads it fails with exit 1, not 2. */
  let garbage: string;
  const spec = (name: string, edit?: (s: string) => string) => {
    const p = join(dir, name);
    writeFileSync(p, textSpec(edit));
    return p;
  };

  beforeAll(async () => {
    dir = tmp();
    model = join(dir, "m");
    garbage = join(dir, "garbage.csv");
    writeFileSync(garbage, "nothing,like\nthe,spec\n");
    const r = await attnc("train", spec("a.attn"), "--out", model, "--allow-outside", "--epochs", "1", "--threads", "1", "--backend", "wasm");
    expect(r.code, r.err).toBe(0);
    const meta = JSON.parse(readFileSync(join(model, "attnc.json"), "utf8")) as { fingerprint: { hash: string } };
    expect(meta.fingerprint.hash).toBe((await fingerprintOf(textSpec())).hash);
  });

  it("refuses a spec whose units changed, naming the node, before reading the data and without touching the directory", async () => {
    const before = snapshot(model);
    const r = await attnc(
      "train",
      spec("units.attn", (s) => s.replace("bilstm(units: 8)", "bilstm(units: 12)")),
      "--out",
      model,
      "--data",
      garbage,
      "--allow-outside",
      "--resume",
      "--backend",
      "wasm",
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /attnc: cannot resume .*m: its checkpoint is of another model or other settings \(node bilstm: units 8 in the checkpoint, 12 in the spec\); train into a new --out directory\n$/,
    );
    expect(r.err).not.toContain("resuming");
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(snapshot(model)).toEqual(before);
  });

  it("refuses another model's directory the same way, before any data is read", async () => {
    const before = snapshot(model);
    const r = await attnc(
      "train",
      "test/fixtures/specs/tiny_series.attn",
      "--out",
      model,
      "--data",
      garbage,
      "--allow-outside",
      "--resume",
      "--backend",
      "wasm",
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot resume .*m: it holds model TinyText, not TinySeries; train TinySeries into a new --out directory\n$/);
    expect(r.err).not.toContain("resuming");
    expect(snapshot(model)).toEqual(before);
  });

  it("refuses a --seed other than the run's", async () => {
    const r = await attnc("train", spec("a.attn"), "--out", model, "--data", garbage, "--allow-outside", "--resume", "--seed", "7", "--backend", "wasm");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot resume .*m with --seed 7: it was trained with seed 1\n$/);
  });

  it("a checkpoint that records no fingerprint is compared through its own IR", async () => {
    const legacy = join(dir, "legacy");
    expect((await attnc("train", spec("a.attn"), "--out", legacy, "--allow-outside", "--epochs", "1", "--threads", "1", "--backend", "wasm")).code).toBe(0);
    const metaPath = join(legacy, "attnc.json");
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as Record<string, unknown>;
    delete meta["fingerprint"];
    writeFileSync(metaPath, JSON.stringify(meta));
    const r = await attnc(
      "train",
      spec("merge.attn", (s) => s.replace("bilstm(units: 8)", "bilstm(units: 8, merge: sum)")),
      "--out",
      legacy,
      "--data",
      garbage,
      "--allow-outside",
      "--resume",
      "--backend",
      "wasm",
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain("(node bilstm: merge concat in the checkpoint, sum in the spec)");
  });

  it("resumes when only epochs, the optimizer's settings and the metrics changed", async () => {
    const r = await attnc(
      "train",
      spec("more.attn", (s) =>
        s.replace("epochs: 6", "epochs: 2").replace("adam(lr: 2e-2)", "adam(lr: 1e-2)").replace("metrics: [accuracy, macro_f1]", "metrics: [accuracy]"),
      ),
      "--out",
      model,
      "--allow-outside",
      "--resume",
      "--threads",
      "1",
      "--backend",
      "wasm",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("resuming TinyText after epoch 1");
    const history = JSON.parse(readFileSync(join(model, "history.json"), "utf8")) as unknown[];
    expect(history).toHaveLength(2);
  });
});

describe("a generated program's --resume", () => {
  it("refuses a checkpoint of another spec and resumes attnc train's checkpoint of its own", async () => {
    const dir = tmp();
    const program = async (name: string, edit?: (s: string) => string): Promise<string> => {
      const specPath = join(dir, `${name}.attn`);
      writeFileSync(specPath, textSpec(edit));
      const built = await attnc("build", specPath, "--out", join(dir, name), "--allow-outside");
      expect(built.code, built.err).toBe(0);
      return runnableProgram(join(dir, name), "TinyText");
    };
    symlinkSync(resolve("node_modules"), join(dir, "node_modules"));
    const model = join(dir, "m");
    expect(
      (
        await attnc(
          "train",
          (writeFileSync(join(dir, "a.attn"), textSpec()), join(dir, "a.attn")),
          "--out",
          model,
          "--allow-outside",
          "--epochs",
          "1",
          "--threads",
          "1",
          "--backend",
          "wasm",
        )
      ).code,
    ).toBe(0);
    const run = (js: string, ...args: string[]) =>
      spawnSync(process.execPath, [js, "--out", model, "--resume", "--backend", "wasm", "--allow-outside", ...args], {
        cwd: dir,
        encoding: "utf8",
        timeout: 120_000,
      });

    const before = snapshot(model);
    const other = run(await program("wide", (s) => s.replace("bilstm(units: 8)", "bilstm(units: 12)")), "--data", join(dir, "a.attn"));
    expect(other.status, other.stderr).toBe(2);
    expect(other.stderr).toContain("its checkpoint is of another model or other settings (node bilstm: units 8 in the checkpoint, 12 in the spec)");
    expect(other.stderr).not.toMatch(/\n\s+at /);
    expect(snapshot(model)).toEqual(before);

    const same = run(await program("same"), "--data", DATA, "--epochs", "2");
    expect(same.status, same.stderr).toBe(0);
    expect(same.stderr).toContain("resuming TinyText after epoch 1");
  });
});
