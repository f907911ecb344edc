// Writes adding.csv: the adding problem (Hochreiter & Schmidhuber 1997), seeded. Each sequence is 100 steps
// of (value in U[-1, 1], marker); exactly two steps are marked, one in each half, and the target is
// 0.5 + (X1 + X2) / 4 for the two marked values. A sequence is 100 consecutive rows with its target on every
// row; the spec cuts one window per sequence (window 100, horizon 0, stride 100).
//   node examples/adding/prepare.mjs [--sequences N] [--length T] [--seed S] [--out PATH]
import { createWriteStream } from "node:fs";

const args = process.argv.slice(2);
const get = (flag, d) => Number(args.includes(flag) ? args[args.indexOf(flag) + 1] : d);
const N = get("--sequences", 10000);
const T = get("--length", 100);
let s = get("--seed", 1) >>> 0;
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const outArg = args.includes("--out") ? args[args.indexOf("--out") + 1] : null;
const out = createWriteStream(outArg ?? new URL("adding.csv", import.meta.url));
out.write("sequence,value,marker,target\n");
for (let n = 0; n < N; n++) {
  const values = Array.from({ length: T }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4);
  const a = Math.floor(rand() * (T / 2));
  const b = T / 2 + Math.floor(rand() * (T / 2));
  const target = Math.round((0.5 + (values[a] + values[b]) / 4) * 1e6) / 1e6;
  let chunk = "";
  for (let t = 0; t < T; t++) chunk += `${n},${values[t]},${t === a || t === b ? 1 : 0},${target}\n`;
  out.write(chunk);
}
out.end(() => console.log(`wrote ${N} sequences of length ${T} to ${outArg ?? "examples/adding/adding.csv"}`));
