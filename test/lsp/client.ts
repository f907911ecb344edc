import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  createProtocolConnection,
  PublishDiagnosticsNotification,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
  type ProtocolConnection,
} from "vscode-languageserver-protocol/node";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** An editor's side of `attnc lsp --stdio`: a child process and a JSON-RPC connection over its pipes. */
export class LspClient {
  readonly conn: ProtocolConnection;
  private readonly child: ChildProcess;
  private readonly waiters: { uri: string; version?: number; resolve: (d: Diagnostic[]) => void }[] = [];
  readonly publishCount = new Map<string, number>();
  readonly published = new Map<string, { version?: number; diagnostics: Diagnostic[] }>();
  stderr = "";
  /** window/logMessage notifications: the server logs a request that failed inside it there. */
  readonly logs: { type: number; message: string }[] = [];
  exitCode: number | null | undefined;

  constructor() {
    this.child = spawn(process.execPath, ["bin/attnc.js", "lsp", "--stdio"], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr!.on("data", (b: Buffer) => (this.stderr += b.toString()));
    this.child.on("exit", (code) => (this.exitCode = code));
    this.conn = createProtocolConnection(new StreamMessageReader(this.child.stdout!), new StreamMessageWriter(this.child.stdin!));
    this.conn.onNotification(PublishDiagnosticsNotification.type, (p) => {
      this.publishCount.set(p.uri, (this.publishCount.get(p.uri) ?? 0) + 1);
      this.published.set(p.uri, { ...(p.version !== undefined ? { version: p.version } : {}), diagnostics: p.diagnostics });
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i]!;
        if (w.uri === p.uri && (w.version === undefined || w.version === p.version)) {
          this.waiters.splice(i, 1);
          w.resolve(p.diagnostics);
        }
      }
    });
    this.conn.onNotification("window/logMessage", (p: { type: number; message: string }) => {
      this.logs.push(p);
    });
    this.conn.listen();
  }

  /** `workspaceFolders`: file:// URIs of the folders the editor has open (none by default). */
  async initialize(workspaceFolders?: string[]): Promise<unknown> {
    const r = await this.conn.sendRequest("initialize", {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      ...(workspaceFolders ? { workspaceFolders: workspaceFolders.map((uri, i) => ({ uri, name: `folder${i}` })) } : {}),
    });
    await this.conn.sendNotification("initialized", {});
    return r;
  }

  /** Resolves with the next diagnostics published for `uri` (at `version`, when given). */
  diagnostics(uri: string, version?: number): Promise<Diagnostic[]> {
    return new Promise((resolve) => this.waiters.push({ uri, ...(version !== undefined ? { version } : {}), resolve }));
  }

  async open(uri: string, text: string, version = 1): Promise<Diagnostic[]> {
    const d = this.diagnostics(uri, version);
    await this.conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "attn", version, text } });
    return d;
  }

  async change(uri: string, version: number, changes: unknown[]): Promise<Diagnostic[]> {
    const d = this.diagnostics(uri, version);
    await this.conn.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: changes });
    return d;
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params) as Promise<R>;
  }

  /** shutdown, then exit: the server ends with code 0. */
  async close(): Promise<number | null> {
    await this.conn.sendRequest("shutdown");
    const exited = new Promise<number | null>((resolve) => {
      if (this.exitCode !== undefined) resolve(this.exitCode);
      else this.child.on("exit", (code) => resolve(code));
    });
    await this.conn.sendNotification("exit");
    const code = await exited;
    this.conn.dispose();
    return code;
  }

  kill(): void {
    this.conn.dispose();
    this.child.kill();
  }
}

/** A position (0-based line and UTF-16 character) of the n-th occurrence of `needle` in `text`, plus `delta` characters. */
export function positionOf(text: string, needle: string, delta = 0, nth = 0): { line: number; character: number } {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`'${needle}' not found`);
  }
  const offset = at + delta;
  const before = text.slice(0, offset);
  const line = before.split("\n").length - 1;
  return { line, character: offset - (before.lastIndexOf("\n") + 1) };
}
