"""Caller-sized CPU work (compiling scripts, JSON Schema checks, parsing large bodies) off the event loop.

It runs on a small pool of its own rather than asyncio's default one: pure-Python work
holds the GIL, and the fewer threads compete for it, the sooner the event loop gets it
back (compile checks also take turns, see `AppState.compile_slots`). More work than
threads waits in the pool's queue, not on the loop. A single C call
that does not release the GIL (json.loads of a large body) still stalls the loop for its
duration; the body-size limit bounds that (see bench/api_stall.py).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

CPU_THREADS = 2
_executor = ThreadPoolExecutor(max_workers=CPU_THREADS, thread_name_prefix="cytasks-api-cpu")


async def off_loop(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_executor, functools.partial(function, *args, **kwargs))
