import { compile } from "./compile.js";
import { renderDiagnostics } from "./diagnostics/render.js";

/** The expected-diagnostics file of a wrong spec: its plain rendering and the exit code `attnc check` gives. */
export async function errorBaseline(name: string, text: string): Promise<string> {
  const r = await compile({ name, text });
  const rendered = renderDiagnostics(r.diagnostics, "plain", new Map([[name, text]]));
  return `${rendered}${rendered === "" ? "" : "\n"}exit code ${r.ok ? 0 : 1}\n`;
}
