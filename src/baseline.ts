import { checkDataFiles } from "./cli/commands.js";
import { compile } from "./compile.js";
import { sortDiagnostics } from "./diagnostics/diagnostic.js";
import { renderDiagnostics } from "./diagnostics/render.js";

/**
 * The expected-diagnostics file of a wrong spec: its plain rendering and the exit code `attnc check` gives. As in
 * `attnc check`, a spec that compiles is checked against its data files (relative to the working directory).
 */
export async function errorBaseline(name: string, text: string): Promise<string> {
  const r = await compile({ name, text });
  const quiet = { write: () => true };
  const data = r.ok ? await checkDataFiles({ cwd: process.cwd(), env: {}, stdout: quiet, stderr: quiet }, { path: name, name }, r) : [];
  const diagnostics = sortDiagnostics([...r.diagnostics, ...data]);
  const rendered = renderDiagnostics(diagnostics, "plain", new Map([[name, text]]));
  return `${rendered}${rendered === "" ? "" : "\n"}exit code ${diagnostics.some((d) => d.severity === "error") ? 1 : 0}\n`;
}
