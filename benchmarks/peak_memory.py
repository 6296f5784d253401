"""Peak resident memory of one step, on Linux: reset the kernel's high-water mark, run, read it.

Used by the benchmark scripts, each measurement in a fresh interpreter.
"""

from __future__ import annotations

import gc
import re


def proc_status_kib(key: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``), or None."""
    try:
        with open("/proc/self/status") as fh:
            match = re.search(rf"^{key}:\s+(\d+)\s+kB", fh.read(), re.MULTILINE)
        return int(match.group(1)) if match else None
    except OSError:
        return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def malloc_trim() -> None:
    """Give the C heap's free memory back to the OS (glibc), so that RSS is memory in use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def baseline() -> tuple[bool, int | None]:
    """Collect garbage, trim the heap, reset the peak mark; return ``(reset, VmRSS in KiB)``."""
    gc.collect()
    malloc_trim()
    return reset_peak_rss(), proc_status_kib("VmRSS")
