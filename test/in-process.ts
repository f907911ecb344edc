import { run } from "../src/cli/main.js";

/** Runs the attnc command line in this process (no child, no shell) and collects what it writes. */
export async function attnc(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { cwd: process.cwd(), env: {}, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } });
  return { code, out: out.join(""), err: err.join("") };
}
