// examples/web in a real browser: the page is built (examples/web/build.mjs), served with a model trained here
// (examples/web/serve.mjs, on 127.0.0.1, port 0) and driven by playwright-core in Debian's headless chromium;
// what it shows (label, probabilities, tokens, their colours) must be what `attnc predict` and `attnc explain`
// print for the same texts. The server's refusals are checked over plain HTTP (no browser needed).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attnc } from "../in-process.js";

const run = promisify(execFile);
const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const haveChromium = ((): boolean => {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return statSync(CHROMIUM).isFile();
  } catch {
    return false;
  }
})();
if (!haveChromium)
  console.warn(
    `test/web/page.test.ts: no chromium executable at ${CHROMIUM} (install Debian's chromium package or set CHROMIUM_PATH): the browser test is SKIPPED, not passed`,
  );

const TEXTS = ["a wonderful, moving film", "Dull and far too long; I walked out after an hour.", "zyxxy qqq"];
let dir: string;
let model: string;
let server: ChildProcess;
let base: string;

/** A raw GET (or other method) whose path is sent as written: fetch would normalise "..". */
function raw(path: string, method = "GET"): Promise<{ status: number; type: string; body: string }> {
  const u = new URL(base);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => ok({ status: res.statusCode!, type: String(res.headers["content-type"]), body }));
    });
    req.on("error", fail);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "attnc-web-"));
  model = join(dir, "model");
  const r = await attnc("train", "test/fixtures/specs/tiny_text.attn", "--out", model, "--epochs", "1", "--threads", "1", "--allow-outside");
  expect(r.code, r.err).toBe(0);
  await run(process.execPath, ["examples/web/build.mjs"]);
  server = spawn(process.execPath, ["examples/web/serve.mjs", model, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  base = await new Promise<string>((ok, fail) => {
    let out = "";
    server.stdout!.setEncoding("utf8");
    server.stdout!.on("data", (c: string) => {
      out += c;
      const m = /serving the page at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) ok(m[1]!);
    });
    server.on("exit", (code) => fail(new Error(`serve.mjs exited with ${code}: ${out}`)));
  });
  // The server drains its access log; the test does not need it.
  server.stdout!.resume();
}, 180_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((ok) => server.once("exit", ok));
    server.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("examples/web/serve.mjs", () => {
  it("serves the page, its bundle and the model with their content types, and refuses every path out of them", async () => {
    const page = await raw("/");
    expect(page.status).toBe(200);
    expect(page.type).toBe("text/html; charset=utf-8");
    expect(page.body).toContain('<script type="module" src="dist/app.js"></script>');
    expect((await raw("/dist/app.js")).type).toBe("text/javascript; charset=utf-8");
    expect((await raw("/dist/tfjs-backend-wasm.wasm", "HEAD")).type).toBe("application/wasm");
    expect((await raw("/style.css")).type).toBe("text/css; charset=utf-8");
    const manifest = await raw("/model/manifest.json");
    expect(manifest.type).toBe("application/json");
    expect(JSON.parse(manifest.body)).toEqual(JSON.parse(readFileSync(join(model, "manifest.json"), "utf8")));

    // Climbing out, encoded or not, with backslashes or NUL bytes: 400, and nothing of the file outside.
    writeFileSync(join(dir, "secret.json"), '{"secret": true}');
    for (const path of [
      "/../package.json",
      "/model/../secret.json",
      "/model/%2e%2e/secret.json",
      "/model/..%2fsecret.json",
      "/%2e%2e/%2e%2e/package.json",
      "/model/..%5csecret.json",
      "/index.html%00.png",
      "/model/%ZZ",
    ]) {
      const r = await raw(path);
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.body).not.toContain("secret");
    }
    // A link inside the model directory that leads out of it is not followed; hidden names and other folders are not there.
    symlinkSync(join(dir, "secret.json"), join(model, "link.json"));
    for (const path of ["/model/link.json", "/.gitignore", "/model/nothing.json", "/model", "/src/api/browser.ts"]) {
      const r = await raw(path);
      expect([path, r.status]).toEqual([path, 404]);
      expect(r.body).not.toContain("secret");
    }
    expect((await raw("/model/manifest.json", "POST")).status).toBe(405);
  });

  it("refuses a folder that is not a model directory with one line and exit code 2", async () => {
    mkdirSync(join(dir, "empty"));
    for (const [args, message] of [
      [[join(dir, "empty")], /^serve: .*empty is not an attnc model directory \(no manifest\.json\)\n/],
      [[join(dir, "missing")], /^serve: .*missing does not exist \(train a model first: npm run example\)\n/],
      [[model, "--port", "http"], /^serve: --port must be a whole number from 0 to 65535, not "http"\n/],
      [[], /^serve: give the model directory to serve/],
    ] as const) {
      const r = await run(process.execPath, ["examples/web/serve.mjs", ...args]).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => e,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

interface Shown {
  label: string;
  probabilities: { label: string; p: number; text: string }[];
  tokens: { text: string; weight: number; background: string }[];
}

/** What the page shows for the text it last classified (the page's code runs in the browser, without DOM types here). */
async function shown(page: Page, text: string): Promise<Shown> {
  await expect.poll(() => page.getAttribute("#result", "data-for"), { timeout: 20_000 }).toBe(text);
  return {
    label: (await page.textContent("#label"))!,
    probabilities: await page
      .locator("#probabilities tr")
      .evaluateAll((rows) =>
        rows.map((r) => ({ label: r.getAttribute("data-label")!, p: Number(r.getAttribute("data-p")), text: r.children[1]!.textContent! })),
      ),
    tokens: await page.locator("#tokens .tok").evaluateAll((spans) =>
      spans.map((s) => ({
        text: s.textContent!,
        weight: Number(s.getAttribute("data-weight")),
        background: s.ownerDocument.defaultView!.getComputedStyle(s).backgroundColor,
      })),
    ),
  };
}

describe("examples/web in headless chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    if (haveChromium) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it.skipIf(!haveChromium)(
    "classifies typed text as attnc predict does and colours each token by its attention weight, fetching nothing from elsewhere",
    async () => {
      const requests = join(dir, "texts.jsonl");
      writeFileSync(requests, TEXTS.map((text) => JSON.stringify({ text })).join("\n") + "\n");
      const p = await attnc("predict", model, "--input", requests, "--allow-outside");
      expect(p.code, p.err).toBe(0);
      const predicted = p.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { label: string; probabilities: Record<string, number> });
      const e = await attnc("explain", model, "--input", requests, "--out", join(dir, "heat"), "--allow-outside");
      expect(e.code, e.err).toBe(0);
      const explained = e.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { tokens: string[]; attention: { attn: number[] } });

      for (const backend of ["", "?backend=cpu"]) {
        const page = await browser.newPage();
        const problems: string[] = [];
        const fetched: string[] = [];
        page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
        page.on("console", (m) => {
          if (m.type() === "error") problems.push(`console error: ${m.text()}`);
        });
        page.on("request", (r) => fetched.push(r.url()));
        await page.goto(`${base}${backend}`);
        await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
        expect(await page.getAttribute("#status", "data-backend")).toBe(backend === "" ? "wasm" : "cpu");

        for (const [i, text] of TEXTS.entries()) {
          if (i === 0) {
            // Typed key by key, classified as it is typed (no click).
            await page.fill("#text", "");
            await page.locator("#text").pressSequentially(text);
          } else {
            await page.fill("#text", text);
            await page.click("#classify");
          }
          const s = await shown(page, text);
          const want = predicted[i]!;
          expect(s.label).toBe(want.label);
          expect(s.probabilities.map((q) => q.label)).toEqual(Object.keys(want.probabilities));
          for (const q of s.probabilities) {
            expect(Math.abs(q.p - want.probabilities[q.label]!)).toBeLessThanOrEqual(1e-4);
            expect(Math.abs(Number(q.text) - want.probabilities[q.label]!)).toBeLessThanOrEqual(1e-4);
          }
          // The spans are the tokenizer's tokens; each carries its weight, and its colour's alpha runs from the
          // text's smallest weight (0) to its largest (1).
          const { tokens, attention } = explained[i]!;
          expect(s.tokens.map((t) => t.text)).toEqual(tokens);
          const w = attention.attn.slice(0, tokens.length);
          const [min, max] = [Math.min(...w), Math.max(...w)];
          s.tokens.forEach((t, k) => {
            expect(Math.abs(t.weight - w[k]!)).toBeLessThanOrEqual(1e-4);
            const m = /^rgba?\(214, 39, 40(?:, ([\d.]+))?\)$/.exec(t.background);
            expect(m, t.background).not.toBeNull();
            const alpha = m![1] === undefined ? 1 : Number(m![1]);
            expect(Math.abs(alpha - (max > min ? (w[k]! - min) / (max - min) : 1))).toBeLessThanOrEqual(0.01);
          });
        }
        expect(problems).toEqual([]);
        // Only the page, its bundle and style, the wasm binaries and the model's files; nothing from elsewhere.
        const allowed = /^(|index\.html|style\.css|dist\/[\w.-]+|model\/[\w.-]+)(\?.*)?$/;
        expect(fetched.filter((u) => !u.startsWith(base) || !allowed.test(u.slice(base.length)))).toEqual([]);
        expect(fetched.some((u) => u === `${base}model/manifest.json`)).toBe(true);
        await page.close();
      }
    },
    90_000,
  );
});
