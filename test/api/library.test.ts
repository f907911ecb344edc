// attnc as a library: the package's entries ("attnc" in Node, "attnc/runtime" for a page) load trained model
// directories and answer in data units, exactly as `attnc predict` and `attnc explain` print; the browser entry
// bundles without Node built-ins and loads a model over HTTP; damaged directories and bad requests are refused.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { createServer, type Server } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attnc } from "../in-process.js";

const root = resolve(".");
const run = promisify(execFile);
let dir: string;
let text: string;
let series: string;
const TEXT_REQS = [{ text: "a wonderful, moving film" }, { text: "dull and far too long" }, { ids: [2, 3, 4] }];
let seriesReqs: { window: number[][] }[];

/** Runs an ES module in a child Node (as a user's program would run), from a folder whose node_modules holds attnc. */
async function runModule(name: string, source: string, ...args: string[]): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, source);
  // Asynchronously: the test's own HTTP server must go on answering while the child runs.
  return (await run(process.execPath, [file, ...args], { cwd: dir, encoding: "utf8" })).stdout;
}

function jsonl(s: string): unknown[] {
  return s
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as unknown);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "attnc-api-"));
  // A user's project: attnc installed in its node_modules.
  mkdirSync(join(dir, "node_modules"));
  execFileSync("ln", ["-s", root, join(dir, "node_modules", "attnc")]);
  text = join(dir, "text");
  series = join(dir, "series");
  for (const [spec, out] of [
    ["test/fixtures/specs/tiny_text.attn", text],
    ["test/fixtures/specs/tiny_series.attn", series],
  ] as const) {
    const r = await attnc("train", spec, "--out", out, "--epochs", "1", "--threads", "1", "--allow-outside");
    expect(r.code, r.err).toBe(0);
  }
  const meta = JSON.parse(readFileSync(join(series, "attnc.json"), "utf8")) as { prep: { window: number; features: string[] } };
  seriesReqs = [0, 1].map((s) => ({ window: Array.from({ length: meta.prep.window }, (_, t) => meta.prep.features.map((_f, k) => 10 + s + 0.5 * t - k)) }));
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('import "attnc" (Node)', () => {
  it("predicts and explains what attnc predict and attnc explain print, and refuses what they refuse", async () => {
    const out = await runModule(
      "use.mjs",
      `import { loadModel, compile, registerLayers, RequestError, ModelDirError } from "attnc";
      const [textDir, seriesDir, textReqs, seriesReqs] = [process.argv[2], process.argv[3], JSON.parse(process.argv[4]), JSON.parse(process.argv[5])];
      const c = await compile("model M {\\n input x: float[T = 4, F = 2]\\n x -> lstm(3) -> last -> dense(1)\\n}\\n");
      const t = await loadModel(textDir);
      const s = await loadModel(seriesDir);
      const result = {
        compiled: c.ok && c.models[0].model === "M",
        registerLayers: typeof registerLayers,
        text: { name: t.name, task: t.task, labels: t.labels, input: t.input, predict: await t.predict(textReqs), explain: await t.explain(textReqs) },
        series: { name: s.name, input: s.input, predict: await s.predict(seriesReqs), explain: await s.explain(seriesReqs) },
        answer: await s.answer([{ window: [[1]] }, seriesReqs[0], "x"]),
      };
      try { await t.predict([{ text: "fine" }, { text: 5 }]); } catch (e) { result.requestError = [e instanceof RequestError, e.index, e.message]; }
      try { await t.predict(null); } catch (e) { result.typeError = [e instanceof TypeError, e.message]; }
      try { await loadModel(process.argv[6]); } catch (e) { result.dirError = [e instanceof ModelDirError, e.message]; }
      t.dispose(); s.dispose();
      console.log(JSON.stringify(result));`,
      text,
      series,
      JSON.stringify(TEXT_REQS),
      JSON.stringify(seriesReqs),
      join(dir, "damaged"),
    );
    const r = JSON.parse(out.trim().split("\n").pop()!) as Record<string, any>;
    expect(r["compiled"]).toBe(true);
    expect(r["registerLayers"]).toBe("function");
    expect(r["text"].task).toBe("text");
    expect(r["text"].input).toMatchObject({ kind: "text", maxLen: 24, textColumn: "review" });
    expect(r["series"].input).toMatchObject({ kind: "series", window: 7, features: ["temp_max", "temp_min", "precipitation", "wind"], target: "temp_max" });

    // The same answers the command line prints, in the same units and the same JSON.
    const requests = join(dir, "text.jsonl");
    writeFileSync(requests, TEXT_REQS.map((q) => JSON.stringify(q)).join("\n") + "\n");
    const seriesFile = join(dir, "series.jsonl");
    writeFileSync(seriesFile, seriesReqs.map((q) => JSON.stringify(q)).join("\n") + "\n");
    const p = await attnc("predict", text, "--input", requests, "--allow-outside");
    expect(p.code, p.err).toBe(0);
    expect(r["text"].predict).toEqual(jsonl(p.out));
    expect(r["text"].labels).toEqual(Object.keys((jsonl(p.out)[0] as { probabilities: object }).probabilities));
    const ps = await attnc("predict", series, "--input", seriesFile, "--allow-outside");
    expect(ps.code, ps.err).toBe(0);
    expect(r["series"].predict).toEqual(jsonl(ps.out));
    const e = await attnc("explain", text, "--input", requests, "--out", join(dir, "heat"), "--allow-outside");
    expect(e.code, e.err).toBe(0);
    expect(r["text"].explain).toEqual(jsonl(e.out));
    const es = await attnc("explain", series, "--input", seriesFile, "--out", join(dir, "heat2"), "--allow-outside");
    expect(r["series"].explain).toEqual(jsonl(es.out));
    // Forecasts come back in the data's units (degrees), not the model's scaled output.
    for (const a of r["series"].predict as { prediction: number }[]) expect(Math.abs(a.prediction)).toBeGreaterThan(1);
    expect((r["text"].explain[0].attention.attn as number[]).length).toBe(r["text"].explain[0].tokens.length);

    expect(r["answer"][0].error).toMatch(/needs "window": 7 rows/);
    expect(r["answer"][1]).toEqual(r["series"].predict[0]);
    expect(r["answer"][2].error).toMatch(/must be a JSON object/);
    expect(r["requestError"]).toEqual([true, 1, expect.stringMatching(/^request 2: needs a string field "review"/)]);
    expect(r["typeError"]).toEqual([true, "requests must be a list of request objects, not null"]);
    expect(r["dirError"][0]).toBe(true);
    expect(r["dirError"][1]).toMatch(/damaged does not exist/);
  }, 120_000);

  it("types: the entry's declarations exist where package.json's exports point", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { exports: Record<string, { types: string; default: string }> };
    for (const entry of [".", "./runtime"]) {
      const d = readFileSync(pkg.exports[entry]!.types, "utf8");
      expect(d).toMatch(/export declare function loadModel/);
      expect(d).toMatch(/AttncModel/);
    }
  });
});

describe('import "attnc/runtime" (a web page)', () => {
  let server: Server;
  let base: string;
  const hits: string[] = [];

  beforeAll(async () => {
    // A static server for the test's folder, as a page's host would serve a model directory.
    server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url!, "http://x").pathname);
      hits.push(path);
      if (path === "/huge/manifest.json") {
        // No declared length, and more than a model directory's JSON may hold (64 MiB): chunked until the client leaves.
        res.writeHead(200, { "content-type": "application/json" });
        const chunk = Buffer.alloc(1 << 20, 32);
        let sent = 0;
        const more = () => {
          while (sent < 80 && !res.destroyed) {
            sent++;
            if (!res.write(chunk)) return void res.once("drain", more);
          }
          res.end();
        };
        res.on("close", () => (sent = 80));
        more();
        return;
      }
      if (path.startsWith("/moved/")) {
        res.writeHead(302, { location: path.replace("/moved/", "/text/") }).end();
        return;
      }
      try {
        const body = readFileSync(join(dir, path));
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  // (examples/web's test runs the bundle in a real browser; here the entry's URL loader runs in Node.)
  it("bundles for the browser without Node built-ins and answers over HTTP as the Node entry does", async () => {
    // esbuild with platform "browser" fails on any Node built-in the entry reaches.
    const bundle = join(dir, "page.mjs");
    const r = await build({
      stdin: { contents: 'export * from "attnc/runtime";', resolveDir: dir, loader: "ts" },
      bundle: true,
      platform: "browser",
      format: "esm",
      outfile: bundle,
      logLevel: "silent",
      metafile: true,
    });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.some((f) => /^node:|(^|\/)(fs|path|child_process)$/.test(f))).toBe(false);
    expect(readFileSync(bundle, "utf8")).not.toMatch(/from\s*["']node:/);

    const out = await runModule(
      "page-use.mjs",
      `import { loadModel, ModelDirError } from "attnc/runtime";
      const m = await loadModel(process.argv[2]);
      const result = { predict: await m.predict(JSON.parse(process.argv[3])), explain: await m.explain(JSON.parse(process.argv[3])) };
      result.errors = [];
      for (const url of process.argv.slice(4)) {
        try { await loadModel(url); result.errors.push("loaded"); } catch (e) { result.errors.push([e instanceof ModelDirError, e.message]); }
      }
      console.log(JSON.stringify(result));`,
      `${base}/text`,
      JSON.stringify(TEXT_REQS),
      `${base}/nothing-here/`,
      `${base}/evil/`,
      `${base}/moved/`,
      `${base}/huge/`,
    );
    const page = JSON.parse(out.trim().split("\n").pop()!) as { predict: any[]; explain: any[]; errors: [boolean, string][] };
    const p = await attnc("predict", text, "--input", join(dir, "text.jsonl"), "--allow-outside");
    const cli = jsonl(p.out) as { label: string; probabilities: Record<string, number> }[];
    // This entry leaves the backend to the page (TensorFlow.js's own, cpu here), the CLI takes wasm: equal labels, probabilities within 1e-5.
    page.predict.forEach((a, i) => {
      expect(a.label).toBe(cli[i]!.label);
      for (const [l, v] of Object.entries(cli[i]!.probabilities)) expect(Math.abs(a.probabilities[l] - v)).toBeLessThanOrEqual(1e-5);
    });
    expect(page.explain[0].tokens).toEqual(["a", "wonderful", "moving", "film"]);
    expect(page.errors[0]).toEqual([true, expect.stringMatching(/nothing-here\/ is not an attnc model directory \(manifest\.json: HTTP 404\)/)]);
    expect(page.errors[1]![0]).toBe(true);
    expect(page.errors[1]![1]).toMatch(/damaged model directory .*evil\/: manifest\.json: weights .*\.\.\/text\/weights\.g\d+\.bin.* is not a plain file name/);
    // A redirect is not followed: the files come from the folder given only.
    expect(page.errors[2]![0]).toBe(true);
    expect(page.errors[2]![1]).toMatch(/cannot fetch .*\/moved\/manifest\.json/);
    // A file over its limit is refused as it streams in, whatever length the server declares (here none).
    expect(page.errors[3]).toEqual([true, expect.stringMatching(/huge\/: manifest\.json is more than the 67108864 bytes a model directory may hold there$/)]);
    // Nothing outside the folders asked for was fetched.
    expect(hits.filter((h) => !["/text/", "/nothing-here/", "/evil/", "/moved/manifest.json", "/huge/manifest.json"].some((p) => h.startsWith(p)))).toEqual([]);
  }, 120_000);
});

// A model directory whose manifest points outside it (set up before the page test runs).
beforeAll(() => {
  mkdirSync(join(dir, "evil"));
  const m = JSON.parse(readFileSync(join(text, "manifest.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(join(dir, "evil", "manifest.json"), JSON.stringify({ ...m, weights: `../text/${String(m["weights"])}` }));
});
