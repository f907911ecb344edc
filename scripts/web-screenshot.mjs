// Draws docs/images/web.png, the picture of examples/web: the page served by examples/web/serve.mjs with a trained
// spam model, classifying a spammy email in headless Chromium (playwright-core). Run by hand after `npm run build`
// and `node examples/web/build.mjs` (or `npm run web:screenshot -- <model-dir>`), on a machine with Debian's
// chromium package (or CHROMIUM_PATH set); tests do not run it.
//
//   node scripts/web-screenshot.mjs [model-dir]     (default runs/spam, which `npm run example` trains)
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("..", import.meta.url));
const executablePath = process.env["CHROMIUM_PATH"] ?? process.env["CHROMIUM"] ?? "/usr/bin/chromium";
if (spawnSync(executablePath, ["--version"], { stdio: "ignore" }).status !== 0) {
  process.stderr.write(`web-screenshot: ${executablePath} does not run; install Debian's chromium package or set CHROMIUM_PATH\n`);
  process.exit(2);
}
const model = process.argv[2] ?? "runs/spam";
const EMAIL =
  "Make money fast! Earn $5,000 a week from home, no experience needed. Order today and get a FREE bonus gift. " +
  "This is a limited time offer, act now! Click here to claim your prize. To be removed from our mailing list, reply REMOVE.";

const server = spawn(process.execPath, [join(root, "examples/web/serve.mjs"), model, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
// serve.mjs says why it stops early on stderr (exit code 2: no model directory, or the page not built).
const early = (code) => process.exit(code ?? 1);
server.on("exit", early);
const base = await new Promise((ok) => {
  let out = "";
  server.stdout.setEncoding("utf8");
  server.stdout.on("data", (c) => {
    out += c;
    const m = /serving the page at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
    if (m) ok(m[1]);
  });
});
server.off("exit", early);
server.stdout.resume();

let browser;
try {
  browser = await chromium.launch({ executablePath, headless: true });
  const page = await browser.newPage({ viewport: { width: 980, height: 720 }, deviceScaleFactor: 1 });
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  await page.goto(base);
  await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
  await page.fill("#text", EMAIL);
  await page.click("#classify");
  await page.waitForFunction((t) => document.getElementById("result")?.dataset.for === t, EMAIL);
  if (problems.length > 0) throw new Error(`the page reported: ${problems.join("; ")}`);
  mkdirSync(join(root, "docs/images"), { recursive: true });
  await page.screenshot({ path: join(root, "docs/images/web.png"), fullPage: true });
  process.stdout.write(`wrote docs/images/web.png (${await page.textContent("#verdict")})\n`);
} finally {
  await browser?.close();
  server.kill("SIGTERM");
}
