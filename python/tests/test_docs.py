"""The examples of docs/python.md run: those without CUDA everywhere, the
others on a GPU with kernels. (The transformers snippet is a fragment and is
covered by test_transformers.py.)"""

import os
import re

import pytest

torch = pytest.importorskip("torch")

from conftest import SOURCE_ROOT  # noqa: E402

DOC = os.path.join(SOURCE_ROOT, "docs", "python.md")


def blocks():
    with open(DOC) as f:
        text = f.read()
    found = re.findall(r"```python\n(.*?)```", text, re.S)
    return [b for b in found if "from_config(config" not in b]


@pytest.mark.parametrize("index", range(len(blocks())))
def test_example(index):
    code = blocks()[index]
    if "cuda" in code:
        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU")
        from gpu_util import kernel_specs
        kernel_specs()  # skips without kernels
    exec(compile(code, f"docs/python.md block {index}", "exec"), {})
