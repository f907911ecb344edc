/**
 * Fuzzing model directories: a real small trained directory, every JSON field of manifest.json, model.json,
 * attnc.json and the state mutated (types, huge and negative numbers, __proto__, paths with .. into a sibling
 * canary, missing keys), weight and optimizer files truncated and extended. predict, explain or evaluate must
 * exit 0 or 2, never 70 or a stack trace, never print the canary, and write nothing outside the directory
 * (nothing at all when they refuse it). A file reference pointed outside must be refused, not followed.
 * The test suite runs a few hundred cases; `npm run fuzz -- --target modeldir --runs N` runs a long campaign.
 */
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { attnc, attncIn } from "../in-process.js";
import { CANARY, copyOf, hasStackTrace, snapshot, trainedWorkspace, type Workspace } from "../security/modeldir-kit.js";
import { isWithin } from "../../src/runtime/paths.js";

const RUNS = Number(process.env["FUZZ_RUNS"] ?? 300);
const SEED = process.env["FUZZ_SEED"] !== undefined ? Number(process.env["FUZZ_SEED"]) : 20261130;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Values put in place of a field. */
const VALUES: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  -1e308,
  1e308,
  3e8,
  2 ** 31,
  2 ** 53,
  "",
  "x",
  "NaN",
  "x/../../E",
  "../../canary/secret.txt",
  "../../canary/model.json",
  "/etc/passwd",
  "..",
  ".",
  "model.json",
  [],
  [1, 2, 3],
  ["a"],
  {},
  { kind: "x" },
  JSON.parse('{"__proto__": {"polluted": true}}') as Json,
  Array.from({ length: 70 }, () => 7),
];
/** Fields that name files: pointed outside, they must be refused. */
const FILE_FIELDS = [/^manifest\.json:(model|weights|optimizer|state|files\.\d+)$/, /^model\.json:weightsManifest\.0\.paths\.0$/, /^attnc\.json:dataPath$/];

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Paths of every field; long lists contribute their first two and last items. */
function paths(v: Json, at: Path = []): Path[] {
  const out: Path[] = at.length > 0 ? [at] : [];
  if (Array.isArray(v)) {
    const idx = v.length <= 3 ? v.map((_, i) => i) : [0, 1, v.length - 1];
    for (const i of idx) out.push(...paths(v[i]!, [...at, i]));
  } else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) out.push(...paths(v[k]!, [...at, k]));
  return out;
}

function setAt(doc: Json, path: Path, value: Json | undefined): void {
  let o = doc as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (value !== undefined) o[last] = value;
  else if (Array.isArray(o)) o.splice(last as number, 1);
  else delete o[last];
}

interface Case {
  label: string;
  apply: (dir: string) => void;
  command: "predict" | "explain" | "evaluate";
  mustRefuse: boolean;
  /** The data path written into attnc.json: evaluate follows it under the working-directory rule, not the directory's. */
  dataPath?: string;
}

function jsonCases(ws: Workspace): Case[] {
  const manifest = JSON.parse(readFileSync(join(ws.base, "manifest.json"), "utf8")) as { state: string };
  const files = ["manifest.json", "model.json", "attnc.json", manifest.state];
  const out: Case[] = [];
  for (const file of files) {
    const doc = JSON.parse(readFileSync(join(ws.base, file), "utf8")) as Json;
    for (const p of paths(doc)) {
      const key = `${file.startsWith("state") ? "state" : file}:${p.join(".")}`;
      const isFile = FILE_FIELDS.some((r) => r.test(key));
      const mutations: (Json | undefined)[] = [undefined, ...VALUES];
      mutations.forEach((value, k) => {
        const outside = typeof value === "string" && (value.includes("..") || value.startsWith("/"));
        out.push({
          label: `${key} = ${value === undefined ? "(deleted)" : JSON.stringify(value).slice(0, 40)}`,
          apply: (dir) => {
            const d = JSON.parse(readFileSync(join(dir, file), "utf8")) as Json;
            setAt(d, p, value);
            writeFileSync(join(dir, file), JSON.stringify(d));
          },
          command: key === "attnc.json:dataPath" ? "evaluate" : k % 4 === 0 ? "explain" : "predict",
          mustRefuse: isFile && outside,
          ...(key === "attnc.json:dataPath" && typeof value === "string" ? { dataPath: value } : {}),
        });
      });
    }
    // The document replaced whole, cut short, or given an own __proto__ key.
    for (const [how, text] of [
      ["cut", (t: string) => t.slice(0, Math.floor(t.length / 2))],
      ["__proto__", (t: string) => t.replace("{", '{"__proto__": {"polluted": true},')],
      ["array", () => "[]"],
      ["empty", () => ""],
    ] as const) {
      out.push({
        label: `${file}: ${how}`,
        apply: (dir) => writeFileSync(join(dir, file), text(readFileSync(join(dir, file), "utf8"))),
        command: "predict",
        mustRefuse: false,
      });
    }
  }
  return out;
}

function binaryCases(ws: Workspace, rand: () => number, n: number): Case[] {
  const manifest = JSON.parse(readFileSync(join(ws.base, "manifest.json"), "utf8")) as { weights: string; optimizer: string };
  const out: Case[] = [];
  for (let i = 0; i < n; i++) {
    const file = rand() < 0.8 ? manifest.weights : manifest.optimizer;
    const size = readFileSync(join(ws.base, file)).length;
    const r = rand();
    if (r < 0.4) {
      const len = Math.floor(rand() * size);
      out.push({
        label: `${file} truncated to ${len}`,
        apply: (dir) => truncateSync(join(dir, file), len),
        command: "predict",
        mustRefuse: file === manifest.weights,
      });
    } else if (r < 0.8) {
      const extra = 1 + Math.floor(rand() * 8192);
      out.push({
        label: `${file} extended by ${extra}`,
        apply: (dir) => writeFileSync(join(dir, file), Buffer.concat([readFileSync(join(dir, file)), Buffer.alloc(extra, 0x7f)])),
        command: "predict",
        mustRefuse: file === manifest.weights,
      });
    } else {
      const at = Math.floor(rand() * size);
      out.push({
        label: `${file} byte ${at} flipped`,
        apply: (dir) => {
          const b = readFileSync(join(dir, file));
          b[at] = b[at]! ^ 0xff;
          writeFileSync(join(dir, file), b);
        },
        command: "explain",
        mustRefuse: false,
      });
    }
  }
  return out;
}

let ws: Workspace;
beforeAll(async () => {
  ws = await trainedWorkspace("test/fixtures/specs/tiny_text.attn", "attnc-fuzz-modeldir-");
});

describe("fuzzing model directories", () => {
  it(`mutated model directories (${RUNS} cases): exit 0 or 2, nothing read or written outside`, { timeout: 0 }, async () => {
    const rand = prng(SEED);
    const all = jsonCases(ws);
    const cases: Case[] = [];
    const nBinary = Math.max(1, Math.round(RUNS / 6));
    for (let i = 0; i < RUNS - nBinary; i++) cases.push(all[Math.floor(rand() * all.length)]!);
    cases.push(...binaryCases(ws, rand, nBinary));
    const outside = {
      base: snapshot(ws.base),
      canary: snapshot(ws.canary),
      root: readdirSync(ws.root)
        .filter((f) => f !== "cases")
        .sort(),
    };
    const failures: string[] = [];
    let refused = 0;
    for (const [i, c] of cases.entries()) {
      const dir = copyOf(ws, `case-${i}`);
      c.apply(dir);
      const before = snapshot(dir);
      const r =
        c.command === "evaluate"
          ? // From the cases folder: the model directory is inside the working directory, the canary outside it.
            await attncIn(join(ws.root, "cases"), "evaluate", dir, "--backend", "wasm", "--format", "json")
          : await attnc(c.command, dir, "--input", join(ws.root, "req.jsonl"), "--backend", "wasm", "--allow-outside");
      const problems: string[] = [];
      // The recorded data path may name any file inside the working directory (the cases folder): one that is not
      // valid data is a data error (exit 1); one outside it must be refused.
      const cases = join(ws.root, "cases");
      const mustRefuse = c.dataPath !== undefined ? !isWithin(cases, resolve(dir, c.dataPath)) : c.mustRefuse;
      const allowed = c.command === "evaluate" ? [0, 1, 2] : [0, 2];
      if (!allowed.includes(r.code)) problems.push(`exit ${r.code}`);
      if (mustRefuse && r.code !== 2) problems.push("followed a path outside the directory");
      if (hasStackTrace(r.err) || /internal error/.test(r.err)) problems.push("internal error or stack trace");
      if ((r.out + r.err).includes(CANARY)) problems.push("printed the canary");
      if (r.code === 2 && !/damaged model directory|is outside the working directory|not an attnc model directory/.test(r.err))
        problems.push("exit 2 without a model directory message");
      const after = snapshot(dir);
      if (r.code !== 0 && JSON.stringify(after) !== JSON.stringify(before)) problems.push("wrote into the directory it refused");
      if (r.code === 0 && Object.keys(after).some((f) => !(f in before) && !f.startsWith("explain/"))) problems.push("wrote outside explain/");
      if (({} as Record<string, unknown>)["polluted"] !== undefined) problems.push("polluted Object.prototype");
      if (problems.length > 0) failures.push(`${c.label} (${c.command}): ${problems.join(", ")}; exit ${r.code}: ${r.err.trim().split("\n").pop()}`);
      if (r.code === 2) refused++;
      rmSync(dir, { recursive: true, force: true });
    }
    expect(failures).toEqual([]);
    expect({
      base: snapshot(ws.base),
      canary: snapshot(ws.canary),
      root: readdirSync(ws.root)
        .filter((f) => f !== "cases")
        .sort(),
    }).toEqual(outside);
    // The mutations do reach the checks: most of them are refused.
    if (process.env["FUZZ_RUNS"] !== undefined)
      console.log(`modeldir fuzzing: ${cases.length} cases, ${refused} refused (exit 2), ${cases.length - refused} loaded`);
    expect(refused).toBeGreaterThan(cases.length / 3);
  });
});
