"""Checks that python/flash_mlir/_spec.py's COMPILE_CHIPS mirrors the C++
chip table, which `flash-aot --list-chips` prints on stdin: the same names,
newest first, and the runtime codes that _spec.chip_code derives from them.

Usage: flash-aot --list-chips | python3 check_chips.py PYTHON_DIR
"""

import os
import sys
import types

python_dir = sys.argv[1]
# Import flash_mlir._spec alone: the package's __init__ needs torch.
package = types.ModuleType("flash_mlir")
package.__path__ = [os.path.join(python_dir, "flash_mlir")]
sys.modules["flash_mlir"] = package
from flash_mlir import _spec  # noqa: E402

table = [line.split() for line in sys.stdin if line.strip()]
names = tuple(row[0] for row in table)
codes = {row[0]: int(row[1]) for row in table}

ok = True
if _spec.COMPILE_CHIPS != tuple(reversed(names)):
    print(f"COMPILE_CHIPS is {_spec.COMPILE_CHIPS}, but the chip table, "
          f"newest first, is {tuple(reversed(names))}")
    ok = False
for name, code in codes.items():
    if _spec.chip_code(name) != code:
        print(f"chip_code({name!r}) is {_spec.chip_code(name)}, but the "
              f"chip table's runtime code is {code}")
        ok = False
print(f"{len(names)} chips agree" if ok else "the chip tables differ")
sys.exit(0 if ok else 1)
