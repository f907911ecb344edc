// npm run bench:serve [-- --duration 4] [-- --max-requests 4000] [-- --batch-delay-ms 2] [-- --json]
// `attnc serve` under load on loopback: autocannon POSTs one-instance :predict calls at 1 and at 32 connections,
// for the spam filter (examples/spam) and a co2 forecaster (examples/co2, trained for a few epochs), each run
// bounded by --duration seconds and --max-requests calls. Reported: calls/s, p50 and p99 latency, errors (any
// non-2xx or socket error; must be 0), the model calls the server made (its micro-batching), and beside them the
// same model called in process (model.answer with 1 and with 32 requests), and the server's resident memory
// after warm-up and after the runs.
// Models: runs/spam if present, else it is trained (npm run example, a few minutes); the co2 model goes to
// runs/bench-serve/co2 (trained once, then reused).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { loadModel } from "../dist/api/index.js";

const args = process.argv.slice(2);
const flag = (name, d) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : d;
};
const json = args.includes("--json");
const duration = Number(flag("--duration", "4"));
const maxRequests = Number(flag("--max-requests", "4000"));
const delay = flag("--batch-delay-ms", "2");
const root = resolve(import.meta.dirname, "..");
const attnc = join(root, "bin/attnc.js");
const log = (s) => process.stderr.write(`${s}\n`);

function sh(cmd, argv) {
  log(`$ ${cmd === process.execPath ? "node" : cmd} ${argv.join(" ")}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status})`);
}

const spamDir = "runs/spam";
if (!existsSync(join(root, spamDir, "attnc.json"))) {
  if (!existsSync(join(root, "examples/spam/spam.jsonl"))) sh(process.execPath, ["examples/spam/prepare.mjs"]);
  sh(process.execPath, [attnc, "train", "examples/spam/spam.attn", "--out", spamDir, "--resume"]);
}
const co2Dir = "runs/bench-serve/co2";
if (!existsSync(join(root, co2Dir, "attnc.json")))
  sh(process.execPath, [attnc, "train", "examples/co2/co2.attn", "--out", co2Dir, "--epochs", "3", "--threads", "1"]);

// One request per model: an email, and the last window of the co2 data in the model's feature order.
const co2Meta = JSON.parse(readFileSync(join(root, co2Dir, "attnc.json"), "utf8"));
const lines = readFileSync(join(root, "specs/data/co2.csv"), "utf8").trim().split("\n");
const header = lines[0].split(",");
const window = lines.slice(-co2Meta.prep.window).map((l) => {
  const cells = l.split(",");
  return co2Meta.prep.features.map((f) => Number(cells[header.indexOf(f)]));
});
const spamMeta = JSON.parse(readFileSync(join(root, spamDir, "attnc.json"), "utf8"));
const models = [
  {
    name: spamMeta.model,
    dir: spamDir,
    request: { text: "Subject: you have won a free cruise\nClick here to claim your prize before midnight, no purchase needed." },
  },
  { name: co2Meta.model, dir: co2Dir, request: { window } },
];

function rssMiB(pid) {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Math.round(Number(kb) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

// The server: a child process, as a user starts it; its access log is counted, not kept.
const server = spawn(process.execPath, [attnc, "serve", ...models.map((m) => m.dir), "--port", "0", "--batch-delay-ms", delay], {
  cwd: root,
  stdio: ["ignore", "ignore", "pipe"],
});
let accessLines = 0;
let head = "";
const url = await new Promise((res, rej) => {
  server.on("exit", (code) => rej(new Error(`attnc serve exited ${code}: ${head}`)));
  server.stderr.on("data", (d) => {
    const s = d.toString();
    accessLines += (s.match(/^\d{4}-.*$/gm) ?? []).length;
    if (head.length < 4000) head += s;
    const m = /listening on (http:\/\/[^ ]+)/.exec(head);
    if (m) res(m[1]);
  });
});
server.removeAllListeners("exit");

const stats = async (name) => (await (await fetch(`${url}/v1/models/${name}`)).json()).stats;
const fire = (m, connections, opts) =>
  autocannon({
    url: `${url}/v1/models/${m.name}:predict`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ instances: [m.request] }),
    connections,
    ...opts,
  });

// Warm-up (tfjs kernels, JIT), then the memory baseline.
for (const m of models) await fire(m, 8, { amount: 200 });
const rssBefore = rssMiB(server.pid);

const rows = [];
for (const m of models) {
  for (const connections of [1, 32]) {
    const s0 = await stats(m.name);
    const r = await fire(m, connections, { duration, maxOverallRequests: maxRequests });
    const s1 = await stats(m.name);
    const calls = r.requests.total;
    rows.push({
      model: m.name,
      how: `HTTP, ${connections} connection${connections > 1 ? "s" : ""}`,
      perSec: Math.round(r.requests.average),
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: r.errors + r.timeouts + r.non2xx,
      calls,
      modelCalls: s1.model_calls - s0.model_calls,
    });
    log(
      `${m.name} ${connections}: ${Math.round(r.requests.average)}/s p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms errors ${r.errors + r.timeouts + r.non2xx}`,
    );
  }
}
const rssAfter = rssMiB(server.pid);
server.kill("SIGTERM");
const stopped = await new Promise((res) => server.on("exit", (code) => res(code)));

// The same models in this process, through the library (the server is stopped: the CPU is theirs alone).
for (const m of models) {
  const model = await loadModel(join(root, m.dir), { backend: "wasm" });
  for (const batch of [1, 32]) {
    const reqs = Array.from({ length: batch }, () => m.request);
    for (let i = 0; i < 20; i++) await model.answer(reqs);
    const times = [];
    const end = performance.now() + duration * 1000;
    while (performance.now() < end && times.length * batch < maxRequests) {
      const t = performance.now();
      await model.answer(reqs);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const total = times.reduce((a, b) => a + b, 0);
    const q = (p) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))] * 100) / 100;
    rows.push({
      model: m.name,
      how: `in process, model.answer × ${batch}`,
      perSec: Math.round((times.length * batch) / (total / 1000)),
      p50: q(0.5),
      p99: q(0.99),
      errors: 0,
      calls: times.length * batch,
      modelCalls: times.length,
    });
  }
  model.dispose();
}

const result = {
  duration,
  maxRequests,
  batchDelayMs: Number(delay),
  rows,
  serverRssMiB: { afterWarmUp: rssBefore, afterRuns: rssAfter },
  accessLogLines: accessLines,
  exitCode: stopped,
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log("| model | how | requests/s | p50 ms | p99 ms | errors | requests | model calls |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) console.log(`| ${r.model} | ${r.how} | ${r.perSec} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.calls} | ${r.modelCalls} |`);
  console.log(
    `\nserver (--batch-delay-ms ${delay}) RSS: ${rssBefore ?? "n/a"} MiB after warm-up, ${rssAfter ?? "n/a"} MiB after the runs; ${accessLines} access-log lines; exit code ${stopped} after SIGTERM`,
  );
}
if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
