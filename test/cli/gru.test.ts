/**
 * gru and bigru from the command line: a spec that uses both trains, predicts and verifies; gru offers no input
 * attention (the usual unknown-argument diagnostic); a model directory whose GRU layer was tampered with is
 * refused as damaged (exit 2, one line), without reading outside it or writing anything.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attnc } from "../in-process.js";
import { CANARY, copyOf, editJson, hasStackTrace, snapshot, trainedWorkspace, type Workspace } from "../security/modeldir-kit.js";

const SPEC = "test/fixtures/specs/tiny_gru.attn";

let ws: Workspace;
beforeAll(async () => {
  ws = await trainedWorkspace(SPEC, "attnc-gru-cli-");
});
afterAll(() => rmSync(ws.root, { recursive: true, force: true }));

type Layer = { class_name: string; config: Record<string, unknown> };
type Spec = { name: string; shape: number[] };
const layersOf = (m: Record<string, unknown>) => (m["modelTopology"] as { config: { layers: Layer[] } }).config.layers;
const specsOf = (m: Record<string, unknown>) => (m["weightsManifest"] as { weights: Spec[] }[])[0]!.weights;

/** predict on a tampered copy: exit 2, one line naming the directory and matching `message`, nothing read outside or written. */
async function refused(name: string, tamper: (dir: string) => void, message: RegExp): Promise<void> {
  const dir = copyOf(ws, name);
  tamper(dir);
  const before = snapshot(ws.root);
  const r = await attnc("predict", dir, "--input", join(ws.root, "req.jsonl"), "--backend", "wasm", "--allow-outside");
  expect(r.code, r.err).toBe(2);
  const lines = r.err.split("\n").filter((l) => l.startsWith("attnc: ") && !/ backend$/.test(l));
  expect(lines).toHaveLength(1);
  const shown = relative(process.cwd(), dir);
  expect(lines[0]).toContain(`damaged model directory ${shown.startsWith("..") ? dir : shown}: `);
  expect(lines[0]).toMatch(message);
  expect(r.out + r.err).not.toContain(CANARY);
  expect(hasStackTrace(r.err)).toBe(false);
  expect(snapshot(ws.root)).toEqual(before);
}

describe("gru and bigru from the command line", () => {
  it("the trained model saves AttnGRU and AttnBiGRU layers with their weights, and predicts", async () => {
    const m = JSON.parse(readFileSync(join(ws.base, "model.json"), "utf8")) as Record<string, unknown>;
    const classes = layersOf(m).map((l) => l.class_name);
    expect(classes).toEqual(expect.arrayContaining(["AttnGRU", "AttnBiGRU"]));
    const shapes = Object.fromEntries(specsOf(m).map((s) => [s.name, s.shape]));
    expect(shapes).toMatchObject({
      "gru/kernel": [8, 18],
      "gru/recurrent_kernel": [6, 18],
      "gru/bias": [18],
      "bigru/forward_kernel": [6, 15],
      "bigru/backward_recurrent_kernel": [5, 15],
      "bigru/backward_bias": [2, 15],
    });
    const r = await attnc("predict", ws.base, "--input", join(ws.root, "req.jsonl"), "--backend", "wasm", "--allow-outside");
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().split("\n")).toHaveLength(2);
    for (const line of r.out.trim().split("\n")) expect(Object.keys((JSON.parse(line) as { probabilities: object }).probabilities)).toEqual(["neg", "pos"]);
  });

  it("the generated program trains exactly as attnc does (verify)", async () => {
    const r = await attnc("verify", SPEC, "--steps", "3", "--backend", "wasm");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^ok TinyGru: 3 steps on wasm/);
  });

  it("gru takes no input attention: the unknown-argument diagnostic", async () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-gru-spec-"));
    try {
      const spec = join(dir, "att.attn");
      writeFileSync(spec, "model M {\n  input x: float[T = 6, F = 2]\n  x -> gru(4, input_attention: temporal(3)) -> last -> dense(1)\n}\n");
      const r = await attnc("check", spec, "--allow-outside", "--format", "plain");
      expect(r.code).toBe(1);
      expect(r.out + r.err).toMatch(/att\.attn:3:\d+ - error \w+: .*input_attention/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a bias whose shape does not match reset_after is refused as damaged", async () => {
    await refused(
      "gru-bias",
      (dir) =>
        editJson(join(dir, "model.json"), (m) => {
          layersOf(m).find((l) => l.class_name === "AttnGRU")!.config["reset_after"] = true;
        }),
      /model\.json: weightsManifest\[0\]\.weights\[\d+\]\.shape \[18\] disagrees with the layer, which has \[2, 18\]/,
    );
  });

  it("a reset_after that is not a boolean is refused by the schema", async () => {
    await refused(
      "bigru-reset",
      (dir) =>
        editJson(join(dir, "model.json"), (m) => {
          layersOf(m).find((l) => l.class_name === "AttnBiGRU")!.config["reset_after"] = "yes";
        }),
      /model\.json: .*reset_after/,
    );
  });
});
