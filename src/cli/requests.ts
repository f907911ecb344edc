/**
 * JSONL requests for `attnc predict` and `attnc explain`, read line by line as they arrive, so that the
 * commands can sit in a pipe and answer each line before the next one is written. A line is at most
 * MAX_RECORD_CHARS bytes; a longer one (or endless input without a line break, such as /dev/zero) stops the
 * run. Memory stays bounded: the stream is paused while enough lines wait to be answered.
 */
import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { entryKind, MAX_DATA_BYTES, MAX_RECORD_CHARS } from "../runtime/csv.js";
import { fsReason } from "../runtime/paths.js";
import { CliError, displayPath, type CliIo } from "./io.js";
import { within } from "./paths.js";

/** One non-blank request line: its JSON object, or why it is not one. */
export type RequestLine = { line: number; value: Record<string, unknown> } | { line: number; error: string };

/** Lines waiting to be answered before the stream is paused. */
const HIGH_WATER = 256;

export class RequestReader {
  private readonly queue: RequestLine[] = [];
  private parts: Buffer[] = [];
  private partBytes = 0;
  private line = 0;
  private ended = false;
  private fatal: CliError | null = null;
  private wake: (() => void) | null = null;
  private first = true;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(
    private readonly stream: Readable,
    readonly name: string,
  ) {
    stream.on("data", (chunk: Buffer | string) => this.take(typeof chunk === "string" ? Buffer.from(chunk) : chunk));
    stream.on("end", () => {
      if (this.partBytes > 0) this.finish(Buffer.concat(this.parts));
      this.parts = [];
      this.ended = true;
      this.notify();
    });
    stream.on("error", (e) => this.stop(new CliError(`cannot read ${name}: ${fsReason(e)}`)));
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private stop(e: CliError): void {
    if (this.fatal || this.ended) return;
    this.fatal = e;
    this.ended = true;
    this.stream.destroy();
    this.notify();
  }

  private take(chunk: Buffer): void {
    if (this.ended) return;
    let from = 0;
    let nl: number;
    while ((nl = chunk.indexOf(10, from)) >= 0) {
      const piece = chunk.subarray(from, nl);
      const whole = this.partBytes > 0 ? Buffer.concat([...this.parts, piece]) : piece;
      this.parts = [];
      this.partBytes = 0;
      if (whole.length > MAX_RECORD_CHARS) return this.stop(this.tooLong(this.line + 1));
      this.finish(whole);
      from = nl + 1;
    }
    if (from < chunk.length) {
      this.parts.push(chunk.subarray(from));
      this.partBytes += chunk.length - from;
      if (this.partBytes > MAX_RECORD_CHARS) return this.stop(this.tooLong(this.line + 1));
    }
    if (this.queue.length >= HIGH_WATER) this.stream.pause();
    this.notify();
  }

  private tooLong(line: number): CliError {
    return new CliError(`${this.name}:${line}: this line is longer than ${MAX_RECORD_CHARS} bytes (1 MiB), the most a request may have; stopped reading`, 1);
  }

  /** Parses one complete line (without its "\n"). */
  private finish(bytes: Buffer): void {
    const line = ++this.line;
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      this.queue.push({ line, error: "invalid UTF-8" });
      return;
    }
    if (this.first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.first = false;
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      this.queue.push({ line, error: `not valid JSON: ${(e as Error).message}` });
      return;
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) this.queue.push({ line, error: "each line must be a JSON object" });
    else this.queue.push({ line, value: v as Record<string, unknown> });
  }

  /**
   * The lines that have arrived, at most `max`, waiting for at least one; an empty list at the end of the
   * input. Throws the error that stopped the reading once the lines before it are taken.
   */
  async next(max: number): Promise<RequestLine[]> {
    while (this.queue.length === 0 && !this.ended) {
      await new Promise<void>((res) => {
        this.wake = res;
        if (this.stream.isPaused()) this.stream.resume();
      });
    }
    if (this.queue.length === 0 && this.fatal) throw this.fatal;
    const out = this.queue.splice(0, max);
    if (this.queue.length < HIGH_WATER / 2 && !this.ended && this.stream.isPaused()) this.stream.resume();
    return out;
  }

  /** Stops reading (an early end: the stream is released so that the process can exit). */
  close(): void {
    this.ended = true;
    this.stream.destroy();
  }
}

/**
 * Opens `--input`: "-" is standard input (io.stdin, else the process's), anything else a regular file (at
 * most MAX_DATA_BYTES) or a pipe, both read once. Directories, devices and sockets are refused before reading.
 */
export function openRequests(io: CliIo, input: string, allowOutside: boolean | undefined): RequestReader {
  if (input === "-") return new RequestReader(io.stdin ?? process.stdin, "<stdin>");
  const name = displayPath(io, input);
  const abs = within(io, input, "the input file", allowOutside);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    throw new CliError(`cannot read ${name}: ${fsReason(e)}`);
  }
  if (!st.isFile() && !st.isFIFO())
    throw new CliError(`cannot read ${name}: it is ${entryKind(st)}; requests come from a regular file, a pipe, or standard input (--input -)`);
  if (st.isFile() && st.size > MAX_DATA_BYTES)
    throw new CliError(`cannot read ${name}: it is ${st.size} bytes, more than the ${MAX_DATA_BYTES / 1024 ** 3} GiB a request file may have`);
  return new RequestReader(createReadStream(abs, { highWaterMark: 1 << 16 }), name);
}
