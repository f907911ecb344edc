import { describe, expect, it } from "vitest";
import { printable } from "../../src/runtime/progress.js";
import { reportText } from "../../src/runtime/session.js";
import { attnc } from "../in-process.js";

// Names and values from files reach the terminal in messages and reports; none may act as a terminal control.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe("text from files on the terminal", () => {
  it("escapes control characters, separators and bidirectional overrides, and leaves the rest alone", () => {
    expect(printable("red\u001b[31m label\u202e txt\u2028x é 😀 \t")).toBe("red\\u{1b}[31m label\\u{202e} txt\\u{2028}x é 😀 \t");
  });

  it("a label holding an escape sequence is shown escaped in the confusion matrix", () => {
    const text = reportText("test", {
      loss: 0.5,
      classification: {
        accuracy: 0.5,
        macro_f1: 0.5,
        count: 2,
        labels: ["\u001b[2Jclear", "ok\u202eko"],
        confusion: [
          [1, 0],
          [1, 0],
        ],
      } as never,
    });
    expect(text).toContain("\\u{1b}[2Jclear");
    expect(text).toContain("ok\\u{202e}ko");
    expect(text).not.toMatch(CONTROLS);
  });

  it("a message naming a file with control characters in its name is shown escaped", async () => {
    const r = await attnc("check", "a\u001b[2Jb\u202e.attn");
    expect(r.code).toBe(2);
    expect(r.err).toContain("a\\u{1b}[2Jb\\u{202e}.attn");
    expect(r.err).not.toMatch(CONTROLS);
  });
});
