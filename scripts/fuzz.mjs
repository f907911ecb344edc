// The long fuzzing campaign: `npm run fuzz -- --runs 100000 [--seed N]`. Runs the properties of
// test/fuzz/properties.ts (mutated specs, well-typed specs, specs from the grammar) N times each.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const get = (flag, d) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : d);
const runs = Number(get("--runs", "100000"));
const seed = get("--seed", String(Date.now() % 2147483647));
if (!Number.isInteger(runs) || runs < 1) {
  console.error("usage: npm run fuzz -- --runs N [--seed S]");
  process.exit(2);
}
console.log(`fuzzing: ${runs} cases per property, seed ${seed}`);
const t0 = Date.now();
const r = spawnSync("npx", ["vitest", "run", "test/fuzz/fuzz.test.ts", "--testTimeout", "0"], {
  stdio: "inherit",
  env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: seed },
});
console.log(`fuzzing: ${runs} x 2 + ${Math.ceil(runs / 3)} cases in ${Math.round((Date.now() - t0) / 1000)} s, exit ${r.status}`);
process.exit(r.status ?? 1);
