import { basename } from "node:path";
import { TextDocument } from "vscode-languageserver-textdocument";
import {
  CodeActionKind,
  createConnection,
  ErrorCodes,
  ProposedFeatures,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeResult,
} from "vscode-languageserver/node";
import { CliError, type CliIo } from "../cli/io.js";
import { ColumnReader, filePathOf } from "./columns.js";
import { complete } from "./completion.js";
import { analyzeText, type Analysis } from "./document.js";
import {
  codeActions,
  definition,
  foldingRanges,
  format,
  hover,
  inlayHints,
  prepareRename,
  references,
  rename,
  RenameError,
  toLspDiagnostics,
} from "./features.js";
import { SEMANTIC_LEGEND, semanticTokens } from "./semantic.js";

/** How long typing must pause before a document is checked again. */
export const DEBOUNCE_MS = 150;

/** Diagnostics name the document by its file name, as `attnc check` names a file it was given. */
function sourceName(uri: string): string {
  try {
    return decodeURIComponent(basename(new URL(uri).pathname)) || uri;
  } catch {
    return uri;
  }
}

/** Wires the language features to a connection; the documents' analyses are cached by version. */
export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const cache = new Map<string, { version: number; analysis: Promise<Analysis> }>();
  const timers = new Map<string, NodeJS.Timeout>();
  /** The version whose diagnostics were published last (opening a document both checks it and schedules a check). */
  const publishedVersion = new Map<string, number>();
  /** The newest finished analysis of each document, which may be a version behind. */
  const finished = new Map<string, { version: number; analysis: Analysis }>();

  /**
   * The open document as it is now. Documents change in place as edits arrive; requests and checks work on a
   * snapshot, so that positions and the analysis always belong to the same text.
   */
  const snapshot = (uri: string): TextDocument | undefined => {
    const doc = documents.get(uri);
    return doc ? TextDocument.create(doc.uri, doc.languageId, doc.version, doc.getText()) : undefined;
  };

  const analysisOf = (doc: TextDocument): Promise<Analysis> => {
    const { uri, version } = doc;
    const hit = cache.get(uri);
    if (hit && hit.version === version) return hit.analysis;
    const analysis = analyzeText(sourceName(uri), doc.getText());
    cache.set(uri, { version, analysis });
    void analysis.then(
      (a) => {
        const prev = finished.get(uri);
        if (documents.get(uri) && (!prev || prev.version < version)) finished.set(uri, { version, analysis: a });
      },
      () => undefined,
    );
    return analysis;
  };

  const validate = async (uri: string): Promise<void> => {
    const doc = snapshot(uri);
    if (!doc) return;
    const version = doc.version;
    try {
      const a = await analysisOf(doc);
      // A newer version is on its way: its own check will publish.
      if (documents.get(uri)?.version !== version) return;
      if (publishedVersion.get(uri) === version) return;
      publishedVersion.set(uri, version);
      await connection.sendDiagnostics({ uri, version, diagnostics: toLspDiagnostics(doc, a.result.diagnostics) });
    } catch (e) {
      connection.console.error(`attnc: could not check ${sourceName(uri)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const schedule = (uri: string, delay: number): void => {
    clearTimeout(timers.get(uri));
    timers.set(
      uri,
      setTimeout(() => {
        timers.delete(uri);
        void validate(uri);
      }, delay),
    );
  };

  /** Every request answers: a failure is logged and answered with the empty result, never a crash. */
  const safe =
    <P extends { textDocument: { uri: string } }, R>(fallback: R, f: (doc: TextDocument, p: P) => Promise<R> | R) =>
    async (p: P): Promise<R | ResponseError<void>> => {
      const doc = snapshot(p.textDocument.uri);
      if (!doc) return fallback;
      try {
        return await f(doc, p);
      } catch (e) {
        if (e instanceof RenameError) return new ResponseError(ErrorCodes.InvalidRequest, e.message);
        connection.console.error(`attnc: request failed on ${sourceName(doc.uri)}: ${e instanceof Error ? e.message : String(e)}`);
        return fallback;
      }
    };

  /** Data files are read for their column names only inside the workspace folders the editor names at initialize. */
  let columns = new ColumnReader([]);
  connection.onInitialize((params): InitializeResult => {
    const folders = (params.workspaceFolders ?? []).map((f) => f.uri);
    if (folders.length === 0 && params.rootUri) folders.push(params.rootUri);
    columns = new ColumnReader(folders.flatMap((u) => filePathOf(u) ?? []));
    return initializeResult;
  });
  const initializeResult: InitializeResult = {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      completionProvider: { triggerCharacters: [".", ">", "(", ",", ":", " ", '"', "["] },
      definitionProvider: true,
      referencesProvider: true,
      renameProvider: { prepareProvider: true },
      documentFormattingProvider: true,
      inlayHintProvider: true,
      foldingRangeProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      semanticTokensProvider: { legend: SEMANTIC_LEGEND, full: true },
    },
    serverInfo: { name: "attnc" },
  };

  documents.onDidOpen((e) => void validate(e.document.uri));
  documents.onDidChangeContent((e) => schedule(e.document.uri, DEBOUNCE_MS));
  documents.onDidClose((e) => {
    clearTimeout(timers.get(e.document.uri));
    timers.delete(e.document.uri);
    cache.delete(e.document.uri);
    finished.delete(e.document.uri);
    publishedVersion.delete(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  connection.onHover(safe(null, async (doc, p) => hover(doc, await analysisOf(doc), doc.offsetAt(p.position))));
  // Completion reads its context from the current text and only names from the analysis: while typing, the last
  // finished analysis serves, so that completing does not wait for a compile of every keystroke.
  connection.onCompletion(
    safe([], async (doc, p) =>
      complete(finished.get(doc.uri)?.analysis ?? (await analysisOf(doc)), doc.getText(), doc.offsetAt(p.position), (s) => columns.columns(doc.uri, s)),
    ),
  );
  connection.onDefinition(safe([], async (doc, p) => definition(doc, await analysisOf(doc), doc.offsetAt(p.position))));
  connection.onReferences(safe([], async (doc, p) => references(doc, await analysisOf(doc), doc.offsetAt(p.position), p.context.includeDeclaration)));
  connection.onPrepareRename(safe(null, async (doc, p) => prepareRename(doc, await analysisOf(doc), doc.offsetAt(p.position))));
  connection.onRenameRequest(safe(null, async (doc, p) => rename(doc, await analysisOf(doc), doc.offsetAt(p.position), p.newName)));
  connection.onDocumentFormatting(safe([], (doc) => format(doc)));
  connection.languages.inlayHint.on(safe([], async (doc, p) => inlayHints(doc, await analysisOf(doc), p.range)));
  connection.onFoldingRanges(safe([], async (doc) => foldingRanges(doc, await analysisOf(doc))));
  connection.onCodeAction(safe([], (doc, p) => codeActions(doc, p.context.diagnostics)));
  connection.languages.semanticTokens.on(safe({ data: [] }, (doc) => semanticTokens(doc)));

  documents.listen(connection);
  connection.listen();
}

/** `attnc lsp --stdio`: serves until the editor sends exit or closes the pipe (the library then ends the process). */
export async function lspCommand(_io: CliIo, opts: { stdio?: boolean }): Promise<number> {
  if (!opts.stdio) throw new CliError("lsp: give --stdio (the only transport attnc serves)");
  const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
  startServer(connection);
  return new Promise<number>(() => {});
}
