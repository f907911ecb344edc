/**
 * The tests write their scratch directories under os.tmpdir(); this points TMPDIR at one fresh directory for
 * the run (the test workers inherit it) and removes it afterwards, so that runs leave nothing behind.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "attnc-tests-"));
  process.env["TMPDIR"] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
