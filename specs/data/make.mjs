// Writes the example data the specs in specs/ name, deterministically: `node specs/data/make.mjs`.
//   reviews.csv     short product reviews, pos/neg by the sentiment words they contain (with quoted commas
//                   and line breaks, to exercise the CSV reader)
//   news.csv        short headlines in four topics
//   relations.jsonl sentences with one of 19 relation labels (the shape of SemEval-2010 task 8)
//   co2.csv         Mauna Loa monthly CO2 (vega-datasets, BSD-3-Clause) with month_sin, month_cos and
//                   CO2_change (the change since the previous row) added
// The Seattle weather spec reads vega-datasets' file directly.
import { readFileSync, writeFileSync } from "node:fs";

let s = 12345;
const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = (a) => a[Math.floor(rand() * a.length)];
const csvField = (t) => (/[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t);
const out = (name, text) => writeFileSync(new URL(name, import.meta.url), text);

// reviews.csv
{
  const good = ["great", "excellent", "lovely", "perfect", "wonderful", "reliable", "sturdy", "delightful"];
  const bad = ["terrible", "awful", "broken", "useless", "flimsy", "disappointing", "poor", "horrible"];
  const things = ["kettle", "lamp", "chair", "phone case", "backpack", "blender", "keyboard", "umbrella", "toaster", "jacket"];
  const filler = ["the", "this", "my", "it", "was", "is", "really", "quite", "after", "a", "week", "and", "so", "very", "honestly", "overall"];
  const rows = ["review,sentiment"];
  for (let i = 0; i < 400; i++) {
    const positive = rand() < 0.5;
    const words = [];
    const n = 4 + Math.floor(rand() * 14);
    for (let k = 0; k < n; k++) words.push(rand() < 0.25 ? pick(positive ? good : bad) : pick(filler));
    words.splice(Math.floor(rand() * words.length), 0, pick(things));
    let text = words.join(" ");
    if (rand() < 0.1) text = `${text}, ${pick(positive ? good : bad)}`;
    if (rand() < 0.05) text = `${text}\n${pick(filler)} ${pick(positive ? good : bad)}`;
    rows.push(`${csvField(text)},${positive ? "pos" : "neg"}`);
  }
  out("reviews.csv", rows.join("\n") + "\n");
}

// news.csv
{
  const topics = {
    sport: ["match", "goal", "league", "coach", "season", "striker", "final", "cup"],
    business: ["market", "shares", "profit", "bank", "merger", "investors", "prices", "trade"],
    science: ["study", "researchers", "cells", "telescope", "climate", "species", "experiment", "physics"],
    politics: ["election", "minister", "parliament", "vote", "policy", "campaign", "senate", "law"],
  };
  const filler = ["the", "new", "after", "a", "in", "on", "as", "report", "says", "week", "first", "big", "over", "amid"];
  const rows = ["body,topic"];
  for (let i = 0; i < 600; i++) {
    const topic = pick(Object.keys(topics));
    const words = [];
    const n = 6 + Math.floor(rand() * 12);
    for (let k = 0; k < n; k++) words.push(rand() < 0.3 ? pick(topics[topic]) : pick(filler));
    rows.push(`${csvField(words.join(" "))},${topic}`);
  }
  out("news.csv", rows.join("\n") + "\n");
}

// relations.jsonl
{
  const relations = ["Cause-Effect", "Component-Whole", "Content-Container", "Entity-Destination", "Entity-Origin", "Instrument-Agency", "Member-Collection", "Message-Topic", "Product-Producer"];
  const cue = { "Cause-Effect": "caused", "Component-Whole": "part of", "Content-Container": "inside", "Entity-Destination": "moved into", "Entity-Origin": "came from", "Instrument-Agency": "used by", "Member-Collection": "member of", "Message-Topic": "about", "Product-Producer": "made by" };
  const nouns = ["storm", "engine", "box", "letter", "company", "tree", "team", "report", "factory", "river", "wheel", "child", "book", "machine"];
  const lines = [];
  for (let i = 0; i < 500; i++) {
    const r = rand() < 0.12 ? "Other" : pick(relations);
    const dir = r === "Other" ? "" : rand() < 0.5 ? "(e1,e2)" : "(e2,e1)";
    const [a, b] = [pick(nouns), pick(nouns)];
    const middle = r === "Other" ? pick(["near", "and", "with", "beside"]) : cue[r];
    const sentence = dir === "(e2,e1)" ? `the ${b} was ${middle} the ${a}` : `the ${a} was ${middle} the ${b}`;
    lines.push(JSON.stringify({ sentence: `${sentence} ${pick(["today", "again", "", "last year"])}`.trim(), relation: `${r}${dir}` }));
  }
  out("relations.jsonl", lines.join("\n") + "\n");
}

// co2.csv
{
  const src = readFileSync(new URL("../../node_modules/vega-datasets/data/co2-concentration.csv", import.meta.url), "utf8").trim().split("\n");
  const rows = ["Date,CO2,month_sin,month_cos,CO2_change"];
  let prev = null;
  for (const line of src.slice(1)) {
    const [date, co2] = line.split(",");
    const month = Number(date.slice(5, 7));
    const r = (x) => Math.round(x * 1e6) / 1e6;
    const change = prev === null ? 0 : r(Number(co2) - prev);
    prev = Number(co2);
    rows.push(`${date},${co2},${r(Math.sin((2 * Math.PI * month) / 12))},${r(Math.cos((2 * Math.PI * month) / 12))},${change}`);
  }
  out("co2.csv", rows.join("\n") + "\n");
}
