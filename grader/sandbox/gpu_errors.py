"""Telling a GPU's own memory running out from the grader's host-memory limit.

``CUDA out of memory`` is the device's memory (a model or batch too big for the GPU): the
run's failure is reported as that, not as "stopped at the memory limit", which names the
grader's host-memory bound and would send the reader looking in the wrong place.
"""

from __future__ import annotations

import re

PATTERNS = re.compile(
    r"CUDA out of memory"
    r"|OutOfMemoryError: CUDA"
    r"|CUDA error: out of memory"
    r"|cudaErrorMemoryAllocation"
    r"|CUBLAS_STATUS_ALLOC_FAILED"
    r"|CUDNN_STATUS_(?:ALLOC_FAILED|NOT_ENOUGH_WORKSPACE)"
    r"|RESOURCE_EXHAUSTED: Out of memory while trying to allocate.*(?:GPU|cuda)"
    r"|OOM when allocating tensor.*device:GPU",
    re.IGNORECASE,
)


def gpu_memory_exhausted(stderr: str) -> bool:
    """Whether the output says the GPU's own memory ran out (torch, TensorFlow, JAX)."""
    return PATTERNS.search(stderr) is not None
