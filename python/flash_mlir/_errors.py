"""Exceptions raised by flash_mlir."""


class UnsupportedError(ValueError):
    """A request that flash_mlir's GPU kernels cannot serve.

    The message names the argument and what is supported. flash_mlir never
    falls back to another implementation silently: catch this error to do
    so explicitly.
    """


class KernelNotFoundError(UnsupportedError):
    """No kernel is available for a spec: no compiler library to generate
    one and no kernel directory that has it."""


class RuntimeLibraryError(RuntimeError):
    """A libFlashRuntime call failed.

    `status` is the runtime's status name (e.g. "TENSOR_SHAPE", "CUDA") and
    the message is the runtime's own description.
    """

    def __init__(self, what, status, message):
        super().__init__(f"{what}: {status}: {message}")
        self.status = status


class CompileError(RuntimeError):
    """libFlashCAPI failed to generate a kernel."""
