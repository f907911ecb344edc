/**
 * The path rule, probe by probe and verb by verb: a symlink out of the project (file and folder), "..", an
 * absolute outside path, each refused with exit 2 and one message, and accepted with --allow-outside; build over
 * a spec, over a foreign file, over its own output; --out naming a file; a file name too long; reads of things
 * that are not files. Each case checks that nothing outside the temporary project directory changed.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attncIn, type Ran } from "../in-process.js";
import { runnableProgram } from "../programs.js";
import { attncMayReplace, ioError } from "../../src/cli/paths.js";
import { safeFileName } from "../../src/runtime/paths.js";

const root = mkdtempSync(join(tmpdir(), "attnc-paths-"));
/** The working directory of every run. */
const P = join(root, "project");
/** Outside it: canaries and a copy of everything, which no refused run may touch. */
const O = join(root, "outside");
let OREAL = "";

const SPEC = (source: string, model = "Tiny") => `model ${model} {
  input tokens: int[T]

  tokens
    -> embedding(vocab: 64, dim: 4, mask_zero: true)
    -> bilstm(units: 4)
    -> attention_pool(units: 4) as attn
    -> dense(2, activation: softmax) as label
}

data ${model} {
  source: csv(${JSON.stringify(source)}, text: "review", label: "sentiment")
  tokenizer: words(max_len: 16, vocab: 64)
  split: train 0.7, validation 0.15, test 0.15, seed 3
}

train ${model} {
  loss: cross_entropy
  batch: 32
  epochs: 1
  seed: 1
}
`;

/** Builds format long programs and training loads TensorFlow.js: generous on a busy machine. */
const SLOW = 300_000;

const REQUESTS = '{"review": "this lamp is perfect"}\n{"review": "terrible and broken"}\n';

/** Every file, directory and link under `dir` with its content hash and mtime. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d).sort()) {
      const abs = join(d, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out[key] = `link ${readlinkSync(abs)}`;
      else if (st.isDirectory()) {
        out[key] = `dir ${st.mtimeMs}`;
        walk(abs, key);
      } else out[key] = `file ${st.mtimeMs} ${createHash("sha256").update(readFileSync(abs)).digest("hex")}`;
    }
  };
  walk(dir, "");
  return out;
}

/** Runs attnc in the project and checks that the outside directory is exactly as it was. */
async function run(...args: string[]): Promise<Ran> {
  const before = snapshot(O);
  const r = await attncIn(P, ...args);
  expect(snapshot(O), `outside changed by: attnc ${args.join(" ")}`).toEqual(before);
  return r;
}

/** A refusal by the path rule: exit 2, the one message, no stack trace. */
function refused(r: Ran, what: string, shown: string, real: string): void {
  expect(r.code, r.err).toBe(2);
  expect(r.err).toContain(`attnc: ${what} ${shown} is outside the working directory (it resolves to ${real}); pass --allow-outside to use it\n`);
  expect(r.err).not.toMatch(/internal error|\n\s+at /);
}

function failed(r: Ran, message: string, code = 2): void {
  expect(r.code, r.err).toBe(code);
  expect(r.err).toContain(`attnc: ${message}\n`);
  expect(r.err).not.toMatch(/internal error|\n\s+at /);
}

beforeAll(async () => {
  mkdirSync(P);
  mkdirSync(O);
  OREAL = realpathSync(O);
  cpSync("specs/data/reviews.csv", join(P, "reviews.csv"));
  cpSync("specs/data/reviews.csv", join(O, "reviews.csv"));
  writeFileSync(join(O, "canary.txt"), "canary\n");
  writeFileSync(join(P, "tiny.attn"), SPEC("reviews.csv"));
  writeFileSync(join(P, "dotdot.attn"), SPEC("../outside/reviews.csv"));
  writeFileSync(join(P, "absolute.attn"), SPEC(join(O, "reviews.csv")));
  writeFileSync(join(P, "linked.attn"), SPEC("data-link.csv"));
  writeFileSync(join(P, "req.jsonl"), REQUESTS);
  writeFileSync(join(O, "req.jsonl"), REQUESTS);
  writeFileSync(join(O, "messy.attn"), "model   Messy {\n  input x: float[T, 3]\n  x -> lstm(units: 4) -> last -> dense(1)\n}\n");
  writeFileSync(join(P, "a-file"), "not a directory\n");
  symlinkSync(join(O, "reviews.csv"), join(P, "data-link.csv"));
  symlinkSync(join(O, "req.jsonl"), join(P, "req-link.jsonl"));
  symlinkSync(O, join(P, "out-link"));
  symlinkSync(join(O, "messy.attn"), join(P, "messy-link.attn"));
  // A link to a place outside that does not exist yet: writing through it would create it.
  symlinkSync(join(O, "not-yet"), join(P, "dangling"));
  symlinkSync(join(P, "loop-b"), join(P, "loop-a"));
  symlinkSync(join(P, "loop-a"), join(P, "loop-b"));
  const trained = await attncIn(P, "train", "tiny.attn", "--out", "m", "--backend", "wasm");
  expect(trained.code, trained.err).toBe(0);
  // A copy of the model outside; its data path ("../reviews.csv") names the outside copy of the data.
  cpSync(join(P, "m"), join(O, "m"), { recursive: true });
  symlinkSync(join(O, "m"), join(P, "model-link"));
  // A model directory inside whose attnc.json names a data file outside.
  cpSync(join(P, "m"), join(P, "hostile"), { recursive: true });
  const meta = JSON.parse(readFileSync(join(P, "hostile", "attnc.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(join(P, "hostile", "attnc.json"), JSON.stringify({ ...meta, dataPath: "../../outside/reviews.csv" }));
}, SLOW);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("train", { timeout: SLOW }, () => {
  it("a symlinked data file is refused; allowed with --allow-outside", async () => {
    refused(await run("train", "tiny.attn", "--data", "data-link.csv", "--out", "never"), "the data file", "data-link.csv", join(OREAL, "reviews.csv"));
    expect(existsSync(join(P, "never"))).toBe(false);
    const ok = await run("train", "tiny.attn", "--data", "data-link.csv", "--out", "m-link", "--allow-outside", "--backend", "wasm");
    expect(ok.code, ok.err).toBe(0);
    expect(existsSync(join(P, "m-link", "manifest.json"))).toBe(true);
  });

  it("a data path the spec names with .. or as an absolute path is refused", async () => {
    refused(await run("train", "dotdot.attn", "--out", "never"), "the data file", join(OREAL, "reviews.csv"), join(OREAL, "reviews.csv"));
    refused(await run("train", "absolute.attn", "--out", "never"), "the data file", join(OREAL, "reviews.csv"), join(OREAL, "reviews.csv"));
    refused(await run("train", "linked.attn", "--out", "never"), "the data file", "data-link.csv", join(OREAL, "reviews.csv"));
    refused(
      await run("train", "tiny.attn", "--data", join(O, "reviews.csv"), "--out", "never"),
      "the data file",
      join(OREAL, "reviews.csv"),
      join(OREAL, "reviews.csv"),
    );
    expect(existsSync(join(P, "never"))).toBe(false);
  });

  it("an output folder through a symlink, with .. or absolute is refused", async () => {
    refused(await run("train", "tiny.attn", "--out", "out-link/m"), "the output directory", "out-link/m", join(OREAL, "m"));
    refused(await run("train", "tiny.attn", "--out", "../outside/new"), "the output directory", join(OREAL, "new"), join(OREAL, "new"));
    refused(await run("train", "tiny.attn", "--out", join(O, "new")), "the output directory", join(OREAL, "new"), join(OREAL, "new"));
  });

  it("an output folder through a dangling symlink, or a symlink loop, is refused", async () => {
    refused(await run("train", "tiny.attn", "--out", "dangling"), "the output directory", "dangling", join(OREAL, "not-yet"));
    refused(await run("train", "tiny.attn", "--out", "dangling/m"), "the output directory", "dangling/m", join(OREAL, "not-yet", "m"));
    failed(await run("train", "tiny.attn", "--out", "loop-a/m"), "cannot use the output directory loop-a/m: too many symbolic links");
    expect(existsSync(join(O, "not-yet"))).toBe(false);
  });

  it("a file-system error while training is 'cannot write PATH: reason', exit 2", () => {
    const io = { cwd: P, env: {}, stdout: { write: () => true }, stderr: { write: () => true } };
    const error = (fn: () => void): unknown => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      throw new Error("no error");
    };
    // The model directory's writes go through <file>.<12 hex>.tmp and a rename.
    const tmpFile = error(() => writeFileSync(join(P, "a-file", "model.json.0123456789ab.tmp"), "x"));
    expect((ioError(io, tmpFile, "m") as Error).message).toBe("cannot write a-file/model.json: a part of the path is not a directory");
    mkdirSync(join(P, "a-dir", "history.svg"), { recursive: true });
    writeFileSync(join(P, "a-dir", "history.svg.0123456789ab.tmp"), "x");
    const rename = error(() => renameSync(join(P, "a-dir", "history.svg.0123456789ab.tmp"), join(P, "a-dir", "history.svg")));
    expect((ioError(io, rename, "a-dir") as Error).message).toBe("cannot write a-dir/history.svg: is a directory");
    const mkdir = error(() => mkdirSync(join(P, "a-file", "m"), { recursive: true }));
    expect(ioError(io, mkdir, "a-file/m")).toMatchObject({ exitCode: 2, message: expect.stringMatching(/^cannot write a-file(\/m)?: /) });
    const plain = new Error("not a file-system error");
    expect(ioError(io, plain, "m")).toBe(plain);
  });

  it("--out naming a file, or a name too long, is exit 2 before any training", async () => {
    failed(await run("train", "tiny.attn", "--out", "a-file"), "cannot write a-file: it is a file, not a directory");
    failed(await run("train", "tiny.attn", "--out", "a-file/m"), "cannot write a-file/m: a-file is a file, not a directory");
    const long = "d".repeat(300);
    failed(await run("train", "tiny.attn", "--out", long), `cannot write ${long}: file name too long`);
  });

  it("a data file that is a device or a directory is refused", async () => {
    // Not a usable data file: a data error (exit 1), found before a backend loads.
    failed(
      await run("train", "tiny.attn", "--data", "/dev/zero", "--out", "never", "--allow-outside"),
      "/dev/zero: is a device; a data file is read more than once, so it must be a regular file",
      1,
    );
    mkdirSync(join(P, "data-dir"), { recursive: true });
    failed(await run("train", "tiny.attn", "--data", "data-dir", "--out", "never"), "data-dir: is a directory, not a data file", 1);
    expect(existsSync(join(P, "never"))).toBe(false);
  });
});

describe("evaluate", { timeout: SLOW }, () => {
  it("a model directory outside (symlink, .., absolute) is refused; allowed with --allow-outside", async () => {
    refused(await run("evaluate", "model-link"), "the model directory", "model-link", join(OREAL, "m"));
    refused(await run("evaluate", "../outside/m"), "the model directory", join(OREAL, "m"), join(OREAL, "m"));
    refused(await run("evaluate", join(O, "m")), "the model directory", join(OREAL, "m"), join(OREAL, "m"));
    const ok = await run("evaluate", "model-link", "--allow-outside", "--format", "json");
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ split: "test" });
  });

  it("a data file outside (--data symlink, .., absolute, or named by attnc.json) is refused", async () => {
    refused(await run("evaluate", "m", "--data", "data-link.csv"), "the data file", "data-link.csv", join(OREAL, "reviews.csv"));
    refused(await run("evaluate", "m", "--data", "../outside/reviews.csv"), "the data file", join(OREAL, "reviews.csv"), join(OREAL, "reviews.csv"));
    refused(await run("evaluate", "m", "--data", join(O, "reviews.csv")), "the data file", join(OREAL, "reviews.csv"), join(OREAL, "reviews.csv"));
    refused(await run("evaluate", "hostile"), "the data file", join(OREAL, "reviews.csv"), join(OREAL, "reviews.csv"));
    const ok = await run("evaluate", "m", "--data", "data-link.csv", "--allow-outside");
    expect(ok.code, ok.err).toBe(0);
    failed(
      await run("evaluate", "m", "--data", "/dev/zero", "--allow-outside"),
      "/dev/zero: is a device; a data file is read more than once, so it must be a regular file",
      1,
    );
  });
});

describe("predict", { timeout: SLOW }, () => {
  it("an input file outside (symlink, .., absolute) is refused; allowed with --allow-outside", async () => {
    refused(await run("predict", "m", "--input", "req-link.jsonl"), "the input file", "req-link.jsonl", join(OREAL, "req.jsonl"));
    refused(await run("predict", "m", "--input", "../outside/req.jsonl"), "the input file", join(OREAL, "req.jsonl"), join(OREAL, "req.jsonl"));
    refused(await run("predict", "m", "--input", join(O, "req.jsonl")), "the input file", join(OREAL, "req.jsonl"), join(OREAL, "req.jsonl"));
    const ok = await run("predict", "m", "--input", "req-link.jsonl", "--allow-outside");
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out.trim().split("\n")).toHaveLength(2);
  });

  it("a model directory outside is refused", async () => {
    refused(await run("predict", "model-link", "--input", "req.jsonl"), "the model directory", "model-link", join(OREAL, "m"));
    refused(await run("predict", "../outside/m", "--input", "req.jsonl"), "the model directory", join(OREAL, "m"), join(OREAL, "m"));
    const ok = await run("predict", join(O, "m"), "--input", "req.jsonl", "--allow-outside");
    expect(ok.code, ok.err).toBe(0);
  });

  it("an input that is a device, a directory or too large is refused", async () => {
    failed(
      await run("predict", "m", "--input", "/dev/zero", "--allow-outside"),
      "cannot read /dev/zero: it is a device; requests come from a regular file, a pipe, or standard input (--input -)",
    );
    failed(
      await run("predict", "m", "--input", "."),
      "cannot read .: it is a directory; requests come from a regular file, a pipe, or standard input (--input -)",
    );
    // Requests are read as they come, a line at a time: a line longer than 1 MiB stops the run where it starts.
    writeFileSync(join(P, "huge.jsonl"), Buffer.alloc(2 * 1024 * 1024 + 1, 0x20));
    failed(
      await run("predict", "m", "--input", "huge.jsonl"),
      "huge.jsonl:1: this line is longer than 1048576 bytes (1 MiB), the most a request may have; stopped reading",
      1,
    );
    rmSync(join(P, "huge.jsonl"));
  });
});

describe("explain", { timeout: SLOW }, () => {
  it("an output folder through a symlink, with .. or absolute is refused; allowed with --allow-outside", async () => {
    refused(await run("explain", "m", "--input", "req.jsonl", "--out", "out-link/ex"), "the output directory", "out-link/ex", join(OREAL, "ex"));
    refused(await run("explain", "m", "--input", "req.jsonl", "--out", "../outside/ex"), "the output directory", join(OREAL, "ex"), join(OREAL, "ex"));
    refused(await run("explain", "m", "--input", "req.jsonl", "--out", join(O, "ex")), "the output directory", join(OREAL, "ex"), join(OREAL, "ex"));
    // The default, <model-dir>/explain, follows the rule too.
    refused(await run("explain", "model-link", "--input", "req.jsonl"), "the output directory", "model-link/explain", join(OREAL, "m", "explain"));
    refused(await run("explain", "m", "--input", "req-link.jsonl"), "the input file", "req-link.jsonl", join(OREAL, "req.jsonl"));
    refused(await run("explain", "m", "--input", "req.jsonl", "--out", "dangling"), "the output directory", "dangling", join(OREAL, "not-yet"));
    const before = snapshot(O);
    const ok = await attncIn(P, "explain", "m", "--input", "req.jsonl", "--out", "out-link/ex", "--allow-outside");
    expect(ok.code, ok.err).toBe(0);
    expect(
      readdirSync(join(O, "ex"))
        .filter((f) => f.endsWith(".svg"))
        .sort(),
    ).toEqual(["example-1-attn.svg", "example-2-attn.svg"]);
    rmSync(join(O, "ex"), { recursive: true });
    expect(snapshot(O)).toEqual(before);
  });

  it("--out naming a file, a name too long, or an SVG path taken by a directory is exit 2", async () => {
    failed(await run("explain", "m", "--input", "req.jsonl", "--out", "a-file"), "cannot write a-file: it is a file, not a directory");
    const long = "e".repeat(300);
    failed(await run("explain", "m", "--input", "req.jsonl", "--out", long), `cannot write ${long}: file name too long`);
    mkdirSync(join(P, "ex-taken", "example-1-attn.svg"), { recursive: true });
    failed(await run("explain", "m", "--input", "req.jsonl", "--out", "ex-taken"), "cannot write ex-taken/example-1-attn.svg: is a directory");
  });

  it("SVG names made from node names are safe file names whatever the name holds", () => {
    const names = ["attn", "../../etc/passwd", "..", ".hidden", "", "a/b", "a\\b", "x".repeat(300), "über\u0000nul", "a_b", "a-b"];
    const files = names.map(safeFileName);
    for (const f of files) {
      expect(f).toMatch(/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/);
      expect(f.length).toBeLessThanOrEqual(80);
    }
    expect(new Set(files).size).toBe(names.length);
    expect(safeFileName("attn")).toBe("attn");
  });
});

describe("verify", { timeout: SLOW }, () => {
  it("a data path the spec names outside (.., absolute, symlink) is refused", async () => {
    refused(await run("verify", "dotdot.attn", "--steps", "1"), "the data file", join(OREAL, "reviews.csv"), join(OREAL, "reviews.csv"));
    refused(await run("verify", "absolute.attn", "--steps", "1"), "the data file", join(OREAL, "reviews.csv"), join(OREAL, "reviews.csv"));
    refused(await run("verify", "linked.attn", "--steps", "1"), "the data file", "data-link.csv", join(OREAL, "reviews.csv"));
  });

  it("is allowed with --allow-outside", async () => {
    symlinkSync(resolve("node_modules"), join(P, "node_modules"));
    try {
      const ok = await run("verify", "dotdot.attn", "--steps", "1", "--allow-outside", "--backend", "wasm");
      expect(ok.code, ok.err).toBe(0);
      expect(ok.out).toMatch(/^ok Tiny: 1 steps on wasm/);
    } finally {
      rmSync(join(P, "node_modules"));
    }
  });
});

describe("build", { timeout: SLOW }, () => {
  it("--out through a symlink, with .. or absolute is refused; allowed with --allow-outside", async () => {
    refused(await run("build", "tiny.attn", "--out", "out-link/gen"), "the output directory", "out-link/gen", join(OREAL, "gen"));
    refused(await run("build", "tiny.attn", "--out", "../outside/gen"), "the output directory", join(OREAL, "gen"), join(OREAL, "gen"));
    refused(await run("build", "tiny.attn", "--out", join(O, "gen")), "the output directory", join(OREAL, "gen"), join(OREAL, "gen"));
    refused(await run("build", "tiny.attn", "--out", "out-link/gen", "--check"), "the output directory", "out-link/gen", join(OREAL, "gen"));
    const before = snapshot(O);
    const ok = await attncIn(P, "build", "tiny.attn", "--out", "out-link/gen", "--allow-outside");
    expect(ok.code, ok.err).toBe(0);
    expect(readdirSync(join(O, "gen")).sort()).toEqual(["Tiny.ir.json", "Tiny.ts", "attnc-runtime.ts"]);
    rmSync(join(O, "gen"), { recursive: true });
    expect(snapshot(O)).toEqual(before);
  });

  it("--out through a dangling symlink is refused and creates nothing", async () => {
    refused(await run("build", "tiny.attn", "--out", "dangling"), "the output directory", "dangling", join(OREAL, "not-yet"));
    expect(existsSync(join(O, "not-yet"))).toBe(false);
  });

  it("a spec outside is read, but its outputs beside it are refused", async () => {
    writeFileSync(join(O, "far.attn"), SPEC("reviews.csv", "Far"));
    try {
      expect((await run("check", join(O, "far.attn"))).code).toBe(0);
      refused(await run("build", join(O, "far.attn")), "the output directory", OREAL, OREAL);
      const ok = await run("build", join(O, "far.attn"), "--out", "far");
      expect(ok.code, ok.err).toBe(0);
      expect(readdirSync(join(P, "far")).sort()).toEqual(["Far.ir.json", "Far.ts", "attnc-runtime.ts"]);
    } finally {
      rmSync(join(O, "far.attn"));
    }
  });

  it("an output file that is a symlink out of the project is refused", async () => {
    mkdirSync(join(P, "gen-linked"));
    symlinkSync(join(O, "canary.txt"), join(P, "gen-linked", "Tiny.ir.json"));
    refused(await run("build", "tiny.attn", "--out", "gen-linked"), "the output file", "gen-linked/Tiny.ir.json", join(OREAL, "canary.txt"));
    expect(existsSync(join(P, "gen-linked", "Tiny.ts"))).toBe(false);
  });

  it("never writes over the spec it builds", async () => {
    mkdirSync(join(P, "self"));
    writeFileSync(join(P, "self", "Self.ir.json"), SPEC("../reviews.csv", "Self"));
    const spec = readFileSync(join(P, "self", "Self.ir.json"));
    failed(await run("build", "self/Self.ir.json"), "refusing to overwrite self/Self.ir.json: it is a spec being built");
    expect(readFileSync(join(P, "self", "Self.ir.json"))).toEqual(spec);
    expect(existsSync(join(P, "self", "Self.ts"))).toBe(false);
  });

  it("never writes over a file attnc did not write (a program, an IR, the runtime's own sources)", async () => {
    mkdirSync(join(P, "foreign"));
    writeFileSync(join(P, "foreign", "Tiny.ts"), "export const mine = 1;\n");
    failed(await run("build", "tiny.attn", "--out", "foreign"), "refusing to overwrite foreign/Tiny.ts: not written by attnc");
    expect(readFileSync(join(P, "foreign", "Tiny.ts"), "utf8")).toBe("export const mine = 1;\n");
    expect(existsSync(join(P, "foreign", "Tiny.ir.json"))).toBe(false);
    writeFileSync(join(P, "foreign", "Tiny.ts"), "// Code generated by attnc from x.attn. DO NOT EDIT.\n");
    writeFileSync(join(P, "foreign", "Tiny.ir.json"), '{"hello": "world"}\n');
    failed(await run("build", "tiny.attn", "--out", "foreign"), "refusing to overwrite foreign/Tiny.ir.json: not written by attnc");
    expect(readFileSync(join(P, "foreign", "Tiny.ir.json"), "utf8")).toBe('{"hello": "world"}\n');
    // A model named like a runtime module, built into a copy of the runtime.
    cpSync("src/runtime", join(P, "runtime"), { recursive: true });
    writeFileSync(join(P, "program.attn"), SPEC("reviews.csv", "program"));
    const original = readFileSync(join(P, "runtime", "program.ts"), "utf8");
    failed(await run("build", "program.attn", "--out", "runtime"), "refusing to overwrite runtime/program.ts: not written by attnc");
    expect(readFileSync(join(P, "runtime", "program.ts"), "utf8")).toBe(original);
  });

  it("replaces its own previous output", async () => {
    const first = await run("build", "tiny.attn", "--out", "own");
    expect(first.code, first.err).toBe(0);
    const text = readFileSync(join(P, "own", "Tiny.ir.json"), "utf8");
    const ir = JSON.parse(text) as Record<string, unknown>;
    writeFileSync(join(P, "own", "Tiny.ir.json"), JSON.stringify({ ...ir, params: 1 }));
    writeFileSync(join(P, "own", "Tiny.ts"), "// Code generated by attnc from an older spec. DO NOT EDIT.\nexport {};\n");
    const again = await run("build", "tiny.attn", "--out", "own");
    expect(again.code, again.err).toBe(0);
    expect(again.out).toBe("wrote own/Tiny.ir.json\nwrote own/Tiny.ts\nwrote own/attnc-runtime.ts\n");
    expect(readFileSync(join(P, "own", "Tiny.ir.json"), "utf8")).toBe(text);
    expect(readFileSync(join(P, "own", "Tiny.ts"), "utf8")).toMatch(/^\/\/ Code generated by attnc from \.\.\/tiny\.attn\./);
    expect((await run("build", "tiny.attn", "--out", "own", "--check")).code).toBe(0);
  });

  it("--out naming a file, or a model name too long for a file name, is exit 2 and writes nothing", async () => {
    failed(await run("build", "tiny.attn", "--out", "a-file"), "cannot write a-file: it is a file, not a directory");
    failed(await run("build", "tiny.attn", "--out", "a-file/sub"), "cannot write a-file/sub: a-file is a file, not a directory");
    expect(readFileSync(join(P, "a-file"), "utf8")).toBe("not a directory\n");
    const spec = readFileSync(join(P, "tiny.attn"), "utf8");
    failed(await run("build", "tiny.attn", "--out", "tiny.attn"), "cannot write tiny.attn: it is a file, not a directory");
    expect(readFileSync(join(P, "tiny.attn"), "utf8")).toBe(spec);
    const long = "M".repeat(300);
    writeFileSync(join(P, "long.attn"), SPEC("reviews.csv", long));
    failed(await run("build", "long.attn", "--out", "long-out"), `cannot write long-out/${long}.ir.json: file name too long`);
    expect(existsSync(join(P, "long-out"))).toBe(false);
  });

  it("an output path taken by a directory is not attnc's to replace", async () => {
    mkdirSync(join(P, "taken", "Tiny.ir.json"), { recursive: true });
    failed(await run("build", "tiny.attn", "--out", "taken"), "refusing to overwrite taken/Tiny.ir.json: not written by attnc");
  });
});

describe("the file attnc may replace", () => {
  const io = () => ({ cwd: P, env: {}, stdout: { write: () => true }, stderr: { write: () => true } });
  it("is absent, or a regular file with attnc's IR or generated header, per kind", () => {
    mkdirSync(join(P, "kinds"), { recursive: true });
    const put = (name: string, text: string) => writeFileSync(join(P, "kinds", name), text);
    expect(attncMayReplace(io(), "kinds/none.ts", "runtime")).toBe(true);
    put("attnc-runtime.ts", "// Code generated by attnc: the runtime. DO NOT EDIT.\n");
    expect(attncMayReplace(io(), "kinds/attnc-runtime.ts", "runtime")).toBe(true);
    put("other-runtime.ts", "/** hand-written */\n// Code generated by attnc\n");
    expect(attncMayReplace(io(), "kinds/other-runtime.ts", "runtime")).toBe(false);
    put("M.ir.json", readFileSync("generated/Forecast.ir.json", "utf8"));
    expect(attncMayReplace(io(), "kinds/M.ir.json", "ir")).toBe(true);
    expect(attncMayReplace(io(), "kinds/M.ir.json", "program")).toBe(false);
    put("bad.ir.json", "{ not json");
    expect(attncMayReplace(io(), "kinds/bad.ir.json", "ir")).toBe(false);
    symlinkSync(join(P, "kinds", "M.ir.json"), join(P, "kinds", "link.ir.json"));
    expect(attncMayReplace(io(), "kinds/link.ir.json", "ir")).toBe(false);
  });
});

describe("fmt", () => {
  it("rewrites a spec outside only with --allow-outside; --check only reads", async () => {
    const messy = join(O, "messy.attn");
    refused(await run("fmt", messy), "the spec", join(OREAL, "messy.attn"), join(OREAL, "messy.attn"));
    refused(await run("fmt", "messy-link.attn"), "the spec", "messy-link.attn", join(OREAL, "messy.attn"));
    const checked = await run("fmt", "--check", messy);
    expect(checked.code).toBe(1);
    expect(checked.err).toContain("is not formatted");
    const copy = join(root, "messy-copy.attn");
    cpSync(messy, copy);
    const ok = await attncIn(P, "fmt", copy, "--allow-outside");
    expect(ok.code, ok.err).toBe(0);
    expect(readFileSync(copy, "utf8")).not.toBe(readFileSync(messy, "utf8"));
    rmSync(copy);
  });
});

describe("spec reads (check, inspect, and every verb that reads a spec)", () => {
  it("refuse a device, a directory, a socket and a spec over 10 MiB; read a spec by an absolute path", async () => {
    failed(await run("check", "/dev/zero"), "cannot read /dev/zero: is a device, not a regular file");
    failed(await run("inspect", "/dev/zero"), "cannot read /dev/zero: is a device, not a regular file");
    failed(await run("train", "/dev/zero"), "cannot read /dev/zero: is a device, not a regular file");
    failed(await run("check", "."), "cannot read .: is a directory");
    writeFileSync(join(P, "big.attn"), Buffer.alloc(10 * 1024 * 1024 + 1, 0x20));
    failed(await run("check", "big.attn"), "cannot read big.attn: larger than 10 MiB, the limit for specs");
    rmSync(join(P, "big.attn"));
    const server: Server = createServer();
    await new Promise<void>((done) => server.listen(join(P, "sock.attn"), done));
    try {
      failed(await run("check", "sock.attn"), "cannot read sock.attn: is a socket, not a regular file");
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
    expect((await run("check", join(P, "tiny.attn"))).code).toBe(0);
    expect((await run("inspect", join(P, "tiny.attn"))).code).toBe(0);
  });
});

describe("the generated program", { timeout: SLOW }, () => {
  let program = "";
  beforeAll(async () => {
    const built = await attncIn(P, "build", "tiny.attn", "--out", "gen");
    expect(built.code, built.err).toBe(0);
    program = await runnableProgram(join(P, "gen"), "Tiny");
    symlinkSync(resolve("node_modules"), join(P, "gen", "node_modules"));
  }, SLOW);

  const runProgram = (...args: string[]) => {
    const before = snapshot(O);
    const r = spawnSync(process.execPath, [program, ...args, "--backend", "wasm"], { cwd: P, encoding: "utf8" });
    expect(snapshot(O)).toEqual(before);
    return r;
  };
  const programRefused = (r: ReturnType<typeof runProgram>, what: string, shown: string, real: string) => {
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${what} ${shown} is outside the working directory (it resolves to ${real}); pass --allow-outside to use it\n`);
  };

  it("refuses --data and --out outside the working directory (symlink, .., absolute)", () => {
    programRefused(runProgram("--data", "data-link.csv", "--out", "never"), "the data file", "data-link.csv", join(OREAL, "reviews.csv"));
    programRefused(runProgram("--data", "../outside/reviews.csv", "--out", "never"), "the data file", join(OREAL, "reviews.csv"), join(OREAL, "reviews.csv"));
    programRefused(runProgram("--out", "out-link/m"), "the output directory", "out-link/m", join(OREAL, "m"));
    programRefused(runProgram("--out", join(O, "new")), "the output directory", join(OREAL, "new"), join(OREAL, "new"));
    expect(existsSync(join(P, "never"))).toBe(false);
  });

  it("reads outside with --allow-outside; refuses a device; a write failure is exit 2", () => {
    const ok = runProgram("--data", "data-link.csv", "--out", "prog-m", "--allow-outside", "--steps", "1");
    expect(ok.status, ok.stderr).toBe(0);
    expect(existsSync(join(P, "prog-m", "manifest.json"))).toBe(true);
    const dev = runProgram("--data", "/dev/zero", "--out", "never", "--allow-outside");
    expect(dev.status).toBe(1);
    expect(dev.stderr).toContain("/dev/zero: is a device; a data file is read more than once, so it must be a regular file\n");
    const file = runProgram("--out", "a-file", "--steps", "1");
    expect(file.status, file.stderr).toBe(2);
    expect(file.stderr).toMatch(
      /cannot write a-file: (a file of that name is in the way|a part of the path is not a directory|it is a file, not a directory)\n/,
    );
    expect(file.stderr).not.toMatch(/\n\s+at /);
  });
});
