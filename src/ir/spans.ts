import type { Span } from "../diagnostics/span.js";

/** Where an IR value came from in the spec, so that a problem found in the IR is reported in the source. */
export interface Origin {
  /** The whole construct (value, layer call, block). */
  readonly span: Span;
  /** The name that introduced it (`units` in `units: 64`), when there is one. */
  readonly keySpan?: Span;
  /** How messages call it: `units of lstm`, `split`, `csv(...)`. */
  readonly label: string;
  /** For objects: the keys it accepts, for "did you mean". */
  readonly keys?: readonly string[];
}

/** JSON-pointer-like IR paths ("/nodes/2/attrs/units") to their origins. */
export class SpanMap {
  private readonly map = new Map<string, Origin>();
  /** Paths already reported while lowering; schema errors at or below them would only repeat the news. */
  private readonly reported = new Set<string>();
  markReported(path: string): void {
    this.reported.add(path);
  }
  /** Whether the path or one of its ancestors was reported: one lookup per level, whatever was reported. */
  isReported(path: string): boolean {
    for (let p = path; ; p = p.slice(0, p.lastIndexOf("/"))) {
      if (this.reported.has(p)) return true;
      if (p === "" || p.lastIndexOf("/") < 0) return false;
    }
  }
  set(path: string, origin: Origin): void {
    this.map.set(path, origin);
  }
  get(path: string): Origin | undefined {
    return this.map.get(path);
  }
  /** The origin of the path, or of its nearest recorded ancestor. */
  nearest(path: string): Origin | undefined {
    let p = path;
    for (;;) {
      const o = this.map.get(p);
      if (o) return o;
      if (p === "") return undefined;
      p = p.slice(0, Math.max(0, p.lastIndexOf("/")));
    }
  }
}

export function child(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, "~0").replace(/\//g, "~1")}`;
}
