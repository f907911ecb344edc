// The VS Code side of attnc's language support: starts `attnc lsp --stdio` for .attn files.
// Bundled with vscode-languageclient into dist/extension.js by package.mjs (npm run package:vscode).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

/** @type {LanguageClient | undefined} */
let client;

/** The configured attnc, else the workspace's own (trusted workspaces only), else attnc on the PATH. */
function serverCommand() {
  const configured = vscode.workspace.getConfiguration("attn").get("server.path");
  if (typeof configured === "string" && configured.trim() !== "") return configured.trim();
  if (vscode.workspace.isTrusted) {
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const local = path.join(folder.uri.fsPath, "node_modules", ".bin", process.platform === "win32" ? "attnc.cmd" : "attnc");
      if (fs.existsSync(local)) return local;
    }
  }
  return "attnc";
}

async function activate(context) {
  const command = serverCommand();
  client = new LanguageClient(
    "attn",
    "attnc language server",
    { command, args: ["lsp", "--stdio"], options: { shell: process.platform === "win32" } },
    { documentSelector: [{ language: "attn" }] },
  );
  context.subscriptions.push(vscode.commands.registerCommand("attn.restartServer", () => client?.restart()));
  try {
    await client.start();
  } catch (e) {
    void vscode.window.showErrorMessage(
      `attn: could not start '${command} lsp --stdio' (${e instanceof Error ? e.message : String(e)}). Install attnc or set attn.server.path.`,
    );
  }
}

function deactivate() {
  return client?.stop();
}

module.exports = { activate, deactivate };
