// Types of the validator that scripts/build-validator.mjs precompiles into dist/ir/validator.generated.js.
import type { IrValidator } from "./validate.js";
declare const validate: IrValidator;
export default validate;
