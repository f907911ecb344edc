import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Makes a folder that `attnc build` wrote runnable by node: `<Model>.ts` and the runtime module it imports,
 * `attnc-runtime.ts`, become ES modules beside them (`<Model>.js`, `attnc-runtime.js`, and a package.json that
 * says "module"), so the program's default data path, relative to it, still holds. Returns the program's path.
 * Packages resolve from the node_modules of `dir` or a folder above it.
 */
export async function runnableProgram(dir: string, model: string): Promise<string> {
  const { transform } = await import("esbuild");
  const out = dir;
  writeFileSync(join(out, "package.json"), '{ "type": "module" }\n');
  for (const [from, to] of [
    [`${model}.ts`, `${model}.js`],
    ["attnc-runtime.ts", "attnc-runtime.js"],
  ] as const) {
    writeFileSync(join(out, to), (await transform(readFileSync(join(dir, from), "utf8"), { loader: "ts", format: "esm", target: "node20" })).code);
  }
  return join(out, `${model}.js`);
}
