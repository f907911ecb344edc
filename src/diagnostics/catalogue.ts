/**
 * The one catalogue of diagnostics. Codes are stable: a code is never reused for another meaning.
 * Ranges: ATN1xxx lexing and syntax, ATN2xxx names, arguments and schema, ATN3xxx shapes,
 * ATN4xxx data and train blocks against the model, ATN5xxx resource limits.
 */
export type Severity = "error" | "warning";

export interface CatalogueEntry {
  readonly code: string;
  readonly severity: Severity;
  /** One line on what the code means, for the reference in README.md. */
  readonly summary: string;
}

function entry(code: string, summary: string, severity: Severity = "error"): CatalogueEntry {
  return { code, severity, summary };
}

export const Codes = {
  // --- lexing and syntax
  UnexpectedCharacter: entry("ATN1001", "a character that no token of the language starts with"),
  UnterminatedString: entry("ATN1002", "a string literal without its closing quote on the same line"),
  InvalidEscape: entry("ATN1003", "an escape sequence that strings do not support"),
  UnterminatedComment: entry("ATN1004", "a block comment without its closing */"),
  InvalidText: entry("ATN1005", "a spec that is not valid UTF-8 text (or holds a lone UTF-16 surrogate)"),
  SyntaxError: entry("ATN1010", "the parser expected something else here"),
  TooDeep: entry("ATN1011", "brackets nested more deeply than the language allows"),
  // --- names, arguments, schema
  UnknownLayer: entry("ATN2001", "a layer name that attnc does not know"),
  UnknownArgument: entry("ATN2002", "an argument or setting the layer, call or block does not take"),
  InvalidValue: entry("ATN2003", "a value outside the allowed set"),
  WrongType: entry("ATN2004", "a value of the wrong type (number, string, list, call)"),
  OutOfRange: entry("ATN2005", "a number outside its allowed range (negative units, rate above 1)"),
  MissingArgument: entry("ATN2006", "a required argument or setting is missing"),
  TooManyPositional: entry("ATN2007", "more positional arguments than the layer or call takes"),
  DuplicateArgument: entry("ATN2008", "the same argument or setting given twice"),
  UnknownCall: entry("ATN2009", "an unknown function in a value position, such as csv(...) or adam(...)"),
  DuplicateName: entry("ATN2010", "two inputs or layers of one model with the same name"),
  UnknownReference: entry("ATN2011", "a chain starts from a name that is not an input or a named layer"),
  UnknownModel: entry("ATN2012", "a data or train block for a model that the file does not declare"),
  DuplicateDeclaration: entry("ATN2013", "two models, or two data or train blocks, for one name"),
  UnknownDType: entry("ATN2014", "an input element type other than int or float"),
  UnreadableClause: entry("ATN2015", "a setting clause that is neither a value nor `name value`"),
  NoInput: entry("ATN2016", "a model without an input or without layers"),
  InvalidName: entry("ATN2017", "an input or layer name that TensorFlow.js cannot use (it must start with a letter)"),
  OneInputOneOutput: entry("ATN2018", "a model with a second input or a second output head: attnc trains one input and one output head"),
  // --- shapes
  NeedsSequence: entry("ATN3001", "a layer that needs a sequence [B, T, D] is given something else"),
  NeedsTokens: entry("ATN3002", "embedding needs an int token sequence [B, T]"),
  UnboundDimension: entry("ATN3003", "a dimension whose size the model needs is never given"),
  DimensionMismatch: entry("ATN3004", "a dimension is given two different sizes"),
  UnknownPort: entry("ATN3005", "a reference to an output port the node does not have"),
  NeedsFixedLength: entry("ATN3006", "input attention needs a fixed window length (features, or temporal with position offset)"),
  NeedsFloat: entry("ATN3007", "a recurrent layer fed integer ids instead of vectors"),
  // --- data and train blocks against the model
  DataKindMismatch: entry("ATN4001", "the data block does not fit the model's input kind"),
  FeatureCountMismatch: entry("ATN4002", "the number of feature columns differs from the input's feature dimension"),
  OutputTargetMismatch: entry("ATN4003", "the model output cannot take the data's target or label"),
  SplitSum: entry("ATN4004", "split fractions that do not add up to 1"),
  LossMismatch: entry("ATN4005", "a loss that does not fit the model output"),
  VocabMismatch: entry("ATN4006", "the tokenizer vocabulary is larger than the embedding's"),
  MissingColumn: entry("ATN4007", "the data source does not name a column that the task needs"),
  MonitorWithoutValidation: entry("ATN4008", "early stopping on a validation metric without a validation split"),
  MetricMismatch: entry("ATN4009", "a metric that does not fit the task"),
  DeltaNeedsTarget: entry("ATN4010", "forecasting the change of a target that is not among the features"),
  MonitorNotComputed: entry("ATN4011", "early stopping on a metric the train block does not compute"),
  DeltaNeedsHorizon: entry("ATN4012", "forecasting the change of the window's own last value (horizon 0), which is always 0"),
  DuplicateFeature: entry("ATN4013", "a calendar or derived feature named like a feature the data block already has"),
  // --- the data file against the data block (attnc check, when the file exists)
  DataColumnMissing: entry("ATN4014", "a column the data block names is not in the data file's header (its first row, for JSONL)"),
  DataNotNumber: entry("ATN4015", "a feature, target or derived column's cell that is not a decimal number within float32"),
  DataTimeOrder: entry("ATN4016", "time column values out of order or repeated"),
  DataNotDate: entry("ATN4017", "a time value that calendar features cannot read as a date"),
  EmptySplit: entry("ATN4018", "a split the train block needs (train; validation when early stopping watches val_*) gets no windows or examples"),
  FewTestWindows: entry("ATN4019", "fewer than 30 test windows or examples: metrics on them mean little", "warning"),
  DataFileNotRead: entry("ATN4020", "check did not read the data file: it does not exist yet, or lies outside the working directory", "warning"),
  DataFileInvalid: entry("ATN4021", "the data file cannot be read as the data block says (CSV or JSONL syntax, encoding, record size, too few rows)"),
  DataNotText: entry(
    "ATN4022",
    "a text, label or time cell that training cannot read: null, or a JSONL number, boolean, object or array where a string is needed",
  ),
  OutputWidthMismatch: entry("ATN4023", "a forecaster's output width is not the number of steps forecast times the number of targets"),
  StepsNeedHorizon: entry("ATN4024", "`steps all` with horizon 0: there are no steps after the window to forecast"),
  ResidualTooWide: entry("ATN4025", "`predict residual` on a window with more inputs than its linear forecast can be fitted on"),
  DataTimeGaps: entry(
    "ATN4026",
    "the time column skips steps (rows missing from a regular series): a window across a gap spans more time than its length says",
    "warning",
  ),
  // --- limits
  TooLarge: entry("ATN5001", "a model with more parameters than training can hold in memory"),
  TooMuchMemory: entry("ATN5002", "a model whose activations for one training batch would not fit in memory"),
} as const satisfies Record<string, CatalogueEntry>;

export type CodeName = keyof typeof Codes;
