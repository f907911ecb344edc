/**
 * What a spec's arguments and settings accept, in one import: the data and train settings are declared in
 * src/runtime/settings.ts (the runtime derives its configuration types from them), the layers' signatures in
 * their modules (src/layers), listed by the registry. The JSON Schema (schema/attnc-ir.schema.json) is generated
 * from these tables, and lowering fills defaults from them, so the two cannot disagree.
 */
export {
  CALENDAR,
  DATA_SETTINGS,
  DERIVE,
  LIMITS,
  LOSSES,
  METRICS,
  MONITORS,
  OPTIMIZER,
  SOURCE,
  TOKENIZER,
  TRAIN_SETTINGS,
  type BlockSettings,
  type CallFamily,
  type Param,
  type Signature,
} from "../runtime/settings.js";
export { LAYERS } from "../layers/registry.js";
export { INPUT_ATTENTION } from "../layers/lstm.js";
