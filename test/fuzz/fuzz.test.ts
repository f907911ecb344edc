import fc from "fast-check";
import { describe, it } from "vitest";
import { checkSpec, checkValid, generated, mutated, valid } from "./properties.js";

/** The test suite runs a few thousand cases; `npm run fuzz -- --runs N` runs the long campaign. */
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 1500);
const SEED = process.env["FUZZ_SEED"] !== undefined ? Number(process.env["FUZZ_SEED"]) : 20261127;

describe("fuzzing the compiler", () => {
  it(`mutated specs (${RUNS} cases)`, async () => {
    await fc.assert(fc.asyncProperty(mutated, checkSpec), { numRuns: RUNS, seed: SEED });
  });

  it(`well-typed specs from the grammar compile (${Math.ceil(RUNS / 3)} cases)`, async () => {
    await fc.assert(fc.asyncProperty(valid, checkValid), { numRuns: Math.ceil(RUNS / 3), seed: SEED + 2 });
  });

  it(`specs generated from the grammar (${RUNS} cases)`, async () => {
    await fc.assert(fc.asyncProperty(generated, checkSpec), { numRuns: RUNS, seed: SEED + 1 });
  });
});
