// npm run bench:lsp: how long an editor waits for diagnostics after a change, through `attnc lsp --stdio`.
// For the largest shipped spec and a generated 2,000-line spec, sends didChange edits one at a time and times
// each until the server publishes diagnostics for that version. The figure includes the server's debounce
// (DEBOUNCE_MS in src/lsp/server.ts, 150 ms), which an editor waits too; "check" is the time after it.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter } from "vscode-languageserver-protocol/node";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DEBOUNCE_MS = 150;
const ROUNDS = Number(process.env.ROUNDS ?? 15);

/** A spec of `lines` lines (a multiple of 20): forecasting models, each with its data and train blocks. */
function generatedSpec(lines) {
  const out = [];
  for (let i = 0; out.length < lines; i++) {
    out.push(
      `model M${i} {`,
      `  input window: float[T = 24, F = 3]`,
      ``,
      `  window`,
      `    -> lstm(units: ${16 + (i % 8)}, input_attention: temporal(units: 8)) as enc`,
      `    -> attention_pool(units: 8) as pool`,
      `    -> dense(8, activation: relu)`,
      `    -> dense(1) as out`,
      `}`,
      `data M${i} {`,
      `  source: csv("series.csv", time: "t", features: ["a", "b", "c"], target: "a")`,
      `  window: 24, horizon 1`,
      `  split: chronological train 0.8, validation 0.1, test 0.1`,
      `}`,
      ``,
      `train M${i} {`,
      `  loss: mse`,
      `  optimizer: adam(lr: 1e-3)`,
      `}`,
      ``,
    );
  }
  return out.slice(0, lines).join("\n") + "\n";
}

function largestShipped() {
  const files = readdirSync(new URL("../specs", import.meta.url)).filter((f) => f.endsWith(".attn"));
  const best = files.map((f) => ({ f, size: statSync(new URL(`../specs/${f}`, import.meta.url)).size })).sort((a, b) => b.size - a.size)[0];
  return { name: `specs/${best.f}`, text: readFileSync(new URL(`../specs/${best.f}`, import.meta.url), "utf8") };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function measure(conn, waiters, name, text) {
  const uri = `file:///bench/${name.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
  const published = (version) => new Promise((resolve) => waiters.set(`${uri}@${version}`, resolve));
  let version = 1;
  let wait = published(version);
  await conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "attn", version, text } });
  await wait;
  // Each edit types one character at the end of a line in the middle of the file, then deletes it.
  const lines = text.split("\n");
  const line = Math.floor(lines.length / 2);
  const character = lines[line].length;
  const times = [];
  let count = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const typed = i % 2 === 0;
    version++;
    wait = published(version);
    const t0 = performance.now();
    await conn.sendNotification("textDocument/didChange", {
      textDocument: { uri, version },
      contentChanges: [
        typed
          ? { range: { start: { line, character }, end: { line, character } }, text: " " }
          : { range: { start: { line, character }, end: { line, character: character + 1 } }, text: "" },
      ],
    });
    count = (await wait).length;
    times.push(performance.now() - t0);
  }
  const median = pct(times, 50);
  console.log(
    `${name.padEnd(28)} ${String(lines.length - 1).padStart(5)} lines  median ${median.toFixed(0).padStart(4)} ms  p95 ${pct(times, 95).toFixed(0).padStart(4)} ms  (check after the debounce: median ${(median - DEBOUNCE_MS).toFixed(0)} ms; ${count} diagnostics)`,
  );
}

const child = spawn(process.execPath, ["bin/attnc.js", "lsp", "--stdio"], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
const waiters = new Map();
conn.onNotification("textDocument/publishDiagnostics", (p) => {
  const key = `${p.uri}@${p.version}`;
  waiters.get(key)?.(p.diagnostics);
  waiters.delete(key);
});
conn.listen();
await conn.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
await conn.sendNotification("initialized", {});
console.log(`didChange to publishDiagnostics through attnc lsp --stdio, ${ROUNDS} edits each (node ${process.version})`);
const shipped = largestShipped();
await measure(conn, waiters, shipped.name, shipped.text);
await measure(conn, waiters, "generated (2,000 lines)", generatedSpec(2000));
await conn.sendRequest("shutdown");
await conn.sendNotification("exit");
conn.dispose();
