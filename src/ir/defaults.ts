import type { Signature } from "./signatures.js";
import type { AttrValue } from "./types.js";
import { withDefaults } from "../runtime/settings.js";

type Mutable = { [key: string]: AttrValue };

/** Fills every absent parameter that has a default, recursively, in place. Runs on validated IR only. */
export function fillDefaults(obj: Mutable, sig: Signature): void {
  withDefaults(obj, sig);
}
