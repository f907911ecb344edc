import { CstParser, type CstNode, type IRecognitionException } from "chevrotain";
import * as T from "./lexer.js";
import { errorMessages } from "./messages.js";

/**
 * The .attn grammar (grammar/attn.ebnf is the reference; keep them in step).
 * One instance, built on first use; rules are class properties.
 */
export class AttnParser extends CstParser {
  constructor() {
    super(T.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      errorMessageProvider: errorMessages,
      skipValidations: process.env["ATTNC_VALIDATE_GRAMMAR"] !== "1",
    });
    this.performSelfAnalysis();
  }

  // spec = { declaration } ;
  spec = this.RULE("spec", () => {
    this.MANY(() => this.SUBRULE(this.declaration));
  });

  // declaration = modelDecl | dataDecl | trainDecl ;
  declaration = this.RULE("declaration", () => {
    this.OR([{ ALT: () => this.SUBRULE(this.modelDecl) }, { ALT: () => this.SUBRULE(this.dataDecl) }, { ALT: () => this.SUBRULE(this.trainDecl) }]);
  });

  // modelDecl = "model" Identifier "{" { modelStatement } "}" ;
  modelDecl = this.RULE("modelDecl", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.modelStatement));
    this.CONSUME(T.RBrace);
  });

  // modelStatement = inputDecl | chain ;
  modelStatement = this.RULE("modelStatement", () => {
    this.OR([
      {
        GATE: () => this.LA(1).tokenType === T.Input && this.LA(2).tokenType !== T.Arrow && this.LA(2).tokenType !== T.Dot,
        ALT: () => this.SUBRULE(this.inputDecl),
      },
      { ALT: () => this.SUBRULE(this.chain) },
    ]);
  });

  // inputDecl = "input" Identifier ":" Identifier "[" dim { "," dim } "]" ;
  inputDecl = this.RULE("inputDecl", () => {
    this.CONSUME(T.Input);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.CONSUME2(T.Identifier, { LABEL: "dtype" });
    this.CONSUME(T.LBracket);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.dim) });
    this.CONSUME(T.RBracket);
  });

  // dim = Identifier [ "=" Number ] | Number ;
  dim = this.RULE("dim", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Identifier, { LABEL: "name" });
          this.OPTION(() => {
            this.CONSUME(T.Equals);
            this.CONSUME(T.NumberLiteral, { LABEL: "size" });
          });
        },
      },
      { ALT: () => this.CONSUME2(T.NumberLiteral, { LABEL: "size" }) },
    ]);
  });

  // chain = reference "->" layer { "->" layer } ;
  chain = this.RULE("chain", () => {
    this.SUBRULE(this.reference);
    this.AT_LEAST_ONE(() => {
      this.CONSUME(T.Arrow);
      this.SUBRULE(this.layer);
    });
  });

  // reference = Identifier [ "." Identifier ] ;
  reference = this.RULE("reference", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.Dot);
      this.CONSUME2(T.Identifier, { LABEL: "port" });
    });
  });

  // layer = Identifier [ "(" [ argList ] ")" ] [ "as" Identifier ] ;
  layer = this.RULE("layer", () => {
    this.CONSUME(T.Identifier, { LABEL: "op" });
    this.OPTION(() => this.SUBRULE(this.argList));
    this.OPTION2(() => {
      this.CONSUME(T.As);
      this.CONSUME2(T.Identifier, { LABEL: "alias" });
    });
  });

  // argList = "(" [ arg { "," arg } [ "," ] ] ")" ;
  argList = this.RULE("argList", () => {
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.arg) });
    this.CONSUME(T.RParen);
  });

  // arg = [ Identifier ":" ] value ;
  arg = this.RULE("arg", () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.Colon,
      DEF: () => {
        this.CONSUME(T.Identifier, { LABEL: "name" });
        this.CONSUME(T.Colon);
      },
    });
    this.SUBRULE(this.value);
  });

  // value = Number | String | list | Identifier [ argList ] ;
  value = this.RULE("value", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLiteral) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.UnterminatedString) },
      { ALT: () => this.SUBRULE(this.list) },
      {
        ALT: () => {
          this.CONSUME(T.Identifier);
          this.OPTION(() => this.SUBRULE(this.argList));
        },
      },
    ]);
  });

  // list = "[" [ value { "," value } ] "]" ;
  list = this.RULE("list", () => {
    this.CONSUME(T.LBracket);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.value) });
    this.CONSUME(T.RBracket);
  });

  // dataDecl = "data" Identifier "{" { setting } "}" ;
  dataDecl = this.RULE("dataDecl", () => {
    this.CONSUME(T.Data);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.SUBRULE(this.block);
  });

  // trainDecl = "train" Identifier "{" { setting } "}" ;
  trainDecl = this.RULE("trainDecl", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.SUBRULE(this.block);
  });

  // block = "{" { setting } "}" ;
  block = this.RULE("block", () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.setting));
    this.CONSUME(T.RBrace);
  });

  // setting = Identifier ":" clause { "," clause } ;
  setting = this.RULE("setting", () => {
    this.CONSUME(T.Identifier, { LABEL: "key" });
    this.CONSUME(T.Colon);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.clause) });
  });

  // clause = value { value } ;   (a clause ends where the next `key:` begins)
  clause = this.RULE("clause", () => {
    this.AT_LEAST_ONE({
      GATE: () => !(this.LA(1).tokenType !== T.Comma && this.LA(2).tokenType === T.Colon),
      DEF: () => this.SUBRULE(this.value),
    });
  });
}

let parser: AttnParser | undefined;
export function attnParser(): AttnParser {
  parser ??= new AttnParser();
  return parser;
}

export interface ParseResult {
  readonly cst: CstNode;
  readonly errors: IRecognitionException[];
}
