/**
 * The bench script's output shape (no timings asserted): its inference section with tiny repetition counts
 * (--smoke) writes one JSON line per model with positive finite latencies and throughput, and --only rejects an
 * unknown section with exit code 2. Needs the build (dist/), as npm test's pretest makes it.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bench = (...args: string[]) => spawnSync(process.execPath, ["bench/train-speed.mjs", ...args], { cwd: root, encoding: "utf8", timeout: 60_000 });

describe("npm run bench", () => {
  it("--only inference --json: a line per model with positive finite latencies and samples/s", () => {
    const r = bench("--only", "inference", "--smoke", "--no-torch", "--lengths", "4", "--json", "--backend", "wasm");
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l["section"], l["model"], l["T"]])).toEqual([
      ["inference", "text-classifier", 4],
      ["inference", "temporal-forecaster", 24],
    ]);
    for (const l of lines) {
      for (const key of ["latency_ms_median", "latency_ms_p95", "samples_per_s"]) {
        const v = l[key];
        expect(typeof v === "number" && Number.isFinite(v) && v > 0, `${key} = ${String(v)}`).toBe(true);
      }
      expect(l["latency_ms_p95"] as number).toBeGreaterThanOrEqual(l["latency_ms_median"] as number);
      expect(l["throughput_ratio_vs_torch"]).toBeNull();
    }
  }, 60_000);

  it("--only with an unknown section: exit 2 and a one-line message", () => {
    const r = bench("--only", "inference,speed", "--no-torch");
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('bench: --only takes training, limit, inference (comma-separated), not "speed"');
    expect(r.stdout).toBe("");
  });
});
