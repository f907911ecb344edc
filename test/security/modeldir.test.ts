/**
 * Model directories are untrusted input: each case tampers with or damages a real trained directory and
 * checks the exit code, the one-line message, and that nothing outside the directory was read (the canary's
 * secret never shows and its valid copy of the model never loads) and nothing anywhere was written.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { attnc, attncIn } from "../in-process.js";
import { loadDirValidators } from "../../src/modeldir/validate.js";
import { schemaProblem } from "../../src/modeldir/schemas.js";
import { loadModelDir } from "../../src/runtime/modeldir.js";
import { ModelDirError } from "../../src/runtime/modeldir-format.js";
import { CANARY, copyOf, editJson, hasStackTrace, snapshot, trainedWorkspace, type Workspace } from "./modeldir-kit.js";

const TEXT = "test/fixtures/specs/tiny_text.attn";
const SERIES = "test/fixtures/specs/tiny_series.attn";

let text: Workspace;
let series: Workspace;
beforeAll(async () => {
  text = await trainedWorkspace(TEXT, "attnc-modeldir-");
  series = await trainedWorkspace(SERIES, "attnc-modeldir-series-");
});

type Command = "predict" | "explain" | "evaluate" | "resume";

async function run(ws: Workspace, command: Command, dir: string): Promise<{ code: number; out: string; err: string }> {
  const req = join(ws.root, "req.jsonl");
  if (command === "resume")
    return attnc("train", ws === text ? TEXT : SERIES, "--out", dir, "--allow-outside", "--epochs", "2", "--resume", "--backend", "wasm");
  // The workspace lies outside the working directory: --allow-outside lets attnc reach it, and changes nothing of
  // the model directory's own rule (its files are plain names inside it).
  if (command === "evaluate") return attnc("evaluate", dir, "--backend", "wasm", "--allow-outside");
  return attnc(command, dir, "--input", req, "--backend", "wasm", "--allow-outside");
}

/** Runs a command on a tampered copy; asserts exit 2, the message, no outside read, nothing written. */
async function refused(ws: Workspace, name: string, tamper: (dir: string) => void, command: Command, message: RegExp): Promise<string> {
  const dir = copyOf(ws, name);
  tamper(dir);
  const before = snapshot(ws.root);
  const r = await run(ws, command, dir);
  expect(r.code, r.err).toBe(2);
  const line = r.err.split("\n").filter((l) => l.startsWith("attnc: ") && !/ backend$|training on \d threads/.test(l));
  expect(line).toHaveLength(1);
  expect(line[0]).toContain(
    `damaged model directory ${relative(process.cwd(), dir).split("\\").join("/").startsWith("..") ? dir : relative(process.cwd(), dir)}: `,
  );
  expect(line[0]).toMatch(message);
  expect(r.out + r.err).not.toContain(CANARY);
  expect(r.out + r.err).not.toMatch(/root:|internal error/);
  expect(hasStackTrace(r.err)).toBe(false);
  expect(snapshot(ws.root)).toEqual(before);
  return line[0]!;
}

const manifestOf = (dir: string) => join(dir, "manifest.json");
const weightsFile = (dir: string) => join(dir, (JSON.parse(readFileSync(manifestOf(dir), "utf8")) as { weights: string }).weights);

describe("tampered model directories read nothing outside and write nothing", () => {
  it("a node name with ../ in model.json and attnc.json writes no heatmap outside (explain)", async () => {
    const evil = `x/../../../../${text.root.slice(1)}/EVIL`;
    const msg = await refused(
      text,
      "evil-node",
      (dir) => {
        editJson(join(dir, "model.json"), (m) => {
          const layers = (m["modelTopology"] as { config: { layers: { name: string; config: { name: string }; inbound_nodes: unknown[] }[] } }).config.layers;
          layers[2]!.name = evil;
          layers[2]!.config.name = evil;
          (layers[3]!.inbound_nodes as [[[string]]])[0]![0]![0] = evil;
        });
        editJson(join(dir, "attnc.json"), (m) => {
          (m["ir"] as { nodes: { name: string }[] }).nodes[2]!.name = evil;
        });
      },
      "explain",
      /model\.json: modelTopology\.config\.layers\[2\]\.name "x\/\.\.\/.*" is not an identifier/,
    );
    expect(msg).not.toContain("EVIL.svg");
    expect(readdirSync(text.root)).not.toContain("EVIL.svg");
  });

  it("explain does not write through an explain/ that links out of the directory", async () => {
    const dir = copyOf(text, "explain-link");
    const target = join(text.root, "elsewhere");
    mkdirSync(target);
    symlinkSync(target, join(dir, "explain"));
    const before = snapshot(text.root);
    const r = await run(text, "explain", dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/damaged model directory .*explain-link: explain is not a directory \(a file or a symbolic link\); pass --out/);
    expect(readdirSync(target)).toEqual([]);
    expect(snapshot(text.root)).toEqual(before);
    rmSync(target, { recursive: true });
  });

  it("explain --out naming a file is exit 2", async () => {
    const f = join(text.root, "cases", "not-a-dir");
    mkdirSync(join(text.root, "cases"), { recursive: true });
    writeFileSync(f, "x");
    const r = await attnc("explain", text.base, "--input", join(text.root, "req.jsonl"), "--out", f, "--backend", "wasm", "--allow-outside");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot write .*not-a-dir: it is a file, not a directory/);
    expect(readFileSync(f, "utf8")).toBe("x");
  });

  it("the same name only in attnc.json is refused by its schema", async () => {
    await refused(
      text,
      "evil-ir",
      (dir) => editJson(join(dir, "attnc.json"), (m) => ((m["ir"] as { nodes: { name: string }[] }).nodes[3]!.name = "x/../E")),
      "explain",
      /attnc\.json: ir\.nodes\[3\]\.name "x\/\.\.\/E" (is not an identifier|does not have the form)/,
    );
  });

  for (const [field, target, shown] of [
    ["model", "../../../../etc/passwd", /manifest\.json: model "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" is not a plain file name/],
    ["model", "../../canary/model.json", /manifest\.json: model "\.\.\/\.\.\/canary\/model\.json" is not a plain file name/],
    ["weights", "../../canary/weights.g2.bin", /manifest\.json: weights "\.\.\/\.\.\/canary\/weights\.g2\.bin" is not a plain file name/],
    ["state", "../../../../etc/hostname", /manifest\.json: state ".*hostname" is not a plain file name/],
    ["state", "../../canary/secret.txt", /manifest\.json: state ".*secret\.txt" is not a plain file name/],
    ["optimizer", "/etc/passwd", /manifest\.json: optimizer "\/etc\/passwd" is not a plain file name/],
  ] as const) {
    it(`manifest.json pointing ${field} at ${target} is refused before reading it`, async () => {
      await refused(text, `manifest-${field}-${target.length}`, (dir) => editJson(manifestOf(dir), (m) => (m[field] = target)), "predict", shown);
    });
  }

  it("a weights file that is a symbolic link out of the directory is refused", async () => {
    await refused(
      text,
      "symlink-out",
      (dir) => {
        const w = weightsFile(dir);
        rmSync(w);
        symlinkSync(join(text.canary, relative(dir, w)), w);
      },
      "predict",
      /weights\.g\d+\.bin is a symbolic link leading outside the directory/,
    );
  });

  it("a symbolic link that stays inside the directory is followed", async () => {
    const dir = copyOf(text, "symlink-in");
    const w = weightsFile(dir);
    writeFileSync(join(dir, "copy.bin"), readFileSync(w));
    rmSync(w);
    symlinkSync("copy.bin", w);
    const r = await run(text, "predict", dir);
    expect(r.code, r.err).toBe(0);
  });

  for (const [how, dataPath] of [
    ["absolute", () => join(text.canary, "secret.csv")],
    ["relative", () => "../../canary/secret.csv"],
  ] as const) {
    it(`evaluate does not follow a ${how} dataPath out of the working directory`, async () => {
      const dir = copyOf(text, `datapath-${how}`);
      editJson(join(dir, "attnc.json"), (m) => (m["dataPath"] = dataPath()));
      const before = snapshot(text.root);
      // Run from the cases folder, so that the model directory is inside the working directory and the canary is not.
      const r = await attncIn(join(text.root, "cases"), "evaluate", dir, "--backend", "wasm");
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/the data file .*secret\.csv is outside the working directory .*; pass --allow-outside/);
      expect(r.out + r.err).not.toContain(CANARY);
      expect(r.out).toBe("");
      expect(snapshot(text.root)).toEqual(before);
    });
  }

  it("evaluate still follows the recorded dataPath where the path rule allows it", async () => {
    const r = await attnc("evaluate", text.base, "--backend", "wasm", "--format", "json", "--allow-outside");
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { classification: { count: number } }).classification.count).toBeGreaterThan(0);
  });
});

describe("damaged model directories exit 2 with the file and the field", () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    ["truncated weights", (dir) => truncateSync(weightsFile(dir), 1000), /weights\.g\d+\.bin: holds 1000 bytes, but model\.json's weights need exactly \d+/],
    ["empty weights", (dir) => writeFileSync(weightsFile(dir), ""), /weights\.g\d+\.bin: holds 0 bytes/],
    [
      "4 KB of extra weight bytes",
      (dir) => writeFileSync(weightsFile(dir), Buffer.concat([readFileSync(weightsFile(dir)), Buffer.alloc(4096)])),
      /holds \d+ bytes, but model\.json's weights need exactly/,
    ],
    [
      "a weight shape that disagrees",
      (dir) => editJson(join(dir, "model.json"), (m) => ((m["weightsManifest"] as { weights: { shape: number[] }[] }[])[0]!.weights[0]!.shape = [8, 64])),
      /model\.json: weightsManifest\[0\]\.weights\[0\]\.shape \[8,64\] disagrees with the layer, which has \[64, 8\]/,
    ],
    [
      "a dtype that disagrees",
      (dir) => editJson(join(dir, "model.json"), (m) => ((m["weightsManifest"] as { weights: { dtype: string }[] }[])[0]!.weights[1]!.dtype = "int32")),
      /model\.json: weightsManifest\[0\]\.weights\[1\]\.dtype must be "float32", not "int32"/,
    ],
    [
      "a weight missing from the manifest",
      (dir) => editJson(join(dir, "model.json"), (m) => (m["weightsManifest"] as { weights: unknown[] }[])[0]!.weights.pop()),
      /model\.json: weightsManifest\[0\]\.weights lacks weight label\/bias/,
    ],
    ["model.json that is not JSON", (dir) => writeFileSync(join(dir, "model.json"), '{"format": '), /model\.json is not valid JSON/],
    ["attnc.json that is not JSON", (dir) => writeFileSync(join(dir, "attnc.json"), "\u0000\u0001"), /attnc\.json is not valid JSON/],
    ["manifest.json that is not JSON", (dir) => writeFileSync(manifestOf(dir), "[1, 2"), /manifest\.json is not valid JSON/],
    [
      "a state file that is not an object",
      (dir) => writeFileSync(join(dir, (JSON.parse(readFileSync(manifestOf(dir), "utf8")) as { state: string }).state), "42"),
      /state\.g\d+\.json: the document must be an object/,
    ],
    [
      "an unknown op in the IR",
      (dir) => editJson(join(dir, "attnc.json"), (m) => ((m["ir"] as { nodes: { op: string }[] }).nodes[1]!.op = "conv2d")),
      /attnc\.json: ir\.nodes\[1\]\.op "conv2d" is not one attnc knows/,
    ],
    [
      "an unknown layer class",
      (dir) =>
        editJson(
          join(dir, "model.json"),
          (m) => ((m["modelTopology"] as { config: { layers: { class_name: string }[] } }).config.layers[1]!.class_name = "Lambda"),
        ),
      /model\.json: modelTopology\.config\.layers\[1\]\.class_name "Lambda" is not one attnc knows/,
    ],
    ["missing prep", (dir) => editJson(join(dir, "attnc.json"), (m) => delete m["prep"]), /attnc\.json: lacks "prep"/],
    [
      "a maxLen that disagrees with the input",
      // The data block says the same (else the prep would disagree with it first).
      (dir) =>
        editJson(join(dir, "attnc.json"), (m) => {
          (m["prep"] as { maxLen: number }).maxLen = 25;
          (m["data"] as { tokenizer: { max_len: number } }).tokenizer.max_len = 25;
        }),
      /attnc\.json: prep\.maxLen 25 disagrees with the model's input \[B, 24\]/,
    ],
    [
      "a maxLen of 3e8",
      (dir) => editJson(join(dir, "attnc.json"), (m) => ((m["prep"] as { maxLen: number }).maxLen = 3e8)),
      /attnc\.json: prep\.maxLen must be <= 65536, not 300000000/,
    ],
    [
      "empty labels",
      (dir) => editJson(join(dir, "attnc.json"), (m) => ((m["prep"] as { labels: string[] }).labels = [])),
      /attnc\.json: prep\.labels must have at least 2 items/,
    ],
    [
      "labels that disagree with the output",
      (dir) => editJson(join(dir, "attnc.json"), (m) => ((m["prep"] as { labels: string[] }).labels = ["a", "b", "c"])),
      /attnc\.json: prep\.labels has 3 labels, but the model's output has 2 units/,
    ],
    [
      "a vocabulary of 1e9 rows",
      (dir) =>
        editJson(
          join(dir, "model.json"),
          (m) => ((m["modelTopology"] as { config: { layers: { config: Record<string, unknown> }[] } }).config.layers[1]!.config["vocab"] = 1e9),
        ),
      /model\.json: modelTopology\.config\.layers\[1\] would create weight embedding\/embeddings of shape \[1000000000, 8\]/,
    ],
    [
      "a __proto__ key in attnc.json",
      (dir) => writeFileSync(join(dir, "attnc.json"), readFileSync(join(dir, "attnc.json"), "utf8").replace("{", '{"__proto__": {"polluted": true},')),
      /attnc\.json: the document has an unknown field "__proto__"/,
    ],
  ];
  for (const [name, tamper, message] of cases) {
    it(name, async () => {
      await refused(text, name.replace(/\W+/g, "-"), tamper, "predict", message);
      expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    });
  }

  it("a forecaster without prep", async () => {
    await refused(series, "series-no-prep", (dir) => editJson(join(dir, "attnc.json"), (m) => delete m["prep"]), "evaluate", /attnc\.json: lacks "prep"/);
  });

  it("a forecaster whose features disagree with its input", async () => {
    await refused(
      series,
      "series-features",
      (dir) =>
        editJson(join(dir, "attnc.json"), (m) => {
          (m["prep"] as { features: string[] }).features.pop();
          (m["data"] as { source: { features: string[] } }).source.features.pop();
        }),
      "evaluate",
      /attnc\.json: prep\.features has 3 features, but the model's input is \[B, 7, 4\]/,
    );
  });

  it("train --resume on a damaged directory changes nothing in it", async () => {
    await refused(text, "resume-damaged", (dir) => truncateSync(weightsFile(dir), 12), "resume", /weights\.g\d+\.bin: holds 12 bytes/);
  });

  it("real directories validate against the schemas, and the loader accepts them", async () => {
    const v = await loadDirValidators();
    for (const ws of [text, series]) {
      const manifest = JSON.parse(readFileSync(manifestOf(ws.base), "utf8")) as { files: string[] };
      expect(schemaProblem(v.manifest, manifest)).toBeNull();
      expect(schemaProblem(v.model, JSON.parse(readFileSync(join(ws.base, "model.json"), "utf8")))).toBeNull();
      expect(schemaProblem(v.meta, JSON.parse(readFileSync(join(ws.base, "attnc.json"), "utf8")))).toBeNull();
      expect(manifest.files.sort()).toEqual(
        readdirSync(ws.base)
          .filter((f) => f !== "history.png")
          .sort(),
      );
    }
    const r = await run(series, "evaluate", series.base);
    expect(r.code, r.err).toBe(0);
  });
});

describe("attnc deletes and overwrites only its own files", () => {
  it("train --out refuses a folder of other files, names --force, and --force keeps them through checkpoints", async () => {
    const v = join(text.root, "v");
    mkdirSync(v);
    writeFileSync(join(v, "notes.tmp"), "mine");
    writeFileSync(join(v, "backup.g7.json"), "{}");
    const refusedRun = await attnc("train", TEXT, "--out", v, "--allow-outside", "--epochs", "1", "--backend", "wasm");
    expect(refusedRun.code).toBe(2);
    expect(refusedRun.err).toMatch(/--out .*v holds files that are not an attnc model directory; .*pass --force/);
    expect(readdirSync(v).sort()).toEqual(["backup.g7.json", "notes.tmp"]);
    const forced = await attnc("train", TEXT, "--out", v, "--allow-outside", "--epochs", "2", "--force", "--backend", "wasm");
    expect(forced.code, forced.err).toBe(0);
    const resumed = await attnc("train", TEXT, "--out", v, "--allow-outside", "--epochs", "3", "--resume", "--backend", "wasm");
    expect(resumed.code, resumed.err).toBe(0);
    expect(readFileSync(join(v, "notes.tmp"), "utf8")).toBe("mine");
    expect(readFileSync(join(v, "backup.g7.json"), "utf8")).toBe("{}");
    // Several checkpoints later, only the newest generation's files and the user's are left.
    const g = (JSON.parse(readFileSync(join(v, "manifest.json"), "utf8")) as { generation: number }).generation;
    expect(g).toBeGreaterThan(2);
    expect(
      readdirSync(v)
        .filter((f) => /\.g\d+\./.test(f))
        .sort(),
    ).toEqual(["backup.g7.json", `optimizer.g${g}.bin`, `optimizer.g${g}.json`, `state.g${g}.json`, `weights.g${g}.bin`]);
  });

  it("train --out naming a file is exit 2 and leaves the file alone", async () => {
    const f = join(text.root, "a-file");
    writeFileSync(f, "data");
    const r = await attnc("train", TEXT, "--out", f, "--allow-outside", "--force", "--epochs", "1");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot write .*a-file: it is a file, not a directory/);
    expect(readFileSync(f, "utf8")).toBe("data");
  });

  it("a directory of only attnc's own leftovers (no checkpoint yet) is accepted", async () => {
    const d = join(text.root, "leftovers");
    mkdirSync(d);
    writeFileSync(join(d, "weights.g1.bin.0123456789ab.tmp"), "x");
    const r = await attnc("train", TEXT, "--out", d, "--allow-outside", "--epochs", "1", "--backend", "wasm");
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(d, "weights.g1.bin.0123456789ab.tmp"))).toBe(false);
  });
});

describe("the runtime loader alone (generated programs' --resume) keeps its own checks", () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    [
      "a manifest path out of the directory",
      (dir) => editJson(manifestOf(dir), (m) => (m["weights"] = "../../canary/weights.g2.bin")),
      /manifest\.json: weights ".*" is not a plain file name/,
    ],
    [
      "a node name with ../",
      (dir) => editJson(join(dir, "attnc.json"), (m) => ((m["ir"] as { nodes: { name: string }[] }).nodes[0]!.name = "a/../../b")),
      /attnc\.json: ir\.nodes\[0\]\.name "a\/\.\.\/\.\.\/b" is not an identifier/,
    ],
    [
      "extra weight bytes",
      (dir) => writeFileSync(weightsFile(dir), Buffer.concat([readFileSync(weightsFile(dir)), Buffer.alloc(8)])),
      /holds \d+ bytes, but model\.json's weights need exactly/,
    ],
    [
      "a weight shape that disagrees with its layer",
      (dir) => editJson(join(dir, "model.json"), (m) => ((m["weightsManifest"] as { weights: { shape: number[] }[] }[])[0]!.weights[0]!.shape = [8, 64])),
      /model\.json: (weight embedding\/embeddings does not match the layer|TensorFlow\.js cannot build the model \(Shape mismatch: \[64,8\] vs\. \[8,64\]\))/,
    ],
    [
      "a maxLen of 3e8",
      (dir) => editJson(join(dir, "attnc.json"), (m) => ((m["prep"] as { maxLen: number }).maxLen = 3e8)),
      /attnc\.json: prep\.maxLen must be a whole number from 1 to 65536/,
    ],
    [
      "a weights file linked out of the directory",
      (dir) => {
        const w = weightsFile(dir);
        rmSync(w);
        symlinkSync(join(text.canary, relative(dir, w)), w);
      },
      /is a symbolic link leading outside the directory/,
    ],
  ];
  for (const [name, tamper, message] of cases) {
    it(name, async () => {
      const dir = copyOf(text, `runtime-${name.replace(/\W+/g, "-")}`);
      tamper(dir);
      const before = snapshot(text.root);
      const e = await loadModelDir(dir).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ModelDirError);
      expect((e as ModelDirError).message).toMatch(message);
      expect((e as ModelDirError).message.startsWith(`damaged model directory ${dir}: `)).toBe(true);
      expect(snapshot(text.root)).toEqual(before);
    });
  }
});
