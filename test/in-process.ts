import { run } from "../src/cli/main.js";

export interface Ran {
  code: number;
  out: string;
  err: string;
}

/** Runs the attnc command line in this process (no child, no shell) and collects what it writes. */
export async function attnc(...args: string[]): Promise<Ran> {
  return attncIn(process.cwd(), ...args);
}

/** The same, with `cwd` as the working directory (the process's own is left alone). */
export async function attncIn(cwd: string, ...args: string[]): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { cwd, env: {}, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } });
  return { code, out: out.join(""), err: err.join("") };
}
