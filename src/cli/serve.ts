/**
 * `attnc serve`: trained models over HTTP, in TF Serving's REST shape (docs/serve.md). Each model answers
 * through the library's AttncModel, the class `attnc predict` runs on, so an instance gets exactly the answer a
 * request line would. Concurrent calls for one model are gathered into one batch (micro-batching): a batch
 * goes through the model when --max-batch instances wait or the first has waited --batch-delay-ms, and while a
 * batch runs, the next gathers. main.ts imports this module (and fastify) only when serve runs.
 */
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { AttncModel, Answer } from "../api/model.js";
import type { IrDim } from "../ir/types.js";
import type { SchemaError } from "../ir/validate.js";
import { describeSchemaError } from "../modeldir/schemas.js";
import { nestedOutputs, outputSteps, targetColumns } from "../runtime/prep.js";
import { printable } from "../runtime/progress.js";
import { CliError, displayPath, type CliIo } from "./io.js";

export interface ServeOptions {
  port?: string;
  host?: string;
  maxBatch?: string;
  batchDelayMs?: string;
  maxBody?: string;
  backend?: string;
  allowOutside?: boolean;
}

/** Instances one call may carry (a bigger call goes through the model in --max-batch pieces; --max-body bounds it too). */
export const MAX_INSTANCES = 4096;
/** The most numbers one answer body holds (a JSON text of them must stay far below the longest string V8 makes). */
export const MAX_ANSWER_VALUES = 1 << 22;

/** How many numbers one instance's answer holds: the model's outputs, and for explain its attention weights. */
export function valuesPerAnswer(model: AttncModel, verb: "predict" | "explain"): number {
  const ir = model.ir;
  // A dimension left symbolic in the IR is a text's length: the tokenizer's max_len.
  const size = (d: IrDim): number => (typeof d === "number" ? d : (ir.dims[d] ?? (model.input.kind === "text" ? model.input.maxLen : 1)));
  const last = ir.nodes.find((n) => n.name === ir.outputs[0]);
  const outputs = last?.shape ? last.shape.slice(1).reduce<number>((a, d) => a * size(d), 1) : 1;
  if (verb === "predict") return Math.max(1, outputs);
  const weights = ir.nodes.reduce((sum, n) => sum + (n.ports?.["weights"] ? n.ports["weights"].slice(1).reduce<number>((a, d) => a * size(d), 1) : 0), 0);
  return Math.max(1, outputs + weights);
}

type Kind = "predict" | "explain";

/** How long a call may take to arrive, body included. */
const REQUEST_TIMEOUT_MS = 30_000;

/** How long a stopping server waits for the calls in flight. */
const GRACE_MS = 10_000;

interface Job {
  kind: Kind;
  instances: readonly unknown[];
  resolve(answers: Answer<unknown>[]): void;
  reject(e: unknown): void;
}

/** What the metadata route reports of a model's traffic, so that batching can be seen working. */
export interface ServeStats {
  /** Calls answered (predict and explain). */
  requests: number;
  instances: number;
  /** Batches run through the model (model.answer or model.explainEach calls). */
  model_calls: number;
  largest_batch: number;
  /** Instances waiting for the next batch now. */
  queued: number;
}

/**
 * Gathers one model's calls into batches: up to `maxBatch` instances, the first of them waiting at most
 * `delayMs`; one batch runs at a time, and the calls that arrive meanwhile form the next. Each call gets its own
 * slice of the answers back. A call larger than `maxBatch` goes through alone, in pieces of `maxBatch`.
 */
export class Batcher {
  private readonly queue: Job[] = [];
  /** What will start the next batch: the delay's timer, or the end of this event-loop turn. */
  private wake: { timer: ReturnType<typeof setTimeout> } | { immediate: ReturnType<typeof setImmediate> } | null = null;
  private running = false;
  private draining = false;
  readonly stats: ServeStats = { requests: 0, instances: 0, model_calls: 0, largest_batch: 0, queued: 0 };

  constructor(
    private readonly model: AttncModel,
    private readonly maxBatch: number,
    private readonly delayMs: number,
  ) {}

  submit(kind: Kind, instances: readonly unknown[]): Promise<Answer<unknown>[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, instances, resolve, reject });
      this.stats.queued += instances.length;
      this.schedule();
    });
  }

  /** From now on batches go at once, without waiting for more calls (shutting down). */
  drain(): void {
    this.draining = true;
    this.schedule();
  }

  private cancel(): void {
    if (this.wake && "timer" in this.wake) clearTimeout(this.wake.timer);
    else if (this.wake) clearImmediate(this.wake.immediate);
    this.wake = null;
  }

  /**
   * Starts the next batch: at once when a full batch waits (or the server is stopping); at the end of this
   * event-loop turn, so that the calls read in the same turn join, when `soon` or with no delay; else after the delay.
   */
  private schedule(soon = false): void {
    if (this.running || this.queue.length === 0) return;
    if (this.stats.queued >= this.maxBatch || this.draining) {
      this.cancel();
      void this.flush();
    } else if (soon || this.delayMs === 0) {
      if (this.wake && "immediate" in this.wake) return;
      this.cancel();
      this.wake = {
        immediate: setImmediate(() => {
          this.wake = null;
          void this.flush();
        }),
      };
    } else
      this.wake ??= {
        timer: setTimeout(() => {
          this.wake = null;
          void this.flush();
        }, this.delayMs),
      };
  }

  private async flush(): Promise<void> {
    this.cancel();
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    // The first call waiting, and the calls of the same kind right behind it that fit in one batch.
    const kind = this.queue[0]!.kind;
    const jobs: Job[] = [];
    let n = 0;
    while (this.queue.length > 0) {
      const j = this.queue[0]!;
      if (j.kind !== kind || (jobs.length > 0 && n + j.instances.length > this.maxBatch)) break;
      jobs.push(this.queue.shift()!);
      n += j.instances.length;
    }
    this.stats.queued -= n;
    try {
      const all = jobs.length === 1 ? jobs[0]!.instances : jobs.flatMap((j) => j.instances);
      const answers: Answer<unknown>[] = [];
      for (let at = 0; at < all.length; at += this.maxBatch) {
        const part = all.slice(at, at + this.maxBatch);
        this.stats.model_calls++;
        this.stats.largest_batch = Math.max(this.stats.largest_batch, part.length);
        answers.push(...(kind === "predict" ? await this.model.answer(part) : await this.model.explainEach(part)));
      }
      let k = 0;
      for (const j of jobs) {
        this.stats.requests++;
        this.stats.instances += j.instances.length;
        j.resolve(answers.slice(k, (k += j.instances.length)));
      }
    } catch (e) {
      for (const j of jobs) j.reject(e);
    } finally {
      this.running = false;
      // Calls that arrived during the batch have waited already: the next batch goes at the end of this turn.
      this.schedule(true);
    }
  }
}

function int(v: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < min || n > max)
    throw new CliError(`${flag} must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`);
  return n;
}

/** The request body of :predict and :explain (TF Serving's row format). */
export const BODY_SCHEMA = {
  type: "object",
  required: ["instances"],
  additionalProperties: false,
  properties: {
    instances: { type: "array", minItems: 1, maxItems: MAX_INSTANCES, items: { type: "object" } },
    // Accepted from TF Serving clients and ignored: a model has one signature.
    signature_name: { type: "string" },
  },
} as const;

const EMPTY = 'the body is empty; send a JSON object {"instances": [request, ...]}';

interface Served {
  model: AttncModel;
  dir: string;
  batcher: Batcher;
}

/** A validation error in words, at its place in the body: `instances[1] must be an object, not "text"`. */
function validationText(e: FastifyError, body: unknown): string {
  const first = e.validation?.[0];
  if (!first) return e.message;
  const text = describeSchemaError(body, first as SchemaError);
  return text.startsWith("the document") ? `the body${text.slice("the document".length)}` : first.instancePath === "" ? `the body ${text}` : text;
}

/** The methods a path that exists answers, for a 405. */
function allowed(path: string): string | null {
  if (path === "/healthz" || path === "/v1/models" || /^\/v1\/models\/[^/]+\/metadata$/.test(path)) return "GET, HEAD";
  if (/^\/v1\/models\/[^/]+:(predict|explain)$/.test(path)) return "POST";
  if (/^\/v1\/models\/[^/:]+$/.test(path)) return "GET, HEAD";
  return null;
}

function metadata(s: Served): object {
  const m = s.model;
  const outputs =
    m.input.kind === "series"
      ? {
          prediction: {
            target: m.input.target,
            horizon: m.input.horizon,
            ...(m.input.steps ? { steps: m.input.steps } : {}),
            predict: m.input.predict,
            // A model of several outputs answers a list per step of a value per target.
            ...(nestedOutputs(m.input) ? { shape: [outputSteps(m.input).length, targetColumns(m.input).length] } : {}),
          },
        }
      : { label: { labels: m.labels }, probabilities: { labels: m.labels } };
  return {
    name: m.name,
    task: m.task,
    inputs: m.input,
    outputs,
    labels: m.labels,
    attention: m.attention,
    predict: `/v1/models/${m.name}:predict`,
    explain: m.attention.length > 0 ? `/v1/models/${m.name}:explain` : null,
    stats: { ...s.batcher.stats },
    ir: m.ir,
  };
}

function buildApp(io: CliIo, served: ReadonlyMap<string, Served>, maxBody: number, state: { closing: boolean }): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: maxBody,
    // A body that never finishes does not hold a connection for ever: 408 after this long.
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Errors fastify meets before routing (a URL that does not decode) get the same one-line JSON as the others.
    frameworkErrors: (e, req, reply) => {
      const r = reply as unknown as FastifyReply;
      void r
        .code(e.statusCode ?? 400)
        .send({ error: `${printable(req.url).slice(0, 200)}: ${e.code === "FST_ERR_BAD_URL" ? "the URL does not decode" : e.message}` });
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
  });
  // Any content type is read as JSON (curl's -d sends form encoding); JSON.parse keeps a "__proto__" key as an own
  // field, never a prototype, and requests are read by their own fields only (docs/requests.md).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === "") return done(Object.assign(new Error(EMPTY), { statusCode: 400 }), undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (e) {
      done(Object.assign(new Error(`the body is not valid JSON: ${(e as Error).message}`), { statusCode: 400 }), undefined);
    }
  });

  // While stopping, each answer closes its connection, so that a keep-alive client does not hold the exit.
  app.addHook("onSend", async (_req, reply, payload) => {
    if (state.closing) void reply.header("connection", "close");
    return payload;
  });
  app.addHook("onResponse", async (req, reply) => {
    io.stderr.write(`${new Date().toISOString()} ${req.method} ${printable(req.url)} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)}ms\n`);
  });

  app.setErrorHandler((e: FastifyError, req, reply) => {
    if (e.validation && req.body === undefined) return reply.code(400).send({ error: EMPTY });
    if (e.validation) return reply.code(400).send({ error: validationText(e, req.body) });
    if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return reply.code(413).send({ error: `the body is larger than ${maxBody} bytes, the server's limit (--max-body)` });
    const status = e.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: e.message });
    io.stderr.write(`attnc: internal error answering ${req.method} ${printable(req.url)}: ${printable(e.message)}\n`);
    return reply.code(500).send({ error: "internal error (the server's log has the details)" });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split("?")[0]!;
    const allow = allowed(path);
    if (allow !== null)
      return reply
        .code(405)
        .header("allow", allow)
        .send({ error: `${req.method} is not allowed on ${path}; use ${allow.split(", ")[0]}` });
    return reply.code(404).send({ error: `no such route: ${req.method} ${path} (see GET /v1/models)` });
  });

  const find = (name: string, reply: FastifyReply): Served | undefined => {
    const s = served.get(name);
    if (!s) void reply.code(404).send({ error: `no model named ${JSON.stringify(name)} (served: ${[...served.keys()].join(", ")})` });
    return s;
  };

  app.get("/healthz", async () => ({ status: "ok", models: [...served.keys()] }));
  app.get("/v1/models", async () => ({
    models: [...served.values()].map((s) => ({ name: s.model.name, task: s.model.task, url: `/v1/models/${s.model.name}` })),
  }));
  const meta = async (req: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const name = req.params.name;
    if (/:(predict|explain)$/.test(name))
      return reply
        .code(405)
        .header("allow", "POST")
        .send({ error: `GET is not allowed on ${req.url.split("?")[0]}; use POST` });
    const s = find(name, reply);
    return s ? metadata(s) : reply;
  };
  app.get("/v1/models/:name", meta);
  app.get("/v1/models/:name/metadata", meta);

  app.post<{ Params: { target: string }; Body: { instances: unknown[] } }>("/v1/models/:target", { schema: { body: BODY_SCHEMA } }, async (req, reply) => {
    const target = req.params.target;
    const colon = target.lastIndexOf(":");
    const verb = colon >= 0 ? target.slice(colon + 1) : "";
    const name = colon >= 0 ? target.slice(0, colon) : target;
    if (verb !== "predict" && verb !== "explain")
      return reply.code(404).send({ error: `no such route: POST ${req.url.split("?")[0]} (use /v1/models/<name>:predict or :explain)` });
    const s = find(name, reply);
    if (!s) return reply;
    if (verb === "explain" && s.model.attention.length === 0) return reply.code(400).send({ error: `model ${s.model.name} has no attention layer to explain` });
    const per = valuesPerAnswer(s.model, verb);
    if (req.body.instances.length * per > MAX_ANSWER_VALUES)
      return reply.code(413).send({
        error: `${req.body.instances.length} instances of ${s.model.name}:${verb} would answer ${req.body.instances.length * per} numbers (${per} each), more than the server answers at once (${MAX_ANSWER_VALUES}); send at most ${Math.max(1, Math.floor(MAX_ANSWER_VALUES / per))} instances per call`,
      });
    const answers = await s.batcher.submit(verb, req.body.instances);
    const bad = answers.findIndex((a) => a !== null && typeof a === "object" && "error" in a);
    if (bad >= 0) return reply.code(400).send({ error: `instances[${bad}]: ${(answers[bad] as { error: string }).error}` });
    return verb === "predict" ? { predictions: answers } : { explanations: answers };
  });
  return app;
}

function urlOf(a: AddressInfo): string {
  return `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
}

/** Serves the models until SIGTERM or SIGINT; then answers the calls in flight and returns 0. */
export async function serveCommand(io: CliIo, dirs: string[], opts: ServeOptions): Promise<number> {
  const port = int(opts.port, "--port", 0, 65535, 8501);
  const maxBatch = int(opts.maxBatch, "--max-batch", 1, MAX_INSTANCES, 64);
  const delay = int(opts.batchDelayMs, "--batch-delay-ms", 0, 1000, 2);
  const maxBody = int(opts.maxBody, "--max-body", 1024, 1 << 30, 1 << 20);
  const host = opts.host ?? "127.0.0.1";
  // An empty address would listen on every interface: said, never implied (an unset variable in --host "$HOST").
  if (host.trim() === "") throw new CliError("--host must be an address (127.0.0.1, ::1, 0.0.0.0 for every interface), not empty");
  const { loadServed } = await import("./ml-commands.js");
  const served = new Map<string, Served>();
  const disposeAll = () => {
    for (const s of served.values()) s.model.dispose();
  };
  try {
    for (const dir of dirs) {
      const model = await loadServed(io, dir, opts.backend, opts.allowOutside);
      const twin = served.get(model.name);
      if (twin) {
        model.dispose();
        throw new CliError(
          `${displayPath(io, dir)} and ${displayPath(io, twin.dir)} both hold a model named ${model.name}; a served model's name must be its own`,
        );
      }
      served.set(model.name, { model, dir, batcher: new Batcher(model, maxBatch, delay) });
    }
  } catch (e) {
    disposeAll();
    throw e;
  }

  const state = { closing: false };
  const app = buildApp(io, served, maxBody, state);
  let address: AddressInfo;
  try {
    await app.listen({ port, host });
    address = app.server.address() as AddressInfo;
  } catch (e) {
    await app.close().catch(() => undefined);
    disposeAll();
    const code = (e as NodeJS.ErrnoException).code;
    const where = `${host}:${port}`;
    const why =
      code === "EADDRINUSE"
        ? "the port is in use (pick another with --port)"
        : code === "EACCES"
          ? "permission denied (ports below 1024 need privileges)"
          : code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN"
            ? "no such address on this machine (--host)"
            : printable((e as Error).message);
    throw new CliError(`cannot listen on ${where}: ${why}`);
  }
  const base = urlOf(address);
  for (const s of served.values()) io.stderr.write(`attnc: serving ${s.model.name} at ${base}/v1/models/${s.model.name}\n`);
  io.stderr.write(`attnc: listening on ${base} (stop with Ctrl-C or SIGTERM)\n`);

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      // A second signal is not caught: it ends the process at once.
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      io.stderr.write(`attnc: ${signal}: answering the calls in flight, then stopping\n`);
      state.closing = true;
      for (const s of served.values()) s.batcher.drain();
      // close() stops accepting, ends idle keep-alive connections and waits for the calls in flight; a connection
      // still open after GRACE_MS (a client that sent half a request and went quiet) is cut.
      const cut = setTimeout(() => app.server.closeAllConnections(), GRACE_MS);
      cut.unref();
      app.close().then(resolve, resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  disposeAll();
  io.stderr.write("attnc: stopped\n");
  return 0;
}
