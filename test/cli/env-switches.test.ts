/**
 * The runtime's switches in the environment (ATTNC_LSTM_KERNEL, ATTNC_NO_FUSED_KERNELS,
 * ATTNC_NO_SEQUENCE_KERNELS) take the values README names; anything else is a usage error naming the variable,
 * before the command does anything, instead of silently meaning the default.
 */
import { describe, expect, it } from "vitest";
import { ENV_SWITCHES, run } from "../../src/cli/main.js";

async function withEnv(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, { cwd: process.cwd(), env, stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } });
  return { code, out: out.join(""), err: err.join("") };
}

describe("environment switches", () => {
  for (const [name, bad] of [
    ["ATTNC_LSTM_KERNEL", "JS"],
    ["ATTNC_LSTM_KERNEL", "foo"],
    ["ATTNC_NO_FUSED_KERNELS", "true"],
    ["ATTNC_NO_SEQUENCE_KERNELS", "yes"],
  ] as const) {
    it(`${name}=${bad} is a usage error`, async () => {
      const r = await withEnv({ [name]: bad }, "check", "specs/forecast.attn");
      expect(r.code).toBe(2);
      expect(r.err).toBe(`attnc: environment variable ${name} must be ${ENV_SWITCHES[name]!.map((v) => `"${v}"`).join(" or ")} (or unset), not "${bad}"\n`);
      expect(r.out).toBe("");
    });
  }

  it("every documented value, and empty, is accepted", async () => {
    for (const [name, values] of Object.entries(ENV_SWITCHES))
      for (const v of [...values, ""]) {
        const r = await withEnv({ [name]: v }, "check", "specs/forecast.attn");
        expect([name, v, r.code, r.err]).toEqual([name, v, 0, expect.not.stringContaining("environment variable")]);
      }
  });
});
