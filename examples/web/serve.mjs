// A small static server for the example page: serves examples/web at / and one model directory at /model/, on
// loopback only. Nothing else is reachable: paths with "..", backslashes, NUL bytes or hidden names are refused,
// and a file whose real path (after symbolic links) leaves its folder is not served.
//
//   node examples/web/serve.mjs <model-dir> [--port N]     (N = 0 picks a free port; default 8080)
//
// Exit codes: 0 stopped (SIGTERM), 2 usage or a folder that cannot be served, 130 interrupted (Ctrl+C).
import { createReadStream, existsSync, realpathSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".json": "application/json",
  ".md": "text/markdown; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".wasm": "application/wasm",
  ".bin": "application/octet-stream",
};
// The page loads its script and style and fetches the model from this server, nothing from anywhere else.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'";

/** A path or value as it may be printed: control characters (which could drive the terminal) escaped. */
const printable = (s) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

function usage(message) {
  process.stderr.write(`serve: ${message}\nusage: node examples/web/serve.mjs <model-dir> [--port N]\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({ allowPositionals: true, strict: true, options: { port: { type: "string", default: "8080" } } });
} catch (e) {
  usage(printable(e.message));
}
if (args.positionals.length !== 1)
  usage(args.positionals.length === 0 ? "give the model directory to serve (train one first: npm run example)" : "give one model directory");
const port = Number(args.values.port);
if (!/^\d+$/.test(args.values.port) || port > 65535) usage(`--port must be a whole number from 0 to 65535, not ${JSON.stringify(args.values.port)}`);

const webRoot = realpathSync(fileURLToPath(new URL(".", import.meta.url)));
const modelArg = args.positionals[0];
let modelRoot;
try {
  modelRoot = realpathSync(resolve(modelArg));
} catch {
  usage(`${printable(modelArg)} does not exist (train a model first: npm run example)`);
}
if (!statSync(modelRoot).isDirectory() || !existsSync(join(modelRoot, "manifest.json")))
  usage(`${printable(modelArg)} is not an attnc model directory (no manifest.json)`);
if (!existsSync(join(webRoot, "dist", "app.js"))) usage("examples/web/dist/app.js is missing: build the page first (node examples/web/build.mjs)");

/**
 * The file a request path names: "/" is the page, "/model/<name>" a file of the model directory, any other path
 * a file under examples/web. A number is the refusal's status: 400 for a path that tries to climb out or hide
 * (a "." or ".." segment, an empty one, a backslash, a NUL byte, bad %-encoding), 404 for what is not there.
 */
function fileFor(path) {
  if (path === "/") return join(webRoot, "index.html");
  let rel;
  try {
    rel = decodeURIComponent(path);
  } catch {
    return 400;
  }
  if (!rel.startsWith("/") || /[\\\0]/.test(rel)) return 400;
  const parts = rel.slice(1).split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) return 400;
  if (parts.some((p) => p.startsWith("."))) return 404;
  const [root, rest] = parts[0] === "model" ? [modelRoot, parts.slice(1)] : [webRoot, parts];
  if (rest.length === 0 || (root === modelRoot && rest.length !== 1)) return 404;
  let real;
  try {
    real = realpathSync(join(root, ...rest));
  } catch {
    return 404;
  }
  // A symbolic link that leads out of its folder is not followed.
  const inside = relative(root, real);
  if (inside === "" || inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return 404;
  try {
    return statSync(real).isFile() ? real : 404;
  } catch {
    return 404;
  }
}

const server = createServer((req, res) => {
  const send = (status, text, headers = {}) => {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff", ...headers }).end(`${text}\n`);
    process.stdout.write(`${req.method} ${JSON.stringify(req.url)} ${status}\n`);
  };
  if (req.method !== "GET" && req.method !== "HEAD") return send(405, "only GET and HEAD", { allow: "GET, HEAD" });
  const url = req.url ?? "";
  const q = url.indexOf("?");
  const file = fileFor(q < 0 ? url : url.slice(0, q));
  if (file === 400) return send(400, "bad path");
  if (file === 404) return send(404, "not found");
  let size;
  try {
    size = statSync(file).size;
  } catch {
    return send(404, "not found");
  }
  res.writeHead(200, {
    "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "content-length": size,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    ...(file.endsWith(".html") ? { "content-security-policy": CSP } : {}),
  });
  process.stdout.write(`${req.method} ${JSON.stringify(url)} 200\n`);
  if (req.method === "HEAD") return res.end();
  createReadStream(file)
    .on("error", () => res.destroy())
    .pipe(res);
});
server.on("error", (e) => {
  process.stderr.write(`serve: cannot listen on 127.0.0.1:${port}: ${e.code ?? e.message}\n`);
  process.exit(2);
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`serving the page at http://127.0.0.1:${server.address().port}/ with the model ${printable(modelArg)}\n`);
});
const stop = (code) => () => {
  server.close(() => process.exit(code));
  server.closeAllConnections();
};
process.on("SIGTERM", stop(0));
process.on("SIGINT", stop(130));
