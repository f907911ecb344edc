// The Python the PyTorch tests run (test/pytorch/python.ts): $ATTNC_PYTHON, else .venv/bin/python. Run before the
// tests (npm's pretest): when neither imports torch and numpy, it creates .venv with python3 and installs them, so
// `npm test` works on a fresh machine. pip asks pypi.org first; with no retries and a 5 s timeout it falls through
// at once to the indexes the machine's pip configuration names (about 40 s for torch and numpy on ours).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const has = (python) => spawnSync(python, ["-c", "import torch, numpy"], { stdio: "ignore" }).status === 0;
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(
      `attnc: could not set up the PyTorch tests' Python (${[cmd, ...args].join(" ")} failed${r.error ? `: ${r.error.message}` : ""}); ` +
        "install Python 3 with venv and pip, or point ATTNC_PYTHON at a Python that has torch and numpy",
    );
    process.exit(2);
  }
};

if (process.env.ATTNC_PYTHON) {
  if (!has(process.env.ATTNC_PYTHON))
    console.error(`attnc: ATTNC_PYTHON=${process.env.ATTNC_PYTHON} does not import torch and numpy; the PyTorch tests will fail`);
} else if (!(existsSync(".venv/bin/python") && has(".venv/bin/python"))) {
  console.error("attnc: creating .venv with torch and numpy for the PyTorch tests (once)");
  run("python3", ["-m", "venv", ".venv"]);
  run(".venv/bin/pip", ["install", "--quiet", "--retries", "0", "--timeout", "5", "torch", "numpy"]);
}
