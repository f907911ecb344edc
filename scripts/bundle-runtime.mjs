// Bundles attnc's runtime (src/runtime/*.ts, from the generated programs' entry point program.ts down) into one
// TypeScript module, the `attnc-runtime.ts` that `attnc build` writes beside the model programs it generates.
//
// The modules are read with the TypeScript compiler's own parser, so any valid source layout works (multi-line
// imports, formatted or not): imports between runtime modules are dropped (the modules become one scope), imports
// of packages and Node built-ins are merged at the top, and everything else, comments included, is kept as written. Two modules that
// declare the same top-level name would collide in one scope: that stops the build with the two places named.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

/** The runtime module a generated program starts from. */
export const ENTRY = "program.ts";

function fail(message) {
  throw new Error(`bundle-runtime: ${message}`);
}

/** @param {string} dir the runtime's source folder; returns { text, modules } with text unformatted. */
export function bundleRuntime(dir) {
  const files = new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
      .map((f) => [f, ts.createSourceFile(f, readFileSync(join(dir, f), "utf8"), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS)]),
  );
  const relative = (spec) => spec.startsWith("./") || spec.startsWith("../");
  const localName = (spec, from) => {
    if (!spec.startsWith("./") || spec.slice(2).includes("/")) fail(`${from} imports ${spec}: runtime modules import only siblings`);
    return spec.slice(2).replace(/\.js$/, ".ts");
  };

  // Depth-first from the entry, so that a module comes after the modules it imports.
  const order = [];
  const visit = (name, stack) => {
    if (order.includes(name)) return;
    if (stack.includes(name)) fail(`import cycle ${[...stack, name].join(" -> ")}`);
    const sf = files.get(name);
    if (!sf) fail(`module ${name} is missing (imported by ${stack.at(-1) ?? "the entry"})`);
    for (const st of sf.statements) {
      if ((ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && relative(st.moduleSpecifier.text)) {
        if (ts.isExportDeclaration(st)) fail(`${name} re-exports from ${st.moduleSpecifier.text}; export the names where they are declared`);
        visit(localName(st.moduleSpecifier.text, name), [...stack, name]);
      }
    }
    order.push(name);
  };
  visit(ENTRY, []);

  /** module -> { namespaces: Map<alias, typeOnly>, named: Map<name, typeOnly>, bare: boolean } */
  const external = new Map();
  const declared = new Map(); // top-level name -> module
  const declare = (name, module) => {
    const prev = declared.get(name);
    if (prev !== undefined && prev !== module) fail(`${module} and ${prev} both declare ${name} at the top level; rename one`);
    declared.set(name, module);
  };
  const parts = [];
  for (const name of order) {
    const sf = files.get(name);
    const kept = [];
    for (const st of sf.statements) {
      if (ts.isImportDeclaration(st)) {
        // The import goes, the comments before it (a module's doc comment) stay.
        const leading = sf.text.slice(st.pos, st.getStart(sf));
        if (leading.trim() !== "") kept.push(leading);
        const from = st.moduleSpecifier.text;
        if (relative(from)) continue;
        const entry = external.get(from) ?? { namespaces: new Map(), named: new Map(), bare: false };
        external.set(from, entry);
        const clause = st.importClause;
        if (!clause) {
          entry.bare = true;
          continue;
        }
        if (clause.name) fail(`${name} has a default import from ${from}; use a namespace or named import`);
        const typeOnly = clause.isTypeOnly;
        const bindings = clause.namedBindings;
        if (bindings && ts.isNamespaceImport(bindings)) {
          const alias = bindings.name.text;
          entry.namespaces.set(alias, (entry.namespaces.get(alias) ?? true) && typeOnly);
          declare(alias, `import of ${from}`);
        } else if (bindings) {
          for (const el of bindings.elements) {
            const text = el.propertyName ? `${el.propertyName.text} as ${el.name.text}` : el.name.text;
            entry.named.set(text, (entry.named.get(text) ?? true) && (typeOnly || el.isTypeOnly));
            declare(el.name.text, `import of ${from}`);
          }
        }
        continue;
      }
      for (const n of topLevelNames(st)) declare(n, name);
      kept.push(st.getFullText(sf));
    }
    parts.push(
      `// ---- runtime/${name}\n${kept
        .join("")
        .replace(/^\n+/, "\n")
        .replace(/\n{3,}/g, "\n\n")}\n`,
    );
  }

  const byKind = (a, b) => (a.startsWith("node:") === b.startsWith("node:") ? (a < b ? -1 : a > b ? 1 : 0) : a.startsWith("node:") ? -1 : 1);
  const imports = [];
  for (const from of [...external.keys()].sort(byKind)) {
    const e = external.get(from);
    for (const [alias, typeOnly] of [...e.namespaces].sort()) imports.push(`import ${typeOnly ? "type " : ""}* as ${alias} from ${JSON.stringify(from)};`);
    if (e.named.size > 0) {
      const list = [...e.named].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, typeOnly]) => (typeOnly ? `type ${n}` : n));
      imports.push(`import { ${list.join(", ")} } from ${JSON.stringify(from)};`);
    }
    if (e.bare && e.namespaces.size === 0 && e.named.size === 0) imports.push(`import ${JSON.stringify(from)};`);
  }
  return { text: `${imports.join("\n")}\n\n${parts.join("\n")}`, modules: order };
}

function topLevelNames(st) {
  if (ts.isVariableStatement(st)) return st.declarationList.declarations.flatMap((d) => bindingNames(d.name));
  if (
    ts.isFunctionDeclaration(st) ||
    ts.isClassDeclaration(st) ||
    ts.isInterfaceDeclaration(st) ||
    ts.isTypeAliasDeclaration(st) ||
    ts.isEnumDeclaration(st) ||
    ts.isModuleDeclaration(st)
  ) {
    return st.name ? [st.name.text] : [];
  }
  return [];
}

function bindingNames(name) {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((el) => (ts.isOmittedExpression(el) ? [] : bindingNames(el.name)));
}
