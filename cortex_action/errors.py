"""Typed errors, and the exit codes of the README.

Every ending of a run (completed, failed, paused by policy, gave up waiting) is a value that a
command returns. What is left is raised, and ``cli.main`` alone turns it into an exit code
(its ``EXIT_CODES`` table) and one message that says what happened, why, and what to do::

    CortexActionError
    ├── InputError            2   an input is invalid; nothing was sent
    └── CortexError           3   Cortex refused, or could not be reached
        ├── ApiError              an error status, with Cortex's message and request id
        ├── TransportError        no answer: connection, TLS, timeout, a garbled answer
        ├── ForeignRun            the answer is about another run than the one asked for
        └── RetriesExhausted      transient failures past the retry budget
            └── DeadlineReached   a retry would have slept past ``timeout``
    Interrupted                   130 / 143   SIGINT / SIGTERM (not an Exception: nothing
                                              below cli.main may swallow it)
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The documented exit codes (README, "Exit codes")."""

    OK = 0
    RUN_FAILED = 1
    INVALID_INPUT = 2
    CORTEX_ERROR = 3
    WAIT_TIMEOUT = 4
    SIGINT = 130
    SIGTERM = 143


class CortexActionError(Exception):
    """Base of every error this package raises on purpose."""

    title: str = "cortex-action failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(CortexActionError):
    """One or more inputs are invalid; nothing was sent to Cortex."""

    title = "Invalid input"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = self.problems[0]
        else:
            text = f"{len(self.problems)} inputs are invalid:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(text)


class CortexError(CortexActionError):
    """Cortex refused the request or could not be reached (exit 3)."""

    title = "Cortex request failed"


class ApiError(CortexError):
    """Cortex answered with an error status."""

    def __init__(  # noqa: PLR0913 - keyword-only: the parts of Cortex's error body
        self,
        status_code: int,
        message: str,
        *,
        method: str = "",
        url: str = "",
        details: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.method = method
        self.url = url
        self.api_message = message
        self.details = details
        self.request_id = request_id
        self.hint = hint
        self.retry_after = retry_after
        parts = [f"Cortex answered {status_code} to {method} {url}: {message}".replace("  ", " ")]
        if details:
            parts.append(f"Details: {details}")
        if request_id:
            parts.append(f"Request id: {request_id} (give it to Cortex support)")
        if hint:
            parts.append(hint)
        super().__init__("\n".join(parts))
        self.title = f"Cortex API error {status_code}"


class TransportError(CortexError):
    """The request did not get an answer (connection, TLS, timeout, malformed response)."""

    title = "Cortex could not be reached"


class ForeignRun(CortexError):
    """Cortex answered with a run that belongs to another request (another workflow, scope or
    entity, or another run id): never followed, never reported as ours."""

    title = "Cortex answered with another run"


class RetriesExhausted(CortexError):
    """Transient failures went on past the retry budget."""

    title = "Cortex kept failing"


class DeadlineReached(RetriesExhausted):
    """A retry would have slept past the deadline (``timeout``), so we stopped trying."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException so that no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.SIGTERM if self.signum == 15 else ExitCode.SIGINT

    @property
    def name(self) -> str:
        """``SIGINT`` or ``SIGTERM``, for messages."""
        return self.exit_code.name
