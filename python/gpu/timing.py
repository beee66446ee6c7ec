"""What the GPU benchmarks in this folder share: interleaved timing with the
host's launch path kept out of the figures, and a compiled FlexAttention
that fails rather than falls back to its unfused form."""

import statistics

import torch

# About 0.5 ms of GPU clock: longer than any implementation's host-side
# launch path (FlexAttention's with a block mask included).
SLEEP_CYCLES = 1_000_000


def time_interleaved(impls, reps):
    """Median milliseconds of each callable of `impls` (name -> fn), timed
    round by round with CUDA events after three warm-up calls each. Before
    each timed call the GPU is kept busy while the host launches, so that
    launch overhead stays out of the timing."""
    times = {name: [] for name in impls}
    for fn in impls.values():  # warm-up, compilation, loading
        for _ in range(3):
            fn()
    torch.cuda.synchronize()
    for _ in range(reps):
        for name, fn in impls.items():
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            torch.cuda._sleep(SLEEP_CYCLES)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times[name].append(start.elapsed_time(end))
    return {name: statistics.median(t) for name, t in times.items()}


def compiled_flex_attention():
    """torch.compile(flex_attention), compiled for each shape of a sweep
    (static shapes: after a second shape, torch would otherwise compile one
    kernel for symbolic shapes, measured up to 1.8x slower) and allowed a
    recompilation per shape, element type and mask function. Past its
    recompile limit, torch would silently run the unfused flex_attention
    (which materializes the scores) and the figures would not be
    FlexAttention's."""
    from torch.nn.attention.flex_attention import flex_attention
    torch._dynamo.config.recompile_limit = 128
    if hasattr(torch._dynamo.config, "fail_on_recompile_limit_hit"):
        torch._dynamo.config.fail_on_recompile_limit_hit = True
    return torch.compile(flex_attention, dynamic=False)
