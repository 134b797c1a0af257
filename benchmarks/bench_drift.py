"""Time for ``migmodel drift`` on whole QEMU source trees (Debian's 7.2 and 10.2.2 by default).

    .venv/bin/python benchmarks/bench_drift.py [TREE ...]

Per tree, each in a fresh process: the C parse and fact extraction of ``migration/*`` (every
``migrate_set_state`` call resolved, enums, PINGs, the QMP handlers' error paths), the model side
(exploring every configuration of the version), and the whole ``check`` as ``migmodel drift``
runs it, with the counts it found. Trees come from ``harness/fetch-qemu-src.sh``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = ["/var/cache/migmodel/src/qemu-7.2", "/var/cache/migmodel/src/qemu-10.2.2"]

CHILD = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from harness.drift.compare import HANDLERS, HANDLER_FILES, check, model_version, open_tree, tree_version
from harness.drift.modelfacts import model_facts
root = Path(sys.argv[1])
t1 = time.perf_counter()
tree = open_tree(root)
n = len(tree.transitions()) + len(tree.enumerators("MIG_")) + len(tree.pings())
for h in HANDLERS:
    f = tree.find_function(h, list(HANDLER_FILES))
    if f is not None:
        tree.error_paths(f)
files = len(tree.migration_files())
t2 = time.perf_counter()
model_facts(model_version(tree_version(root))[0])
t3 = time.perf_counter()
report = check(root)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "parse": t2 - t1, "files": files, "model": t3 - t2,
                  "check": t4 - t3, "found": report.found, "unexplained": len(report.unexplained)}))
"""


def main(argv: list[str]) -> int:
    trees = argv or DEFAULT
    print(f"{'tree':<40} {'files':>5} {'parse C':>8} {'model':>7} {'compare':>8} {'total':>7}  found")
    for tree in trees:
        if not Path(tree, "migration/migration.c").is_file():
            print(f"{tree}: not unpacked (harness/fetch-qemu-src.sh)", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, tree], check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        r = json.loads(out.stdout)
        f = r["found"]
        print(f"{tree:<40} {r['files']:>5} {r['parse']:>7.2f}s {r['model']:>6.2f}s {r['check']:>7.2f}s "
              f"{wall:>6.2f}s  {f['transitions']} transitions, {f['state_guards']} guards, "
              f"{f['model_rows']} model rows; unexplained {r['unexplained']}")
    print("compare: the whole check after the first two (the tree parsed again, the model facts cached); "
          "total: the process, Python start and imports included")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
