/**
 * The Python the PyTorch tests run: $ATTNC_PYTHON, else .venv/bin/python. One that cannot import torch and numpy
 * fails the tests with what to do (they are never skipped).
 */
import { execFile, execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

let found: string | undefined;

export function python(): string {
  if (found !== undefined) return found;
  const candidates = [process.env["ATTNC_PYTHON"], resolve(".venv/bin/python")].filter((p): p is string => p !== undefined && p !== "");
  for (const p of candidates) {
    if (!existsSync(p) && p.includes("/")) continue;
    try {
      execFileSync(p, ["-c", "import torch, numpy"], { stdio: "ignore", timeout: 60_000 });
      found = p;
      return p;
    } catch {
      // the next candidate
    }
  }
  throw new Error(
    `no Python with torch and numpy (tried ${candidates.join(", ") || "nothing"}): create one with ` +
      "`python3 -m venv .venv && .venv/bin/pip install --retries 0 --timeout 5 torch numpy`, or set ATTNC_PYTHON",
  );
}

/** Runs Python with `args`; throws with its stderr when it fails. */
export function runPython(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(python(), args, {
    cwd: opts.cwd,
    env: { ...process.env, OMP_NUM_THREADS: "1", PYTHONDONTWRITEBYTECODE: "1", ...opts.env },
    encoding: "utf8",
    timeout: opts.timeout ?? 120_000,
  });
  return r;
}

export function runPythonOk(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): string {
  const r = runPython(args, opts);
  if (r.status !== 0) throw new Error(`python ${args.join(" ")} exited with ${String(r.status ?? r.signal)}:\n${r.stderr}${r.error ? String(r.error) : ""}`);
  return r.stdout;
}

/** Runs Python with `args` without blocking, so that several runs overlap: its exit status, stdout and stderr. */
export function runPythonAsync(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      python(),
      args,
      {
        cwd: opts.cwd,
        env: { ...process.env, OMP_NUM_THREADS: "1", PYTHONDONTWRITEBYTECODE: "1", ...opts.env },
        encoding: "utf8",
        timeout: opts.timeout ?? 120_000,
      },
      (error, stdout, stderr) => done({ status: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
    );
  });
}
