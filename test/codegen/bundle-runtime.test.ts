import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a build script in plain JavaScript, without type declarations
import { bundleRuntime } from "../../scripts/bundle-runtime.mjs";
import { TFJS_VERSION, tfjsVersionProblem } from "../../src/runtime/backend.js";

const bundle = bundleRuntime as (dir: string) => { text: string; modules: string[] };

function runtimeDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "attnc-bundle-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("the runtime bundler", () => {
  it("orders modules after what they import, drops sibling imports and merges package imports, whatever the layout", () => {
    const dir = runtimeDir({
      "program.ts":
        'import {\n  helper,\n  type Shape,\n} from "./b.js";\nimport { join } from "node:path";\nexport const run = (s: Shape) => helper(join("a", String(s)));\n',
      "b.ts":
        '/** The module doc comment. */\nimport { join, resolve } from "node:path";\nimport type * as tf from "@tensorflow/tfjs";\n/** kept */\nexport type Shape = number;\nexport function helper(p: string): string {\n  return resolve(join(p));\n}\nexport type T = tf.Tensor;\n',
      "unused.ts": "export const notReached = 1;\n",
    });
    const { text, modules } = bundle(dir);
    expect(modules).toEqual(["b.ts", "program.ts"]);
    expect(text).toContain('import { join, resolve } from "node:path";');
    expect(text).toContain('import type * as tf from "@tensorflow/tfjs";');
    expect(text).not.toContain("./b.js");
    expect(text).not.toContain("notReached");
    expect(text.indexOf("// ---- runtime/b.ts")).toBeLessThan(text.indexOf("// ---- runtime/program.ts"));
    expect(text).toContain("/** kept */");
    expect(text).toContain("/** The module doc comment. */");
  });

  it("refuses two modules that declare the same top-level name", () => {
    const dir = runtimeDir({
      "program.ts": 'import { a } from "./b.js";\nfunction twice() {}\nexport const x = a;\n',
      "b.ts": "function twice() {}\nexport const a = 1;\n",
    });
    expect(() => bundle(dir)).toThrow(/program\.ts and b\.ts both declare twice|b\.ts and program\.ts both declare twice/);
  });

  it("refuses an import cycle and a missing module", () => {
    expect(() =>
      bundle(
        runtimeDir({
          "program.ts": 'import { a } from "./b.js";\nexport const x = a;\n',
          "b.ts": 'import { x } from "./program.js";\nexport const a = 1;\nexport const y = x;\n',
        }),
      ),
    ).toThrow(/import cycle/);
    expect(() => bundle(runtimeDir({ "program.ts": 'import { a } from "./gone.js";\nexport const x = a;\n' }))).toThrow(/gone\.ts is missing/);
  });
});

describe("the TensorFlow.js release check", () => {
  it("accepts the release the runtime is made for and names what to install otherwise", () => {
    expect(tfjsVersionProblem()).toBeUndefined();
    expect(tfjsVersionProblem(TFJS_VERSION)).toBeUndefined();
    expect(tfjsVersionProblem("4.21.0")).toBe(
      `this program is made for @tensorflow/tfjs ${TFJS_VERSION}, but 4.21.0 is installed; run: npm install @tensorflow/tfjs@${TFJS_VERSION} @tensorflow/tfjs-backend-wasm@${TFJS_VERSION}`,
    );
  });
});
