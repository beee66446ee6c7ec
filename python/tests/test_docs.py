"""The examples of docs/python.md run: those without CUDA everywhere, the
others on a GPU with kernels. (The transformers snippet is a fragment and is
covered by test_transformers.py.) So do those of README.md's "After setup",
on the kernels that scripts/setup.sh writes."""

import os
import re
import subprocess

import pytest

torch = pytest.importorskip("torch")

from conftest import SOURCE_ROOT, build_path, runtime_or_skip  # noqa: E402

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


def after_setup_blocks():
    with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("\n## After setup\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.parametrize("index", range(len(after_setup_blocks())))
def test_after_setup(index, tmp_path, monkeypatch):
    code = after_setup_blocks()[index]
    if "cuda" in code and not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    runtime_or_skip()
    aot = build_path("FLASH_AOT")
    if not aot or not os.access(aot, os.X_OK):
        pytest.skip("needs the build tree's flash-aot")
    # What setup.sh runs (PTX only unless a GPU is there to run cubins).
    ptxas = [] if "cuda" in code else ["--ptxas=none"]
    subprocess.run([aot, os.path.join(SOURCE_ROOT, "examples",
                                      "naive_attention.mlir"),
                    "--chip=sm_80,sm_90a", *ptxas, "-o", "out/kernels"],
                   cwd=tmp_path, check=True, capture_output=True)
    monkeypatch.chdir(tmp_path)
    import flash_mlir
    try:
        exec(compile(code, f"README.md After setup block {index}", "exec"), {})
    finally:
        flash_mlir.set_kernel_dir(None)
