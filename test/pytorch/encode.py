"""Prints what the PyTorch runtime makes of a data block (test/pytorch/data.test.ts): the fitted prep and every
example by split. Usage: python encode.py RUNTIME_DIR DATA_JSON DATA_FILE."""

import json
import sys

sys.path.insert(0, sys.argv[1])
import attnc_runtime as rt  # noqa: E402

config = json.loads(sys.argv[2])
rows = rt.read_rows(config["source"], sys.argv[3], "data")
prep = rt.fit(config, rows, "data")
out = {"prep": prep, "examples": {"train": [], "validation": [], "test": []}}
for x, y, base, line, split in rt.encode(config, prep, rows, "data"):
    out["examples"][split].append({"x": x.reshape(-1).tolist(), "y": y, "base": base, "line": line})
print(json.dumps(out))
