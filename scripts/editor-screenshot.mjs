// Draws docs/images/editor.png, the README's picture of the editor support: a spec as the language server sees
// it, coloured by its semantic tokens, with a diagnostic underlined and a hover box, all from the answers of a
// real `attnc lsp --stdio`, rendered by headless Chromium. Run by hand (`node scripts/editor-screenshot.mjs`)
// after `npm run build`, on a machine with Debian's chromium package; tests do not run it.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createProtocolConnection, PublishDiagnosticsNotification, StreamMessageReader, StreamMessageWriter } from "vscode-languageserver-protocol/node";

const root = fileURLToPath(new URL("..", import.meta.url));
const chromium = process.env["CHROMIUM"] ?? "/usr/bin/chromium";
if (spawnSync(chromium, ["--version"], { stdio: "ignore" }).status !== 0) {
  process.stderr.write(`editor-screenshot: ${chromium} does not run; install Debian's chromium package or set CHROMIUM\n`);
  process.exit(2);
}

// The shipped forecaster with one slip (`unit` for `units`), as a user might type it.
const uri = "file:///project/forecast.attn";
const text = readFileSync(join(root, "specs/forecast.attn"), "utf8").replace("dense(1)", "dense(unit: 1)");

const child = spawn(process.execPath, [join(root, "bin/attnc.js"), "lsp", "--stdio"], { stdio: ["pipe", "pipe", "inherit"] });
const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
const diagnostics = new Promise((resolve) => conn.onNotification(PublishDiagnosticsNotification.type, (p) => p.uri === uri && resolve(p.diagnostics)));
conn.listen();
const init = await conn.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
await conn.sendNotification("initialized", {});
await conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "attn", version: 1, text } });
const diags = await diagnostics;
const lines = text.split("\n");
// Hovering the layer the slip is in: the box opens below its line, so the underline stays in view.
const denseLine = lines.findIndex((l) => l.includes("dense(unit"));
const hoverAt = { line: denseLine, character: lines[denseLine].indexOf("dense") + 1 };
const hover = await conn.sendRequest("textDocument/hover", { textDocument: { uri }, position: hoverAt });
const tokens = await conn.sendRequest("textDocument/semanticTokens/full", { textDocument: { uri } });
const hints = await conn.sendRequest("textDocument/inlayHint", {
  textDocument: { uri },
  range: { start: { line: 0, character: 0 }, end: { line: lines.length, character: 0 } },
});
await conn.sendRequest("shutdown");
await conn.sendNotification("exit");
child.kill();

// Semantic tokens: relative (line, start) pairs to absolute spans with a type name.
const legend = init.capabilities.semanticTokensProvider.legend.tokenTypes;
const spans = [];
for (let i = 0, line = 0, start = 0; i < tokens.data.length; i += 5) {
  const [dl, ds, len, type] = tokens.data.slice(i, i + 4);
  line += dl;
  start = dl === 0 ? start + ds : ds;
  spans.push({ line, start, end: start + len, type: legend[type] });
}
const colours = {
  keyword: "#af00db",
  function: "#795e26",
  property: "#001080",
  variable: "#0070c1",
  type: "#267f99",
  typeParameter: "#267f99",
  number: "#098658",
  string: "#a31515",
  comment: "#008000",
  operator: "#444",
};
const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const inRange = (r, line, ch) =>
  (line > r.start.line || (line === r.start.line && ch >= r.start.character)) && (line < r.end.line || (line === r.end.line && ch < r.end.character));

const html = lines
  .map((l, li) => {
    let out = "";
    for (let ch = 0; ch < l.length; ch++) {
      const span = spans.find((s) => s.line === li && ch >= s.start && ch < s.end);
      const bad = diags.some((d) => inRange(d.range, li, ch));
      const style = `${span ? `color:${colours[span.type] ?? "#000"};` : ""}${bad ? "text-decoration:underline wavy #e51400;text-decoration-skip-ink:none;" : ""}`;
      out += style ? `<span style="${style}">${esc(l[ch])}</span>` : esc(l[ch]);
    }
    for (const h of hints.filter((x) => x.position.line === li))
      out += ` <span class="hint">${esc(typeof h.label === "string" ? h.label : h.label.map((p) => p.value).join(""))}</span>`;
    // The hover's markdown, lightly rendered as an editor would: fences dropped, bold and code spans styled.
    const md = esc(hover.contents.value.replace(/```\w*\n?/g, "").trim())
      .replace(/\*\*(.+?)\*\*/g, "<b>$1</b>")
      .replace(/`([^`]+)`/g, "<code>$1</code>");
    const hoverBox = li === hoverAt.line ? `<div class="hover" style="left:${hoverAt.character + 4}ch">${md}</div>` : "";
    return `<div class="line"><span class="no">${li + 1}</span>${out || " "}${hoverBox}</div>`;
  })
  .join("\n");
const problems = diags
  .map((d) => `<div>✖ ${esc(d.message)} <span class="code">${esc(String(d.code))} [${d.range.start.line + 1}, ${d.range.start.character + 1}]</span></div>`)
  .join("");
const page = `<!doctype html><meta charset="utf-8"><style>
body { margin: 0; font: 14px/1.5 "DejaVu Sans Mono", monospace; background: #fff; }
.title { background: #f3f3f3; border-bottom: 1px solid #ddd; padding: 6px 12px; font-family: "DejaVu Sans", sans-serif; font-size: 13px; }
.code-area { padding: 8px 0; }
.line { position: relative; white-space: pre; }
.no { display: inline-block; width: 4ch; margin-right: 2ch; color: #999; text-align: right; }
.hint { color: #888; background: #f0f0f0; border-radius: 3px; font-size: 12px; padding: 0 3px; }
.hover { position: absolute; top: 1.9em; z-index: 2; white-space: pre-wrap; width: 80ch; background: #f8f8f8; border: 1px solid #c8c8c8; box-shadow: 0 2px 8px rgba(0,0,0,.15); padding: 6px 10px; font-size: 13px; color: #333; }
.hover code { color: #a31515; }
.problems { border-top: 1px solid #ddd; padding: 6px 12px; font-family: "DejaVu Sans", sans-serif; font-size: 13px; color: #e51400; }
.problems .code { color: #888; }
</style>
<div class="title">forecast.attn — attnc language server</div>
<div class="code-area">${html}</div>
<div class="problems"><b>Problems</b>${problems}</div>`;

const work = mkdtempSync(join(tmpdir(), "attnc-shot-"));
writeFileSync(join(work, "editor.html"), page);
mkdirSync(join(root, "docs/images"), { recursive: true });
const shot = spawnSync(
  chromium,
  [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    `--user-data-dir=${join(work, "profile")}`,
    "--hide-scrollbars",
    "--window-size=1100,760",
    `--screenshot=${join(root, "docs/images/editor.png")}`,
    `file://${join(work, "editor.html")}`,
  ],
  { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" },
);
rmSync(work, { recursive: true, force: true });
if (shot.status !== 0) {
  process.stderr.write(`editor-screenshot: chromium failed: ${shot.stderr}\n`);
  process.exit(1);
}
process.stdout.write("wrote docs/images/editor.png\n");
