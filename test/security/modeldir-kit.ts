import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attnc } from "../in-process.js";

/** Text that must never appear in attnc's output: it is only in files outside the model directory under test. */
export const CANARY = "canary-3f9c2e1d-outside-the-model-directory";

/**
 * A workspace for tampering with model directories: a trained model (`base`), and beside it `canary/`, a
 * complete copy of the model plus a secret file, so that a path leading out of a directory would load
 * something valid (and be noticed by the exit code) and print the secret (and be noticed in the output).
 */
export interface Workspace {
  root: string;
  base: string;
  canary: string;
}

export async function trainedWorkspace(spec: string, prefix: string): Promise<Workspace> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const base = join(root, "base");
  const r = await attnc("train", spec, "--out", base, "--allow-outside", "--epochs", "1", "--backend", "wasm");
  if (r.code !== 0) throw new Error(`training the fixture failed: ${r.err}`);
  const canary = join(root, "canary");
  cpSync(base, canary, { recursive: true });
  writeFileSync(join(canary, "secret.txt"), `${CANARY}\n`);
  writeFileSync(join(canary, "secret.csv"), `review,sentiment\n${CANARY},pos\n${CANARY},neg\n`);
  writeFileSync(join(root, "req.jsonl"), `{"text": "a great and moving film"}\n{"text": "dull"}\n`);
  return { root, base, canary };
}

/** A fresh copy of the trained model to tamper with. */
export function copyOf(ws: Workspace, name: string): string {
  const dir = join(ws.root, "cases", name);
  mkdirSync(join(ws.root, "cases"), { recursive: true });
  cpSync(ws.base, dir, { recursive: true });
  return dir;
}

/** Every file under a directory with its size, modification time and content hash: equal snapshots mean nothing was written. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, r);
      else {
        const st = statSync(p, { throwIfNoEntry: false });
        if (e.isSymbolicLink()) out[r] = `link to ${readlinkSync(p)}`;
        else out[r] = st ? `${st.size}:${st.mtimeMs}:${createHash("sha1").update(readFileSync(p)).digest("hex")}` : "gone";
      }
    }
  };
  walk(dir, "");
  return out;
}

export function editJson(path: string, edit: (v: Record<string, unknown>) => void): void {
  const v = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  edit(v);
  writeFileSync(path, JSON.stringify(v));
}

/** No line of output is a stack frame. */
export function hasStackTrace(s: string): boolean {
  return /^\s+at .+(:\d+:\d+\)?|\(node:)/m.test(s);
}
