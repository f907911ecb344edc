// Types of the validators that scripts/build.mjs precompiles into dist/modeldir/validators.generated.js.
import type { IrValidator } from "../ir/validate.js";
export declare const manifest: IrValidator;
export declare const meta: IrValidator;
export declare const model: IrValidator;
