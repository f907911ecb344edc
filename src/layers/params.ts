/**
 * How every layer says what it accepts: types, ranges, defaults and the order of positional arguments, in the
 * `Param` language of src/runtime/settings.ts (where the data and train settings are declared). The layers'
 * signatures (src/layers, through the registry) are written with these helpers; the JSON Schema (schema/attnc-ir.schema.json) is generated from
 * them, and lowering fills defaults from them, so the two cannot disagree.
 */
export { LIMITS, type CallFamily, type Param, type Signature } from "../runtime/settings.js";
import { LIMITS, type Param } from "../runtime/settings.js";

export const int = (doc: string, o: { min?: number; max?: number; default?: number } = {}): Param => ({ type: "int", doc, ...o });
export const units = (doc: string, max: number = LIMITS.units): Param => int(doc, { min: 1, max });
export const num = (doc: string, o: Omit<Extract<Param, { type: "number" }>, "type" | "doc"> = {}): Param => ({ type: "number", doc, ...o });
export const str = (doc: string): Param => ({ type: "string", doc });
export const bool = (doc: string, d?: boolean): Param => ({ type: "bool", doc, ...(d !== undefined ? { default: d } : {}) });
export const oneOf = (values: readonly string[], doc: string, d?: string): Param => ({ type: "enum", values, doc, ...(d !== undefined ? { default: d } : {}) });
