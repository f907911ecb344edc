import type { Param, Signature } from "./signatures.js";
import type { AttrValue } from "./types.js";
import { own } from "../util.js";

type Mutable = { [key: string]: AttrValue };

/** Fills every absent parameter that has a default, recursively, in place. Runs on validated IR only. */
export function fillDefaults(obj: Mutable, sig: Signature): void {
  for (const [key, p] of Object.entries(sig.params)) {
    const v = own(obj, key);
    if (v === undefined) {
      if ("default" in p && p.default !== undefined) obj[key] = Array.isArray(p.default) ? [] : (p.default as AttrValue);
      continue;
    }
    fillNested(v, p);
  }
}

function fillNested(v: AttrValue, p: Param): void {
  if (p.type === "call" && typeof v === "object" && !Array.isArray(v)) {
    const m = v as Mutable;
    const sig = own(p.family.calls, String(m["kind"]));
    if (sig) fillDefaults(m, sig);
  } else if (p.type === "record" && typeof v === "object" && !Array.isArray(v)) {
    fillDefaults(v as Mutable, p.record);
  }
}
