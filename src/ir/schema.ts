import { DATA_SETTINGS, TRAIN_SETTINGS, type CallFamily, type Param, type Signature } from "./signatures.js";
import { LAYERS, OP_NAMES } from "../layers/registry.js";

/** JSON Schema (draft 2020-12 subset that ajv understands) for the IR, generated from the signature table. */
export type JsonSchema = { [key: string]: unknown };

function paramSchema(p: Param): JsonSchema {
  const doc = { description: p.doc };
  switch (p.type) {
    case "int":
      return {
        type: "integer",
        ...doc,
        ...(p.min !== undefined ? { minimum: p.min } : {}),
        ...(p.max !== undefined ? { maximum: p.max } : {}),
        ...(p.default !== undefined ? { default: p.default } : {}),
      };
    case "number":
      return {
        type: "number",
        ...doc,
        ...(p.min !== undefined ? { minimum: p.min } : {}),
        ...(p.exclusiveMin !== undefined ? { exclusiveMinimum: p.exclusiveMin } : {}),
        ...(p.max !== undefined ? { maximum: p.max } : {}),
        ...(p.exclusiveMax !== undefined ? { exclusiveMaximum: p.exclusiveMax } : {}),
        ...(p.default !== undefined ? { default: p.default } : {}),
      };
    case "string":
      return { type: "string", ...doc };
    case "bool":
      return { type: "boolean", ...doc, ...(p.default !== undefined ? { default: p.default } : {}) };
    case "enum":
      return { type: "string", enum: [...p.values], ...doc, ...(p.default !== undefined ? { default: p.default } : {}) };
    case "list":
      return {
        type: "array",
        items: paramSchema(p.items),
        ...(p.minItems !== undefined ? { minItems: p.minItems } : {}),
        ...doc,
        ...(p.default !== undefined ? { default: [] } : {}),
      };
    case "call":
      return familySchema(p.family, p.doc);
    case "record":
      return recordSchema(p.record, { description: p.doc });
  }
}

function recordSchema(sig: Signature, extra: JsonSchema = {}, extraProps: JsonSchema = {}, extraRequired: string[] = []): JsonSchema {
  const properties: JsonSchema = { ...extraProps };
  for (const [k, p] of Object.entries(sig.params)) properties[k] = paramSchema(p);
  const required = [...extraRequired, ...(sig.required ?? [])];
  return { type: "object", ...extra, properties, ...(required.length > 0 ? { required } : {}), additionalProperties: false };
}

function familySchema(f: CallFamily, doc: string): JsonSchema {
  return {
    type: "object",
    description: doc,
    properties: { kind: { type: "string" } },
    required: ["kind"],
    discriminator: { propertyName: "kind" },
    oneOf: Object.entries(f.calls).map(([kind, sig]) => recordSchema(sig, {}, { kind: { const: kind } }, ["kind"])),
  };
}

const dim: JsonSchema = {
  anyOf: [
    { type: "integer", minimum: 1 },
    { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
  ],
};
const shape: JsonSchema = { type: "array", items: { $ref: "#/$defs/dim" } };
const identifier: JsonSchema = { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" };
/** Input and node names: identifiers that TensorFlow.js also accepts as tensor names (no leading '_'). */
const tensorName: JsonSchema = { type: "string", pattern: "^[A-Za-z][A-Za-z0-9_]*$" };

export function irSchema(): JsonSchema {
  const nodeProps: JsonSchema = {
    name: { $ref: "#/$defs/tensorName" },
    inputs: { type: "array", items: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?$" }, minItems: 1 },
    shape: { $ref: "#/$defs/shape" },
    mask: { type: "boolean" },
    params: { type: "integer", minimum: 0 },
    weights: {
      type: "array",
      items: {
        type: "object",
        properties: { name: { type: "string" }, shape: { type: "array", items: { type: "integer", minimum: 0 } }, layout: { type: "string" } },
        required: ["name", "shape", "layout"],
        additionalProperties: false,
      },
    },
    ports: { type: "object", additionalProperties: { $ref: "#/$defs/shape" } },
  };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://attnc.dev/schema/attnc-ir.schema.json",
    title: "attnc IR: one model, its data and its training",
    type: "object",
    properties: {
      irVersion: { const: 1 },
      model: { $ref: "#/$defs/identifier" },
      dims: { type: "object", additionalProperties: { anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }] } },
      inputs: {
        type: "array",
        items: {
          type: "object",
          properties: { name: { $ref: "#/$defs/tensorName" }, dtype: { enum: ["int32", "float32"] }, shape: { $ref: "#/$defs/shape" } },
          required: ["name", "dtype", "shape"],
          additionalProperties: false,
        },
      },
      nodes: {
        type: "array",
        items: {
          type: "object",
          properties: { op: { type: "string" } },
          required: ["op"],
          discriminator: { propertyName: "op" },
          oneOf: OP_NAMES.map((op) => ({
            type: "object",
            properties: { op: { const: op }, ...nodeProps, attrs: recordSchema(LAYERS[op], { description: `attributes of ${op}` }) },
            required: ["name", "op", "inputs", "attrs"],
            additionalProperties: false,
          })),
        },
      },
      outputs: { type: "array", items: { type: "string" }, minItems: 1 },
      params: { type: "integer", minimum: 0 },
      data: recordSchema(DATA_SETTINGS, { description: "where the data comes from and how it is prepared" }),
      train: recordSchema(TRAIN_SETTINGS, { description: "how the model is trained" }),
    },
    required: ["irVersion", "model", "dims", "inputs", "nodes", "outputs"],
    additionalProperties: false,
    $defs: { dim, shape, identifier, tensorName },
  };
}

/** The bytes of schema/attnc-ir.schema.json. */
export function irSchemaText(): string {
  return `${JSON.stringify(irSchema(), null, 2)}\n`;
}
