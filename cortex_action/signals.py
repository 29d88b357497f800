"""Turn SIGINT/SIGTERM into ``Interrupted`` so that waiting stops at once and outputs get written.

GitHub sends SIGINT on cancel, SIGTERM 7.5 s later, then kills. As PID 1 in a container, a process
gets no default handlers, so we install our own.

Once the outcome is decided and is being written (outputs, summary, the error message, the
``--json`` result), ``finishing()`` makes later signals a no-op: the writing is never cut in half,
and the process ends moments later with the outcome's exit code.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from cortex_action.errors import Interrupted


class _State:
    finishing = False


_STATE = _State()


def finishing() -> None:
    """The outcome is decided and is being written: from now on, signals no longer interrupt."""
    _STATE.finishing = True


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within this block, the first SIGINT or SIGTERM raises ``Interrupted``; later ones, and any
    after ``finishing()``, are ignored so that the way out is not itself interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False
    _STATE.finishing = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if fired or _STATE.finishing:
            return
        fired = True
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _STATE.finishing = False
