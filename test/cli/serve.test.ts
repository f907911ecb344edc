// attnc serve: real servers (child processes, as a user starts them) on 127.0.0.1 with a port the system picks;
// answers equal attnc predict and attnc explain for the same requests; concurrent calls share model calls; every
// kind of bad call gets its status and a JSON message; SIGTERM answers the call in flight and exits 0.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AttncModel } from "../../src/api/model.js";
import { Batcher } from "../../src/cli/serve.js";
import { attncIn } from "../in-process.js";

const root = resolve(".");
const work = mkdtempSync(join(tmpdir(), "attnc-serve-"));
const run = (...args: string[]) => attncIn(work, ...args);

interface Server {
  child: ChildProcess;
  url: string;
  err: () => string;
  exit: Promise<number | null>;
}

/** Starts `attnc serve` in a child process and waits for the address it prints. */
async function serve(...args: string[]): Promise<Server> {
  const child = spawn(process.execPath, [join(root, "bin/attnc.js"), "serve", ...args, "--port", "0"], { cwd: work, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const exit = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no address within 50 s:\n${err}`)), 50_000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /attnc: listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    void exit.then((code) => rej(new Error(`serve exited ${code}:\n${err}`)));
  });
  return { child, url, err: () => err, exit };
}

async function call(
  url: string,
  init?: { method?: string; body?: string; headers?: Record<string, string> },
): Promise<{ status: number; json: any; type: string; allow: string | null }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, json: JSON.parse(text), type: r.headers.get("content-type") ?? "", allow: r.headers.get("allow") };
}

const post = (url: string, body: unknown) =>
  call(url, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json" } });

const jsonl = (s: string) =>
  s
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as unknown);

const TEXT = [{ review: "a wonderful, moving film" }, { text: "dull and far too long" }, { ids: [2, 3, 4] }, { text: "" }];
let windows: { window: number[][] }[];
let server: Server;
let predicted: { text: unknown[]; series: unknown[] };

beforeAll(async () => {
  for (const [spec, out] of [
    ["tiny_text", "text"],
    ["tiny_series", "series"],
  ] as const) {
    const r = await run("train", join(root, `test/fixtures/specs/${spec}.attn`), "--out", out, "--epochs", "1", "--threads", "1", "--allow-outside");
    expect(r.code, r.err).toBe(0);
  }
  const meta = JSON.parse(readFileSync(join(work, "series", "attnc.json"), "utf8")) as { prep: { window: number; features: string[] } };
  windows = [0, 1, 2].map((s) => ({ window: Array.from({ length: meta.prep.window }, (_, t) => meta.prep.features.map((_f, k) => 10 + s + 0.5 * t - k)) }));
  writeFileSync(join(work, "text.jsonl"), TEXT.map((r) => JSON.stringify(r)).join("\n"));
  writeFileSync(join(work, "series.jsonl"), windows.map((r) => JSON.stringify(r)).join("\n"));
  const t = await run("predict", "text", "--input", "text.jsonl");
  const s = await run("predict", "series", "--input", "series.jsonl");
  expect([t.code, s.code], t.err + s.err).toEqual([0, 0]);
  predicted = { text: jsonl(t.out), series: jsonl(s.out) };
  server = await serve("text", "series", "--max-body", "65536");
}, 120_000);

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill("SIGTERM");
    await server.exit;
  }
  rmSync(work, { recursive: true, force: true });
});

describe("micro-batching", () => {
  /** A model that answers each request with itself and records the size and kind of each call. */
  function echo(): { model: AttncModel; calls: string[] } {
    const calls: string[] = [];
    const answer = (kind: string) => async (reqs: readonly unknown[]) => {
      calls.push(`${kind} ${reqs.length}`);
      await new Promise((r) => setTimeout(r, 5));
      return reqs.map((r) => (r === "bad" ? { error: "bad request" } : { echo: r }));
    };
    return { model: { answer: answer("predict"), explainEach: answer("explain") } as unknown as AttncModel, calls };
  }

  it("gathers the calls of one turn into one model call (delay 0), and those arriving during a batch into the next", async () => {
    const { model, calls } = echo();
    const b = new Batcher(model, 64, 0);
    const first = Array.from({ length: 20 }, (_, i) => b.submit("predict", [i]));
    await new Promise((r) => setImmediate(r));
    // The first batch runs now: these wait for it, then go together.
    const second = Array.from({ length: 12 }, (_, i) => b.submit("predict", [100 + i, "bad"]));
    expect(await Promise.all(first)).toEqual(Array.from({ length: 20 }, (_, i) => [{ echo: i }]));
    expect(await Promise.all(second)).toEqual(Array.from({ length: 12 }, (_, i) => [{ echo: 100 + i }, { error: "bad request" }]));
    expect(calls).toEqual(["predict 20", "predict 24"]);
    expect(b.stats).toEqual({ requests: 32, instances: 44, model_calls: 2, largest_batch: 24, queued: 0 });
  });

  it("waits up to the delay, goes at once with a full batch, keeps kinds apart and cuts a large call into batches", async () => {
    const { model, calls } = echo();
    const b = new Batcher(model, 8, 50);
    const t0 = performance.now();
    const one = await b.submit("predict", ["a"]);
    expect(one).toEqual([{ echo: "a" }]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    const t1 = performance.now();
    const full = await Promise.all(Array.from({ length: 8 }, (_, i) => b.submit("predict", [i])));
    expect(full.flat()).toEqual(Array.from({ length: 8 }, (_, i) => ({ echo: i })));
    expect(performance.now() - t1).toBeLessThan(45);
    const mixed = await Promise.all([
      b.submit("predict", [1]),
      b.submit("explain", [2]),
      b.submit(
        "predict",
        Array.from({ length: 20 }, (_, i) => i),
      ),
    ]);
    expect(mixed[2]).toEqual(Array.from({ length: 20 }, (_, i) => ({ echo: i })));
    expect(calls).toEqual(["predict 1", "predict 8", "predict 1", "explain 1", "predict 8", "predict 8", "predict 4"]);
  });
});

describe("attnc serve", () => {
  it("answers predict and explain exactly as attnc predict and attnc explain print", async () => {
    const t = await post(`${server.url}/v1/models/TinyText:predict`, { instances: TEXT });
    expect(t.status).toBe(200);
    expect(t.json).toEqual({ predictions: predicted.text });
    const s = await post(`${server.url}/v1/models/TinySeries:predict`, { instances: windows, signature_name: "serving_default" });
    expect(s).toMatchObject({ status: 200, json: { predictions: predicted.series } });

    mkdirSync(join(work, "heat"), { recursive: true });
    for (const [name, dir, reqs, file] of [
      ["TinyText", "text", TEXT, "text.jsonl"],
      ["TinySeries", "series", windows, "series.jsonl"],
    ] as const) {
      const e = await run("explain", dir, "--input", file, "--out", join("heat", dir));
      expect(e.code, e.err).toBe(0);
      const x = await post(`${server.url}/v1/models/${name}:explain`, { instances: reqs });
      expect(x.status).toBe(200);
      expect(x.json).toEqual({ explanations: jsonl(e.out) });
    }
  });

  it("lists the models, gives each one's metadata and IR, and answers the health check", async () => {
    expect(await call(`${server.url}/healthz`)).toMatchObject({ status: 200, json: { status: "ok", models: ["TinyText", "TinySeries"] } });
    const list = await call(`${server.url}/v1/models`);
    expect(list.json.models.map((m: { name: string; task: string }) => [m.name, m.task])).toEqual([
      ["TinyText", "text"],
      ["TinySeries", "series"],
    ]);
    const ir = JSON.parse(readFileSync(join(work, "text", "attnc.json"), "utf8")).ir;
    const m = await call(`${server.url}/v1/models/TinyText`);
    expect(m.status).toBe(200);
    expect(m.json).toMatchObject({ name: "TinyText", task: "text", labels: ["neg", "pos"], inputs: { kind: "text", maxLen: 24, textColumn: "review" }, ir });
    expect(m.json.attention).toEqual([{ node: "attn", kind: "pool" }]);
    expect((await call(`${server.url}/v1/models/TinySeries/metadata`)).json).toMatchObject({
      task: "series",
      labels: null,
      outputs: { prediction: { horizon: expect.any(Number) } },
    });
  });

  it("gathers concurrent calls into few model calls, each caller getting its own answer", async () => {
    const stats = async () => (await call(`${server.url}/v1/models/TinyText`)).json.stats as { model_calls: number; requests: number; largest_batch: number };
    const before = await stats();
    const picks = Array.from({ length: 32 }, (_, i) => i % TEXT.length);
    const answers = await Promise.all(picks.map((k) => post(`${server.url}/v1/models/TinyText:predict`, { instances: [TEXT[k]] })));
    const after = await stats();
    answers.forEach((a, i) => expect(a.json).toEqual({ predictions: [predicted.text[picks[i]!]] }));
    expect(after.requests - before.requests).toBe(32);
    expect(after.model_calls - before.model_calls).toBeLessThanOrEqual(12);
    expect(after.largest_batch).toBeGreaterThan(1);
  });

  it("refuses bad calls with a status and a one-line JSON message, never a stack trace, and keeps serving", async () => {
    const p = `${server.url}/v1/models/TinyText:predict`;
    const cases: [Promise<Awaited<ReturnType<typeof call>>>, number, RegExp][] = [
      // A request the model cannot answer: the whole call fails, naming the instance (as TF Serving does).
      [post(p, { instances: [{ text: "fine" }, { ids: [2, 99] }] }), 400, /^instances\[1\]: id 99 at position 2 is not in the vocabulary/],
      [post(p, { instances: [{ text: 5 }] }), 400, /^instances\[0\]: needs a string field "review" \(or "text"\), not a number/],
      [post(`${server.url}/v1/models/TinySeries:predict`, { instances: [{ window: [[1]] }] }), 400, /^instances\[0\]: needs "window": \d+ rows/],
      // The body's JSON Schema.
      [post(p, { instances: [] }), 400, /^instances must not be empty$/],
      [post(p, { instances: [{ text: "ok" }, "text"] }), 400, /^instances\[1\] must be an object, not "text"$/],
      [post(p, { instances: { text: "a" } }), 400, /^instances must be a list, not an object$/],
      [post(p, { inputs: [{ text: "a" }] }), 400, /^the body lacks "instances"$/],
      [post(p, { instances: [{ text: "a" }], extra: 1 }), 400, /^the body has an unknown field "extra"$/],
      [post(p, [1, 2]), 400, /^the body must be an object, not a list$/],
      // Not JSON, empty, too large.
      [post(p, '{"instances": [{"text": "a"}'), 400, /^the body is not valid JSON/],
      [post(p, ""), 400, /^the body is empty/],
      [post(p, { instances: [{ text: "x".repeat(70_000) }] }), 413, /^the body is larger than 65536 bytes/],
      // Unknown models and routes, wrong methods.
      [post(`${server.url}/v1/models/Nope:predict`, { instances: [{}] }), 404, /^no model named "Nope" \(served: TinyText, TinySeries\)/],
      [post(`${server.url}/v1/models/__proto__:predict`, { instances: [{}] }), 404, /^no model named "__proto__"/],
      [call(`${server.url}/v1/models/constructor`), 404, /^no model named "constructor"/],
      [post(`${server.url}/v1/models/TinyText:train`, { instances: [{}] }), 404, /^no such route/],
      [call(`${server.url}/v2/anything`), 404, /^no such route: GET \/v2\/anything/],
      [call(`${server.url}/v1/models/%ZZ`), 400, /^\/v1\/models\/%ZZ: the URL does not decode$/],
      [call(p), 405, /^GET is not allowed on \/v1\/models\/TinyText:predict; use POST/],
      [call(`${server.url}/v1/models/TinyText`, { method: "DELETE" }), 405, /^DELETE is not allowed/],
      [call(`${server.url}/healthz`, { method: "PUT", body: "{}" }), 405, /^PUT is not allowed/],
    ];
    for (const [pending, status, message] of cases) {
      const r = await pending;
      expect([r.status, r.json.error], JSON.stringify(r.json)).toEqual([status, expect.stringMatching(message)]);
      expect(r.type).toMatch(/^application\/json/);
      expect(Object.keys(r.json)).toEqual(["error"]);
      expect(r.json.error).not.toMatch(/\n|\bat .*\.(js|ts):\d+/);
    }
    expect((await call(p)).allow).toBe("POST");
    // Keys named like Object.prototype's are a request's own fields, nothing more: the answer is the plain one.
    const proto = await post(p, `{"instances": [{"__proto__": {"review": "x"}, "constructor": 1, "review": "a wonderful, moving film"}]}`);
    expect(proto.json).toEqual({ predictions: [predicted.text[0]] });
    // A burst of malformed calls at once, then the server still answers.
    const junk = ["{", "null", "[]", '{"instances": 7}', '{"instances": [null]}', "\u0000\u0001", '{"instances": [{"ids": "x"}]}', "x".repeat(70_000)];
    const burst = await Promise.all(Array.from({ length: 64 }, (_, i) => post(p, junk[i % junk.length]!)));
    expect(burst.every((r) => r.status === 400 || r.status === 413)).toBe(true);
    expect((await post(p, { instances: [TEXT[0]] })).json).toEqual({ predictions: [predicted.text[0]] });
    // One access-log line per call: time, method, URL, status, milliseconds.
    expect(server.err()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z POST \/v1\/models\/Nope:predict 404 [\d.]+ms$/m);
    expect(server.err()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z GET \/v2\/anything 404 [\d.]+ms$/m);
  });

  it("refuses model directories outside the working directory, two models of one name, bad options and a port in use (exit 2)", async () => {
    const outside = await run("serve", join(tmpdir(), "no-such-attnc-model"), "--port", "0");
    expect([outside.code, outside.err]).toEqual([2, expect.stringMatching(/outside the working directory/)]);
    const twice = await run("serve", "text", "series", "text", "--port", "0");
    expect(twice.code).toBe(2);
    expect(twice.err).toMatch(/^attnc: text and text both hold a model named TinyText; a served model's name must be its own$/m);
    for (const [flag, value] of [
      ["--port", "65536"],
      ["--max-batch", "0"],
      ["--batch-delay-ms", "x"],
      ["--max-body", "12"],
    ]) {
      const r = await run("serve", "text", flag!, value!);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(new RegExp(`^attnc: ${flag} must be a whole number from \\d+ to \\d+, not "${value}"\\n$`));
    }
    const anywhere = await run("serve", "text", "--host", "", "--port", "0");
    expect([anywhere.code, anywhere.err]).toEqual([2, "attnc: --host must be an address (127.0.0.1, ::1, 0.0.0.0 for every interface), not empty\n"]);
    mkdirSync(join(work, "damaged"));
    writeFileSync(join(work, "damaged", "attnc.json"), "{");
    const damaged = await run("serve", "damaged", "--port", "0");
    expect(damaged.code).toBe(2);
    expect(damaged.err).toMatch(/damaged/);
    const port = new URL(server.url).port;
    const busy = await run("serve", "text", "--port", port);
    expect(busy.code).toBe(2);
    expect(busy.err.trim().split("\n").at(-1)).toBe(`attnc: cannot listen on 127.0.0.1:${port}: the port is in use (pick another with --port)`);
  });

  it("on SIGTERM answers the call in flight, stops accepting and exits 0", async () => {
    // A long batch delay keeps the call waiting in the server when the signal comes.
    const s = await serve("text", "--batch-delay-ms", "1000");
    const pending = post(`${s.url}/v1/models/TinyText:predict`, { instances: [TEXT[1]] });
    for (let i = 0; i < 200; i++) {
      const st = (await call(`${s.url}/v1/models/TinyText`)).json.stats as { queued: number };
      if (st.queued > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    s.child.kill("SIGTERM");
    expect(await pending).toMatchObject({ status: 200, json: { predictions: [predicted.text[1]] } });
    expect(await s.exit).toBe(0);
    expect(s.err()).toMatch(/attnc: SIGTERM: answering the calls in flight, then stopping\n[^]*attnc: stopped\n$/);
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });
});
