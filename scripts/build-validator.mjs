// Precompiles the IR validator (ajv standalone code) into dist/, so that `attnc check` starts without compiling the schema.
import { writeFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import standaloneCode from "ajv/dist/standalone/index.js";
import { irSchema } from "../dist/ir/schema.js";

const ajv = new Ajv2020({ allErrors: true, discriminator: true, strict: true, code: { source: true, esm: true } });
const validate = ajv.compile(irSchema());
writeFileSync(new URL("../dist/ir/validator.generated.js", import.meta.url), standaloneCode.default(ajv, validate));
