import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = resolve("bin/attnc.js");

/** Runs the built CLI as a user would, in `cwd`, without a terminal. */
function attnc(args: string[], cwd = process.cwd(), env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", env: { PATH: process.env["PATH"] ?? "", ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sandbox(): string {
  const dir = mkdtempSync(join(tmpdir(), "attnc-cli-"));
  cpSync("specs", join(dir, "specs"), { recursive: true });
  return dir;
}

const noStackTrace = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe("attnc check", () => {
  it("exits 0 and prints nothing for valid specs but a warning of their data: co2.csv skips months", () => {
    const r = attnc(["check", "specs/sentiment.attn", "specs/forecast.attn", "--format", "plain"]);
    expect(r).toMatchObject({ code: 0, stdout: "" });
    const lines = r.stderr.split("\n").filter((l) => / - (error|warning) /.test(l));
    expect(lines).toEqual([
      'specs/forecast.attn:14:37 - warning ATN4026: specs/data/co2.csv:5 (column "Date"): about 1 step missing between "1958-05-01" and "1958-07-01" (the series steps by a month); 3 gaps in all, about 5 missing steps: a window across a gap spans more time than its length says',
    ]);
  });

  it("exits 1 with file:line:col, code, source line and underline", () => {
    const r = attnc(["check", "specs/errors/unknown_argument.attn"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(readFileSync("specs/errors/unknown_argument.errors.txt", "utf8").replace(/\nexit code 1\n$/, ""));
  });

  it("pretty adds colour and a summary; NO_COLOR turns colour off", () => {
    const colored = attnc(["check", "--format", "pretty", "specs/errors/negative_units.attn"], undefined, { FORCE_COLOR: "1" });
    expect(colored.stderr).toContain("\u001b[31m");
    expect(colored.stderr).toContain("Found 3 errors.");
    const plain = attnc(["check", "--format", "pretty", "specs/errors/negative_units.attn"], undefined, { FORCE_COLOR: "1", NO_COLOR: "1" });
    expect(plain.stderr).not.toContain("\u001b[");
    expect(plain.code).toBe(1);
  });

  it("json prints the diagnostics as data on stdout", () => {
    const r = attnc(["check", "--format", "json", "specs/errors/unknown_layer.attn"]);
    expect(r.code).toBe(1);
    const diags = JSON.parse(r.stdout) as { code: string; file: string; span: { line: number; column: number }; suggestion: string }[];
    expect(diags).toEqual([
      expect.objectContaining({
        code: "ATN2001",
        file: "specs/errors/unknown_layer.attn",
        suggestion: "bilstm",
        span: expect.objectContaining({ line: 3, column: 29 }),
      }),
    ]);
  });

  it("github prints workflow annotations", () => {
    const r = attnc(["check", "--format", "github", "specs/errors/unknown_layer.attn"]);
    expect(r.stderr).toBe(
      "::error file=specs/errors/unknown_layer.attn,line=3,col=29,endLine=3,endColumn=35,title=ATN2001::unknown layer 'bilstn'; did you mean 'bilstm'?\n",
    );
  });

  it("exits 2 without a stack trace for a missing file, a directory, an unknown option or verb", () => {
    for (const args of [
      ["check", "nope.attn"],
      ["check", "specs"],
      ["check", "--bogus", "specs/sentiment.attn"],
      ["compile", "x"],
      ["check", "--format", "xml", "specs/sentiment.attn"],
    ]) {
      const r = attnc(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.length).toBeGreaterThan(0);
      noStackTrace(r.stderr);
    }
    expect(attnc(["check", "nope.attn"]).stderr).toBe("attnc: cannot read nope.attn: no such file or directory\n");
  });

  it("reports several files together and fails if any fails", () => {
    const r = attnc(["check", "specs/sentiment.attn", "specs/errors/unknown_layer.attn", "specs/errors/unknown_dtype.attn"]);
    expect(r.code).toBe(1);
    expect(r.stderr.match(/error ATN/g)).toHaveLength(2);
  });
});

describe("attnc build", () => {
  it("writes the IR and the training program of each model, identical bytes on a second run and in another directory", () => {
    const a = sandbox();
    const r1 = attnc(["build", "specs/sentiment.attn", "specs/forecast.attn", "--out", "out"], a);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toBe(
      "wrote out/Sentiment.ir.json\nwrote out/Sentiment.ts\nwrote out/attnc-runtime.ts\nwrote out/Forecast.ir.json\nwrote out/Forecast.ts\n",
    );
    const first = readFileSync(join(a, "out/Sentiment.ir.json"), "utf8");
    expect(attnc(["build", "specs/sentiment.attn", "specs/forecast.attn", "--out", "out"], a).code).toBe(0);
    expect(readFileSync(join(a, "out/Sentiment.ir.json"), "utf8")).toBe(first);
    expect(first).toBe(readFileSync("generated/Sentiment.ir.json", "utf8"));
    expect(readFileSync(join(a, "out/Sentiment.ts"), "utf8")).toBe(readFileSync("generated/Sentiment.ts", "utf8"));
    expect(readFileSync(join(a, "out/attnc-runtime.ts"), "utf8")).toBe(readFileSync("generated/attnc-runtime.ts", "utf8"));
    expect(readdirSync(join(a, "out")).sort()).toEqual(["Forecast.ir.json", "Forecast.ts", "Sentiment.ir.json", "Sentiment.ts", "attnc-runtime.ts"]);
    expect(first).not.toMatch(/\/tmp|\/work|attnc-cli/);
  });

  it("writes nothing at all when any spec has an error", () => {
    const a = sandbox();
    const r = attnc(["build", "specs/sentiment.attn", "specs/errors/unknown_layer.attn", "--out", "out"], a);
    expect(r.code).toBe(1);
    expect(existsSync(join(a, "out"))).toBe(false);
  });

  it("--check names stale and missing files and exits 1, then 0 once built", () => {
    const a = sandbox();
    const stale = attnc(["build", "specs/forecast.attn", "specs/sentiment.attn", "--out", "out", "--check"], a);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("out/Forecast.ir.json is missing");
    attnc(["build", "specs/forecast.attn", "specs/sentiment.attn", "--out", "out"], a);
    // A stale IR (still an IR, so the build may replace it).
    writeFileSync(join(a, "out/Forecast.ir.json"), readFileSync(join(a, "out/Forecast.ir.json"), "utf8").replace(/"irVersion": [^,]+,/, '"irVersion": 0,'));
    const edited = attnc(["build", "specs/forecast.attn", "specs/sentiment.attn", "--out", "out", "--check"], a);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toContain("out/Forecast.ir.json is out of date");
    expect(edited.stderr).not.toContain("Sentiment");
    attnc(["build", "specs/forecast.attn", "--out", "out"], a);
    expect(attnc(["build", "specs/forecast.attn", "specs/sentiment.attn", "--out", "out", "--check"], a).code).toBe(0);
    // A hand edit of a generated program is caught too.
    writeFileSync(join(a, "out/Sentiment.ts"), `${readFileSync(join(a, "out/Sentiment.ts"), "utf8")}// edited\n`);
    const prog = attnc(["build", "specs/forecast.attn", "specs/sentiment.attn", "--out", "out", "--check"], a);
    expect(prog.code).toBe(1);
    expect(prog.stderr).toContain("out/Sentiment.ts is out of date");
  });

  it("check:generated passes on the repository", () => {
    expect(
      attnc([
        "build",
        ...readdirSync("specs")
          .filter((f) => f.endsWith(".attn"))
          .map((f) => `specs/${f}`),
        "--out",
        "generated",
        "--check",
      ]).code,
    ).toBe(0);
  });

  it("refuses two specs that would write the same file", () => {
    const a = sandbox();
    cpSync(join(a, "specs/forecast.attn"), join(a, "specs/copy.attn"));
    const r = attnc(["build", "specs/forecast.attn", "specs/copy.attn", "--out", "out"], a);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("both define model Forecast");
  });
});

describe("attnc inspect", () => {
  it("prints a Keras-like table with shapes, masks, params and totals", () => {
    const r = attnc(["inspect", "specs/sentiment.attn"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Model Sentiment  (T = 200)");
    expect(r.stdout).toMatch(/embedding\s+embedding\s+tokens\s+\[B, T, 128\]\s+yes\s+2,560,000/);
    expect(r.stdout).toMatch(/attn\.weights\s+\[B, T\]/);
    expect(r.stdout).toContain("Total params: 2,667,394 (10.2 MiB as float32)");
  });

  it("prints the same summary as JSON", () => {
    const r = attnc(["inspect", "specs/forecast.attn", "--format", "json"]);
    const [m] = JSON.parse(r.stdout) as { model: string; params: number; nodes: { name: string; shape: unknown[] }[] }[];
    expect(m!.model).toBe("Forecast");
    expect(m!.nodes.find((n) => n.name === "enc")!.shape).toEqual(["B", "T", 64]);
  });
});

describe("attnc fmt", () => {
  it("--check passes on specs/ and fails on a messy file without touching it", () => {
    expect(
      attnc([
        "fmt",
        "--check",
        ...readdirSync("specs")
          .filter((f) => f.endsWith(".attn"))
          .map((f) => `specs/${f}`),
      ]).code,
    ).toBe(0);
    const a = sandbox();
    cpSync("test/fixtures/fmt/messy.attn", join(a, "messy.attn"));
    const before = readFileSync(join(a, "messy.attn"), "utf8");
    const r = attnc(["fmt", "--check", "messy.attn"], a);
    expect(r).toMatchObject({ code: 1, stderr: "messy.attn is not formatted\n" });
    expect(readFileSync(join(a, "messy.attn"), "utf8")).toBe(before);
    expect(attnc(["fmt", "messy.attn"], a).stdout).toBe("formatted messy.attn\n");
    expect(attnc(["fmt", "--check", "messy.attn"], a).code).toBe(0);
    expect(readdirSync(a).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("refuses to format a spec with syntax errors", () => {
    const r = attnc(["fmt", "specs/errors/missing_paren.attn"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ATN1010");
  });
});

describe("help and version", () => {
  it.each(["check", "build", "inspect", "fmt"])("%s --help exits 0 and shows usage", (verb) => {
    const r = attnc([verb, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: attnc ${verb}`);
  });

  it("a reader that goes away ends the output quietly (attnc --help | head -1): exit 0, no EPIPE stack trace", async () => {
    for (const args of [["--help"], ["inspect", "specs/sentiment.attn"]]) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.destroy(); // the reader has gone before the first write
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((ok) => child.on("close", ok));
      expect(err).toBe("");
      expect(code).toBe(0);
    }
  });

  it("--version prints the package version", () => {
    const r = attnc(["--version"]);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version);
  });
});

describe("the cpu backend", () => {
  it("trains without tfjs' greeting about installing a node backend on stderr", () => {
    const dir = mkdtempSync(join(tmpdir(), "attnc-cpu-"));
    writeFileSync(join(dir, "s.csv"), `v\n${Array.from({ length: 60 }, (_, i) => Math.sin(i / 3).toFixed(4)).join("\n")}\n`);
    writeFileSync(
      join(dir, "s.attn"),
      `model S {\n  input w: float[T = 4, F = 1]\n  w -> lstm(units: 2) -> last -> dense(1)\n}\n\ndata S {\n  source: csv("s.csv", features: ["v"], target: "v")\n  window: 4, horizon 1\n}\n\ntrain S {\n  loss: mse\n  epochs: 1\n}\n`,
    );
    const r = attnc(["train", "s.attn", "--out", "run", "--backend", "cpu"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("using the cpu backend");
    expect(r.stderr + r.stdout).not.toMatch(/Hi, looks like|tfjs-node/);
  });
});
