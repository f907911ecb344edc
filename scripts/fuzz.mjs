// The long fuzzing campaigns:
//   npm run fuzz -- --runs 100000 [--seed N]                    the compiler: the properties of test/fuzz/properties.ts
//                                                               (mutated specs, well-typed specs, specs from the grammar), N cases each;
//   npm run fuzz -- --target modeldir --runs 5000 [--seed N]    model directories: test/fuzz/modeldir.test.ts, N mutated
//                                                               copies of a trained directory run through predict, explain, evaluate;
//   npm run fuzz -- --target inputs --runs 100000 [--seed N]    data files and requests: test/fuzz/inputs.test.ts, N mutated
//                                                               files per data format, N / 3 request lines per model kind.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const get = (flag, d) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : d);
const target = get("--target", "compiler");
const runs = Number(get("--runs", target === "modeldir" ? "5000" : "100000"));
const seed = get("--seed", String(Date.now() % 2147483647));
const files = { compiler: "test/fuzz/fuzz.test.ts", modeldir: "test/fuzz/modeldir.test.ts", inputs: "test/fuzz/inputs.test.ts" };
if (!Number.isInteger(runs) || runs < 1 || !(target in files)) {
  console.error("usage: npm run fuzz -- [--target compiler|modeldir|inputs] --runs N [--seed S]");
  process.exit(2);
}
console.log(`fuzzing the ${target}: ${runs} cases${target === "compiler" ? " per property" : ""}, seed ${seed}`);
const t0 = Date.now();
const r = spawnSync("npx", ["vitest", "run", files[target], "--testTimeout", "0"], {
  stdio: "inherit",
  env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: seed },
});
const total = target === "compiler" ? `${runs} x 2 + ${Math.ceil(runs / 3)}` : target === "inputs" ? `${runs} x 3 + ${Math.ceil(runs / 3)} x 2` : String(runs);
console.log(`fuzzing: ${total} cases in ${Math.round((Date.now() - t0) / 1000)} s, exit ${r.status}`);
process.exit(r.status ?? 1);
