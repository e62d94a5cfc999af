"""cProfile of a script and every thread it starts, merged into one stats file.

`python -m cProfile` sees the main thread only; lsctl does its work on thread pools, where the
main thread just waits on futures. Run: python -m bench.thread_profile OUT.prof SCRIPT [ARGS...]
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import runpy
import sys
import threading
from types import FrameType
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start(profile_fn_frame: FrameType, event: str, arg: Any) -> None:
    """Runs once, as the first profile event of each new thread: hand over to cProfile."""
    sys.setprofile(None)
    profile = cProfile.Profile()
    with _lock:
        _profiles.append(profile)
    profile.enable()


def _save(path: str) -> None:
    with _lock:
        profiles = list(_profiles)
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    stats.dump_stats(path)


def main() -> None:
    out, script, *args = sys.argv[1:]
    sys.argv = [script, *args]
    threading.setprofile(_start)
    main_profile = cProfile.Profile()
    _profiles.append(main_profile)
    atexit.register(_save, out)
    main_profile.enable()
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        main_profile.disable()


if __name__ == "__main__":
    main()
