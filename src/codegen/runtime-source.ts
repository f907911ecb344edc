/**
 * Combines attnc's runtime modules (src/runtime/*.ts) into one block of TypeScript for a generated program,
 * so that the program runs the very code `attnc train` runs. Relative imports between the modules are
 * dropped (they become one scope); imports of packages and Node built-ins are merged at the top.
 */

export interface RuntimeFile {
  /** File name, such as "ops.ts". */
  readonly name: string;
  readonly text: string;
}

export interface CombinedRuntime {
  /** Merged import lines for the top of the program. */
  readonly imports: readonly string[];
  /** The modules' code, in dependency order, each under a heading. */
  readonly body: string;
  /** Every top-level name the runtime declares: generated code must not shadow them. */
  readonly names: ReadonlySet<string>;
}

/** The modules a generated program needs, from the program entry point down. */
export const PROGRAM_ENTRY = "program.ts";

const IMPORT = /^import\s+(type\s+)?(.+?)\s+from\s+"([^"]+)";\s*$/;

export function combineRuntime(files: readonly RuntimeFile[]): CombinedRuntime {
  const byName = new Map(files.map((f) => [f.name, f]));
  const deps = new Map<string, string[]>();
  for (const f of files) {
    const d: string[] = [];
    for (const line of f.text.split("\n")) {
      if (line.startsWith("import") && !IMPORT.test(line)) throw new Error(`compiler bug: runtime ${f.name} has an import the combiner cannot read: ${line}`);
      const m = IMPORT.exec(line);
      if (m && m[3]!.startsWith("./")) d.push(m[3]!.slice(2).replace(/\.js$/, ".ts"));
    }
    deps.set(f.name, d);
  }
  // Depth-first from the entry, so that a module comes after what it imports.
  const order: string[] = [];
  const visit = (name: string, stack: string[]): void => {
    if (order.includes(name)) return;
    if (stack.includes(name)) throw new Error(`compiler bug: runtime import cycle ${[...stack, name].join(" -> ")}`);
    if (!byName.has(name)) throw new Error(`compiler bug: runtime module ${name} is missing`);
    for (const d of deps.get(name)!) visit(d, [...stack, name]);
    order.push(name);
  };
  visit(PROGRAM_ENTRY, []);

  const namespaces = new Map<string, string>(); // module -> alias
  const named = new Map<string, Set<string>>(); // module -> names
  const typeOnlyNamespaces = new Map<string, string>();
  const parts: string[] = [];
  const names = new Set<string>();
  for (const name of order) {
    const kept: string[] = [];
    for (const line of byName.get(name)!.text.split("\n")) {
      const m = IMPORT.exec(line);
      if (!m) {
        kept.push(line);
        const decl = /^(?:export\s+)?(?:async\s+)?(?:function\*?|class|const|let|type|interface|enum)\s+([A-Za-z_$][\w$]*)/.exec(line);
        if (decl) names.add(decl[1]!);
        continue;
      }
      const [, typeOnly, what, from] = m as unknown as [string, string | undefined, string, string];
      if (from.startsWith("./")) continue;
      const ns = /^\*\s+as\s+([A-Za-z_$][\w$]*)$/.exec(what);
      if (ns) {
        (typeOnly ? typeOnlyNamespaces : namespaces).set(from, ns[1]!);
        names.add(ns[1]!);
        continue;
      }
      const braces = /^\{([^}]*)\}$/.exec(what);
      if (!braces) throw new Error(`compiler bug: runtime ${name} imports ${what} from ${from} in a form the combiner cannot merge`);
      const set = named.get(from) ?? new Set<string>();
      for (const n of braces[1]!.split(",").map((x) => x.trim()).filter(Boolean)) {
        set.add(typeOnly ? `type ${n.replace(/^type\s+/, "")}` : n);
        names.add(n.replace(/^type\s+/, "").split(/\s+as\s+/).pop()!);
      }
      named.set(from, set);
    }
    parts.push(`// ---- runtime/${name}\n\n${kept.join("\n").trim()}\n`);
  }
  const imports: string[] = [];
  const modules = [...new Set([...namespaces.keys(), ...typeOnlyNamespaces.keys(), ...named.keys()])].sort((a, b) => (a.startsWith("node:") === b.startsWith("node:") ? (a < b ? -1 : 1) : a.startsWith("node:") ? -1 : 1));
  for (const from of modules) {
    const ns = namespaces.get(from) ?? typeOnlyNamespaces.get(from);
    if (ns) imports.push(`import ${namespaces.has(from) ? "" : "type "}* as ${ns} from ${JSON.stringify(from)};`);
    const set = named.get(from);
    if (set && set.size > 0) {
      // A name imported both as a type and as a value is a value import.
      const values = new Set([...set].filter((n) => !n.startsWith("type ")));
      const list = [...set].filter((n) => !(n.startsWith("type ") && values.has(n.slice(5)))).sort((a, b) => (a.replace(/^type /, "") < b.replace(/^type /, "") ? -1 : 1));
      imports.push(`import { ${list.join(", ")} } from ${JSON.stringify(from)};`);
    }
  }
  return { imports, body: parts.join("\n"), names };
}
