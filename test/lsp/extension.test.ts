import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

interface Started {
  id: string;
  server: { command: string; args: string[] };
  client: { documentSelector: { language: string }[] };
  started: boolean;
}

/** Loads editors/vscode/extension.js with stand-ins for the editor API and the language client. */
function loadExtension(workspace: { trusted: boolean; folders: string[]; serverPath?: string }): {
  ext: { activate(ctx: unknown): Promise<void>; deactivate(): unknown };
  clients: Started[];
  commands: string[];
} {
  const clients: Started[] = [];
  const commands: string[] = [];
  const vscode = {
    workspace: {
      isTrusted: workspace.trusted,
      workspaceFolders: workspace.folders.map((f) => ({ uri: { fsPath: f } })),
      getConfiguration: (section: string) => ({
        get: (key: string) => (section === "attn" && key === "server.path" ? (workspace.serverPath ?? "") : undefined),
      }),
    },
    commands: { registerCommand: (name: string) => (commands.push(name), { dispose() {} }) },
    window: { showErrorMessage: () => undefined },
  };
  class LanguageClient {
    readonly record: Started;
    constructor(id: string, _name: string, server: Started["server"], client: Started["client"]) {
      this.record = { id, server, client, started: false };
      clients.push(this.record);
    }
    async start(): Promise<void> {
      this.record.started = true;
    }
    async stop(): Promise<void> {}
  }
  const M = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = M._load;
  M._load = function (request: string, ...rest: unknown[]) {
    if (request === "vscode") return vscode;
    if (request === "vscode-languageclient/node") return { LanguageClient };
    return load.call(this, request, ...rest);
  };
  try {
    const require = createRequire(import.meta.url);
    const path = require.resolve("../../editors/vscode/extension.js");
    delete require.cache[path];
    return { ext: require(path) as never, clients, commands };
  } finally {
    M._load = load;
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function workspaceWithAttnc(): string {
  const dir = mkdtempSync(join(tmpdir(), "attn-ext-"));
  dirs.push(dir);
  mkdirSync(join(dir, "node_modules", ".bin"), { recursive: true });
  writeFileSync(join(dir, "node_modules", ".bin", process.platform === "win32" ? "attnc.cmd" : "attnc"), "");
  return dir;
}

describe("VS Code extension", () => {
  it("starts attnc lsp --stdio for attn documents: attnc on the PATH by default", async () => {
    const { ext, clients, commands } = loadExtension({ trusted: true, folders: [] });
    await ext.activate({ subscriptions: [] });
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({
      id: "attn",
      server: { command: "attnc", args: ["lsp", "--stdio"] },
      client: { documentSelector: [{ language: "attn" }] },
      started: true,
    });
    expect(commands).toEqual(["attn.restartServer"]);
    await ext.deactivate();
  });

  it("uses the workspace's attnc only in a trusted workspace, and the configured path above both", async () => {
    const dir = workspaceWithAttnc();
    const trusted = loadExtension({ trusted: true, folders: [dir] });
    await trusted.ext.activate({ subscriptions: [] });
    expect(trusted.clients[0]!.server.command).toBe(join(dir, "node_modules", ".bin", process.platform === "win32" ? "attnc.cmd" : "attnc"));
    const untrusted = loadExtension({ trusted: false, folders: [dir] });
    await untrusted.ext.activate({ subscriptions: [] });
    expect(untrusted.clients[0]!.server.command).toBe("attnc");
    const configured = loadExtension({ trusted: true, folders: [dir], serverPath: "  tools/attnc " });
    await configured.ext.activate({ subscriptions: [] });
    expect(configured.clients[0]!.server.command).toBe("tools/attnc");
  });
});
