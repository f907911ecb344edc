import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tmLanguage, tmLanguageText } from "../../src/lsp/tmlanguage.js";

interface Rule {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  captures?: Record<string, { name?: string }>;
  patterns?: Rule[];
  include?: string;
}

/** The grammar's single-line rules in order, includes resolved (enough to scope one line as an editor would). */
function flatRules(g: { patterns: Rule[]; repository: Record<string, Rule> }): Rule[] {
  const out: Rule[] = [];
  const visit = (r: Rule): void => {
    if (r.include) visit(g.repository[r.include.slice(1)]!);
    else if (r.match || r.begin) out.push(r);
    else for (const p of r.patterns ?? []) visit(p);
  };
  for (const p of g.patterns) visit(p);
  return out;
}

/** Scopes of the words of one line: at each position the earliest match wins, ties go to the first rule. */
function scopeLine(line: string): Map<string, string> {
  const rules = flatRules(tmLanguage() as never);
  const scopes = new Map<string, string>();
  let pos = 0;
  while (pos < line.length) {
    let best: { rule: Rule; m: RegExpExecArray } | undefined;
    for (const rule of rules) {
      const re = new RegExp(rule.match ?? rule.begin!, "dg");
      re.lastIndex = pos;
      const m = re.exec(line);
      if (m && m[0].length > 0 && (!best || m.index < best.m.index)) best = { rule, m };
    }
    if (!best) break;
    const { rule, m } = best;
    if (rule.name) scopes.set(m[0], rule.name);
    for (const [group, cap] of Object.entries(rule.captures ?? {})) {
      const at = m.indices![Number(group)];
      if (at && cap.name) scopes.set(line.slice(at[0], at[1]), cap.name);
    }
    pos = rule.begin ? line.length : m.index + m[0].length;
  }
  return scopes;
}

describe("TextMate grammar", () => {
  it("is the one npm run generate writes from the lexer's token table", () => {
    expect(readFileSync("editors/vscode/syntaxes/attn.tmLanguage.json", "utf8")).toBe(tmLanguageText());
  });

  it("is the grammar the VS Code extension contributes for .attn files", () => {
    const pkg = JSON.parse(readFileSync("editors/vscode/package.json", "utf8")) as {
      contributes: { languages: { id: string; extensions: string[] }[]; grammars: { language: string; scopeName: string; path: string }[] };
    };
    expect(pkg.contributes.languages[0]).toMatchObject({ id: "attn", extensions: [".attn"] });
    expect(pkg.contributes.grammars).toEqual([{ language: "attn", scopeName: "source.attn", path: "./syntaxes/attn.tmLanguage.json" }]);
  });

  it("scopes the parts of a spec line", () => {
    const s = scopeLine("    -> lstm(units: 64, input_attention: temporal(units: 32)) as enc // enc.weights: [B, T, T]");
    expect(s.get("lstm")).toBe("entity.name.function.layer.attn");
    expect(s.get("units")).toBe("variable.parameter.attn");
    expect(s.get("64")).toBe("constant.numeric.attn");
    expect(s.get("temporal")).toBe("support.function.call.attn");
    expect(s.get("as")).toBe("keyword.other.as.attn");
    expect(s.get("enc")).toBe("variable.other.definition.attn");
    expect(s.get("->")).toBe("keyword.operator.arrow.attn");
    expect(s.get("// enc.weights: [B, T, T]")).toBe("comment.line.double-slash.attn");
    const d = scopeLine('  source: csv("data/co2.csv", features: ["CO2"], delimiter: "\\t") /* a');
    expect(d.get('"data/co2.csv"')).toBe("string.quoted.double.attn");
    expect(d.get("features")).toBe("variable.parameter.attn");
    expect(d.get("/*")).toBe("comment.block.attn");
    const m = scopeLine("model Forecast_2 {");
    expect(m.get("model")).toBe("storage.type.attn");
    expect(m.get("Forecast_2")).toBe("entity.name.type.model.attn");
    const r = scopeLine("  attn.weights -> dense(1, activation: softmax) as lstm_1");
    expect(r.get("weights")).toBe("variable.other.property.port.attn");
    expect(r.get("lstm_1")).toBe("variable.other.definition.attn");
    expect(r.get("1")).toBe("constant.numeric.attn");
  });
});
