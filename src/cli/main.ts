import { Command, CommanderError, Option } from "commander";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError, packageRoot, processIo, type CliIo } from "./io.js";
import { DIAGNOSTIC_FORMATS } from "../diagnostics/render.js";
import { printable } from "../runtime/progress.js";
import { buildCommand, checkCommand, fmtCommand, inspectCommand, type BuildTarget } from "./commands.js";

const EXAMPLES = `
Paths: data files and everything a verb writes must be inside the working directory (symlinks resolved)
unless --allow-outside is given; specs named on the command line are read where they are.

Exit codes: 0 success, 1 the spec or the data has errors (or --check found stale files, or the loss diverged),
2 usage or I/O error, 70 internal error: a bug in attnc; please report, 130 interrupted.`;

function formatOption(): Option {
  return new Option("--format <format>", "diagnostics format (default: pretty on a terminal, else plain)").choices(DIAGNOSTIC_FORMATS as string[]);
}

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

/**
 * The runtime's switches read from the environment (README, Backends), with the values each takes besides unset
 * or empty. A value outside them (ATTNC_LSTM_KERNEL=JS, ATTNC_NO_FUSED_KERNELS=true) is a usage error, not
 * silently the default.
 */
export const ENV_SWITCHES: Readonly<Record<string, readonly string[]>> = {
  ATTNC_LSTM_KERNEL: ["js", "module"],
  ATTNC_NO_FUSED_KERNELS: ["0", "1"],
  ATTNC_NO_SEQUENCE_KERNELS: ["0", "1"],
};

function envSwitches(env: Readonly<Record<string, string | undefined>>): void {
  for (const [name, values] of Object.entries(ENV_SWITCHES)) {
    const v = env[name];
    if (v !== undefined && v !== "" && !values.includes(v))
      throw new CliError(`environment variable ${name} must be ${values.map((x) => JSON.stringify(x)).join(" or ")} (or unset), not ${JSON.stringify(v)}`);
  }
}

/** Runs the attnc command line; returns the exit code. Never throws for a user's mistake. */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let code = 0;
  const program = new Command("attnc")
    .description("attnc compiles .attn model specs (embedding -> BiLSTM -> attention -> dense) to a validated IR, and trains and runs them.")
    .version(version(), "-v, --version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXAMPLES)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();

  program
    .command("check")
    .description("parse, validate and shape-check specs, and check them against their data files; print diagnostics")
    .argument("<spec...>", ".attn files")
    .addOption(formatOption())
    .option("--allow-outside", "read data files outside the working directory")
    .action(async (specs: string[], opts: { format?: string; allowOutside?: boolean }) => {
      code = await checkCommand(io, specs, opts);
    });

  program
    .command("build")
    .description("compile specs and write <Model>.ir.json for each model")
    .argument("<spec...>", ".attn files")
    .option("--out <dir>", "output directory (default: beside each spec)")
    .option("--check", "write nothing; exit 1 and name the files that are missing or differ")
    .option("--allow-outside", "allow output paths outside the working directory")
    .addOption(
      new Option("--target <target>", "the training programs to write: typescript (<Model>.ts) or pytorch (<Model>.py)")
        .choices(["typescript", "pytorch"])
        .default("typescript"),
    )
    .addOption(formatOption())
    .action(async (specs: string[], opts: { out?: string; check?: boolean; format?: string; allowOutside?: boolean; target?: BuildTarget }) => {
      code = await buildCommand(io, specs, opts);
    });

  program
    .command("inspect")
    .description("print a summary of each model: nodes, ops, output shapes, masks, parameters")
    .argument("<spec>", ".attn file")
    .addOption(new Option("--format <format>", "table or json").choices(["table", "json"]).default("table"))
    .action(async (spec: string, opts: { format: "table" | "json" }) => {
      code = await inspectCommand(io, spec, opts);
    });

  program
    .command("fmt")
    .description("rewrite specs in the canonical layout (comments kept)")
    .argument("<spec...>", ".attn files")
    .option("--check", "write nothing; exit 1 and name the files that are not formatted")
    .option("--allow-outside", "allow rewriting specs outside the working directory")
    .addOption(formatOption())
    .action(async (specs: string[], opts: { check?: boolean; format?: string; allowOutside?: boolean }) => {
      code = await fmtCommand(io, specs, opts);
    });

  const backendOption = () =>
    new Option("--backend <backend>", "TensorFlow.js backend: auto (native where installed, else wasm), node, wasm or cpu")
      .choices(["auto", "node", "wasm", "cpu"])
      .default("auto");
  // These load TensorFlow.js, so their module is imported only when one of them runs.
  const ml = () => import("./ml-commands.js");

  program
    .command("train")
    .description("train a model of a spec on its data; writes a model directory with a checkpoint per epoch")
    .argument("<spec>", ".attn file")
    .option("--model <name>", "which model, when the spec has several")
    .option("--data <path>", "data file (default: the data block's source, relative to the spec)")
    .option("--out <dir>", "model directory (default: runs/<Model>)")
    .option("--epochs <n>", "train to this many epochs instead of the spec's")
    .option("--seed <n>", "seed for weights, shuffling and dropout instead of the spec's")
    .addOption(backendOption())
    .option(
      "--threads <n>",
      "1, 2 or auto: split each batch between two threads (auto: where there are two cores and the backend is wasm or cpu; env ATTNC_THREADS)",
    )
    .option("--resume", "continue from the last complete checkpoint in --out")
    .option("--allow-outside", "allow data and output paths outside the working directory")
    .option("--force", "train into an --out directory that holds files other than an attnc model's (they are kept)")
    .action(async (spec: string, opts: import("./ml-commands.js").TrainOptions) => {
      code = await (await ml()).trainCommand(io, spec, opts);
    });

  program
    .command("evaluate")
    .description("loss and metrics of a trained model: accuracy, macro F1 and confusion matrix, or RMSE, MAE and MAPE")
    .argument("<model-dir>", "directory written by attnc train")
    .option("--data <path>", "data file (default: the one the model was trained on)")
    .option("--split <split>", "train, validation or test", "test")
    .addOption(new Option("--format <format>", "text or json").choices(["text", "json"]).default("text"))
    .option("--baselines", "accepted for compatibility: a forecaster's baselines are always reported")
    .option("--season <p>", "season length in steps for the seasonal naive baseline when the spec gives none (default: from the time column)")
    .option("--tolerance <t>", "forecasting: also report the share of forecasts within t of the truth")
    .option("--allow-outside", "allow a model directory and data (given, or recorded in attnc.json) outside the working directory")
    .addOption(backendOption())
    .action(
      async (
        dir: string,
        opts: {
          data?: string;
          split?: string;
          backend?: string;
          format?: string;
          baselines?: boolean;
          season?: string;
          tolerance?: string;
          allowOutside?: boolean;
        },
      ) => {
        code = await (await ml()).evaluateCommand(io, dir, opts);
      },
    );

  program
    .command("predict")
    .description('predict for JSONL requests ({"text": ...} or {"window": [[...], ...]}), or from the last windows of a data file; prints JSONL')
    .argument("<model-dir>", "directory written by attnc train")
    .option("--input <file>", "JSONL file, or - for standard input")
    .option("--csv <file>", "forecast from the last window of this data file (read as the model's data block reads its data), instead of --input")
    .option("--last <n>", "with --csv: forecast from each of the last N windows, oldest first (default 1)")
    .addOption(backendOption())
    .option("--allow-outside", "allow a model directory and input or data file outside the working directory")
    .action(async (dir: string, opts: import("./predict-csv.js").TailOptions & { backend?: string }) => {
      code = await (await ml()).predictCommand(io, dir, opts);
    });

  program
    .command("explain")
    .description("attention weights for JSONL requests, as JSONL, and a heatmap (SVG) per example")
    .argument("<model-dir>", "directory written by attnc train")
    .requiredOption("--input <file>", "JSONL file, or - for standard input")
    .option("--out <dir>", "where the heatmaps go (default: <model-dir>/explain)")
    .addOption(backendOption())
    .option("--allow-outside", "allow a model directory, input file and output directory outside the working directory")
    .action(async (dir: string, opts: { input: string; out?: string; backend?: string; allowOutside?: boolean }) => {
      code = await (await ml()).explainCommand(io, dir, opts);
    });

  program
    .command("serve")
    .description("serve models over HTTP (TF Serving's REST shape): predict, explain, metadata, health; concurrent calls batched")
    .argument("<model-dir...>", "directories written by attnc train; each is served under its model name")
    .option("--port <n>", "TCP port (0: any free one)", "8501")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--max-batch <n>", "instances per model call at most", "64")
    .option("--batch-delay-ms <ms>", "how long the first waiting instance waits for others to join its batch", "2")
    .option("--max-body <bytes>", "largest request body", "1048576")
    .addOption(backendOption())
    .option("--allow-outside", "allow model directories outside the working directory")
    .addHelpText(
      "after",
      '\nRoutes: GET /healthz, GET /v1/models, GET /v1/models/<name>, POST /v1/models/<name>:predict and :explain\nwith {"instances": [request, ...]} (docs/serve.md). SIGTERM or SIGINT: the calls in flight are answered, then exit 0.',
    )
    .action(async (dirs: string[], opts: import("./serve.js").ServeOptions) => {
      code = await (await import("./serve.js")).serveCommand(io, dirs, opts);
    });

  program
    .command("verify")
    .description("train N steps in process and through the generated program; compare weights and test predictions (within 1e-6)")
    .argument("<spec>", ".attn file")
    .option("--model <name>", "only this model")
    .option("--steps <n>", "training batches", "20")
    .option("--seed <n>", "seed instead of the spec's")
    .addOption(backendOption())
    .option("--keep", "keep the temporary directory with both model directories")
    .option("--allow-outside", "allow a data file outside the working directory")
    .action(async (spec: string, opts: import("./ml-commands.js").VerifyOptions) => {
      code = await (await ml()).verifyCommand(io, spec, opts);
    });

  program
    .command("compare")
    .description(
      "train each spec's models for several seeds (one child process per run) and report each test metric's mean, sd, min and max, with the baselines",
    )
    .argument("<spec...>", ".attn files")
    .option("--seeds <n>", "how many seeds", "5")
    .option("--seed-start <s>", "the first seed", "1")
    .option("--jobs <j>", "runs at a time (default: the number of cores)")
    .option("--out <dir>", "where the model directories go: <dir>/<spec name>/<Model>/seed-<s> (default: runs/compare)")
    .option("--model <name>", "only this model of each spec (default: every model with data and train blocks)")
    .option("--epochs <n>", "train to this many epochs instead of the spec's")
    .addOption(new Option("--format <format>", "text or json").choices(["text", "json"]).default("text"))
    .option("--allow-outside", "allow data and output paths outside the working directory")
    .addHelpText(
      "after",
      "\nEach run is `attnc train --resume --threads 1` into its own directory, then `attnc evaluate --format json`:\na finished run is reused, an interrupted one continues. Exit 1 if any run failed (the others still report).",
    )
    .action(async (specs: string[], opts: import("./compare.js").CompareOptions) => {
      code = await (await import("./compare.js")).compareCommand(io, specs, opts);
    });

  program
    .command("lsp")
    .description("language server for editors (diagnostics, hover, completion, navigation, rename, formatting) over stdio")
    .option("--stdio", "talk LSP over standard input and output")
    .action(async (opts: { stdio?: boolean }) => {
      code = await (await import("../lsp/server.js")).lspCommand(io, opts);
    });

  for (const c of program.commands) {
    c.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    // An empty path (an unset shell variable, `--out "$DIR"`) is a mistake, never the working directory.
    c.hook("preAction", (_, action) => {
      envSwitches(io.env);
      for (const key of ["input", "out", "data", "csv"]) if (action.opts()[key] === "") throw new CliError(`--${key} needs a path, not an empty string`);
      if (action.args.includes("")) throw new CliError(`an argument of ${action.name()} is an empty string; give a path`);
    });
  }

  try {
    await program.parseAsync(["node", "attnc", ...argv]);
    if (argv.length === 0) {
      program.outputHelp();
      return 2;
    }
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      return 2;
    }
    if (e instanceof CliError) {
      // Messages quote names and values from files and requests: shown escaped, never as terminal controls.
      io.stderr.write(`attnc: ${printable(e.message)}\n`);
      return e.exitCode;
    }
    const detail = e instanceof Error ? (io.env["ATTNC_DEBUG"] ? (e.stack ?? e.message) : e.message) : String(e);
    io.stderr.write(`attnc: internal error, please report it (ATTNC_DEBUG=1 shows where): ${printable(detail)}\n`);
    return 70;
  }
}
