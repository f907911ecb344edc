/**
 * What a checkpoint must share with a spec for `--resume` to continue it: the spec's fingerprint, a sha256 over
 * the settings that decide what the saved weights mean and how training reaches them.
 *
 * In the fingerprint: the model's name and graph (named dims, inputs with dtype and shape, nodes in order with
 * their op, inputs and every attribute); the data block except the file's path (source kind and columns,
 * tokenizer, split, window, scale: they decide the vocabulary, scaler, splits and batches); and the train
 * settings that fix the path of the weights: loss, batch, shuffle and seed (the spec's; `--seed` is recorded as
 * the run's seed and checked separately).
 * Not in it: epochs (resume to train further), early_stop, metrics and the optimizer (a run may continue with
 * other settings; a different optimizer kind starts its state afresh), the window's season (baselines only), and
 * the data file's path and contents.
 */
import { createHash } from "node:crypto";

/** The parts of an IR the fingerprint reads (the compiler's IR and a generated program's both have them). */
export interface FingerprintIr {
  model: string;
  dims?: { readonly [name: string]: number | null };
  inputs?: readonly { name: string; dtype: string; shape: readonly (number | string)[] }[];
  nodes: readonly { name: string; op?: string; inputs?: readonly string[]; attrs?: unknown }[];
  outputs: readonly string[];
}

/** The train settings in the fingerprint. */
export const FINGERPRINT_TRAIN_KEYS = ["loss", "batch", "shuffle", "seed"] as const;

export interface SpecFingerprint {
  /** sha256 of the fields, as canonical JSON. */
  hash: string;
  /** Each setting by a readable name (`node enc: units`), so that a difference can be named. */
  fields: Record<string, string | number | boolean | null>;
}

type FingerprintField = string | number | boolean | null;

function flattenSetting(prefix: string, value: unknown, out: Record<string, FingerprintField>): void {
  if (value === undefined) return;
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    out[prefix] = value;
  } else if (Array.isArray(value)) {
    out[prefix] = JSON.stringify(value);
  } else if (typeof value === "object") {
    for (const k of Object.keys(value).sort())
      flattenSetting(prefix.endsWith(": ") ? `${prefix}${k}` : `${prefix}.${k}`, (value as Record<string, unknown>)[k], out);
  } else {
    out[prefix] = String(value);
  }
}

/** The fingerprint of a spec's model, data block and train block. */
export function specFingerprint(ir: FingerprintIr, data: object, train: object): SpecFingerprint {
  const fields: Record<string, FingerprintField> = { model: ir.model };
  for (const [k, v] of Object.entries(ir.dims ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) fields[`dim ${k}`] = v;
  for (const i of ir.inputs ?? []) fields[`input ${i.name}:`] = `${i.dtype}[${i.shape.join(", ")}]`;
  fields["nodes"] = ir.nodes.map((n) => n.name).join(", ");
  for (const n of ir.nodes) {
    fields[`node ${n.name}: op`] = n.op ?? null;
    fields[`node ${n.name}: input`] = (n.inputs ?? []).join(", ");
    flattenSetting(`node ${n.name}: `, n.attrs ?? {}, fields);
  }
  fields["outputs"] = ir.outputs.join(", ");
  const { source, ...rest } = data as { source?: Record<string, unknown> };
  const { path: _path, ...sourceRest } = source ?? {};
  flattenSetting("data: ", { source: sourceRest, ...rest }, fields);
  // The season only picks the seasonal naive baseline a report compares with; the weights do not depend on it.
  delete fields["data: window.season"];
  const t = train as Record<string, unknown>;
  for (const k of FINGERPRINT_TRAIN_KEYS) fields[`train: ${k}`] = (t[k] as FingerprintField | undefined) ?? null;
  return { hash: fingerprintHash(fields), fields };
}

export function fingerprintHash(fields: Record<string, FingerprintField>): string {
  const canonical = JSON.stringify(
    Object.keys(fields)
      .sort()
      .map((k) => [k, fields[k]]),
  );
  return createHash("sha256").update(canonical).digest("hex");
}

function shownField(v: FingerprintField | undefined): string {
  if (v === undefined) return "(absent)";
  return typeof v === "string" ? (v === "" ? '""' : v) : String(v);
}

/**
 * The settings that differ, as `node enc: units 16 in the checkpoint, 24 in the spec`, in the spec's order. A node
 * present on one side only is one difference (its op), not one per attribute.
 */
export function fingerprintDifferences(checkpoint: Record<string, FingerprintField>, spec: Record<string, FingerprintField>): string[] {
  const keys = [...Object.keys(spec), ...Object.keys(checkpoint).filter((k) => !(k in spec))];
  const lone = new Set(keys.filter((k) => k.endsWith(": op") && (!(k in spec) || !(k in checkpoint))).map((k) => k.slice(0, -"op".length)));
  const out: string[] = [];
  for (const k of keys) {
    const a = checkpoint[k];
    const b = spec[k];
    if (a === b) continue;
    const node = /^node [^:]+: /.exec(k)?.[0];
    if (node && lone.has(node) && !k.endsWith(": op")) continue;
    out.push(`${k} ${shownField(a)} in the checkpoint, ${shownField(b)} in the spec`);
  }
  return out;
}

/** The fingerprint attnc.json records, when it records a well-formed one. */
export function recordedFingerprint(meta: Record<string, unknown>): SpecFingerprint | null {
  const f = meta["fingerprint"] as { hash?: unknown; fields?: unknown } | undefined;
  if (!f || typeof f !== "object" || typeof f.hash !== "string" || !f.fields || typeof f.fields !== "object" || Array.isArray(f.fields)) return null;
  const fields: Record<string, FingerprintField> = {};
  for (const [k, v] of Object.entries(f.fields as Record<string, unknown>))
    fields[k] = v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? v : JSON.stringify(v);
  return { hash: f.hash, fields };
}
