"""How a command ends, as a value: the exit code, the report to publish, and the last words.

Commands return an ``Ending`` for every outcome of a run (completed, failed, cancelled, timed
out, paused by policy, gave up waiting). What is still raised (input errors, Cortex refusals,
transport failures past their budget, signals, bugs) reaches ``cli.main``, which asks
``for_error`` here for the ending that fits what was known when it happened (``Progress``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from cortex_action.errors import (
    CortexActionError,
    Interrupted,
    RetriesExhausted,
    TransportError,
)
from cortex_action.models import Run
from cortex_action.render.terminal import format_duration
from cortex_action.report import Report


class FanOutRecord(Protocol):
    """What a fan-out knows so far, so that an error or a signal still publishes every run."""

    def ending(self, exit_code: int, stopped_by: str | None = None) -> Ending: ...

    def stopped_message(self) -> str: ...


class Printout(Protocol):
    """What a command prints on stdout (``get``, ``list``)."""

    def stdout(self, *, as_json: bool) -> str: ...


@dataclass(frozen=True)
class Failure:
    """The one error line of an ending: a title (the annotation's) and what to do."""

    title: str
    message: str


@dataclass(frozen=True)
class Ending:
    """Everything ``cli.main`` publishes, once: outputs, summary, result files, stdout, the
    last log line, and the exit code."""

    exit_code: int
    report: Report | None = None  # run, wait, get: outputs, summary and result files from it
    outputs: Mapping[str, str] | None = None  # list: published as they are
    summary: str | None = None
    printout: Printout | None = None  # stdout of get and list
    files: Mapping[str, str] | None = None  # callback, fan-out: result files, by name
    link: tuple[str, str | None] | None = None  # with files: the job page's link (label, url)
    closing: str | None = None  # the last log line of a good ending
    failure: Failure | None = None
    warnings: tuple[Failure, ...] = ()  # said after publishing (list: an output shortened)


@dataclass
class Progress:
    """What is known so far of a run-following command; on any way out, the report says it."""

    runs_url: str
    job_url: str | None
    clock: Callable[[], float]
    # On GitHub a re-run is a new attempt, hence a new key; elsewhere a retried job sends the
    # same key (the host adapter says which).
    retry_sends_same_key: bool = True
    key_given: bool = False  # the `idempotency-key` input: sent again as it is on any host
    command: str = ""
    workflow: str = ""
    started: float = 0.0
    started_at: str = ""
    run: Run | None = None
    scope: str | None = None
    entity: str | None = None
    idempotency_key: str | None = None
    key_source: str | None = None
    # Whether the trigger's answer was an existing run (``identity.replay_of``); None: no trigger.
    replayed: bool | None = None
    notes: list[str] = field(default_factory=list)
    # The run's own duration, when it is the one to report (``wait`` on a run that had ended):
    # then ``duration_known`` is False when the run doesn't give its times.
    duration: float | None = None
    duration_known: bool = True
    compared: str | None = None  # how the run's duration compared with its history
    # Whether a trigger may have reached Cortex without a definite answer: one in flight now,
    # or one that ended in a timeout, a broken connection or a 5xx. A 429 or a busy 409 is a
    # definite "not started" (``client.TriggerWatch``).
    trigger_in_flight: bool = False
    trigger_unanswered: bool = False
    fanout: FanOutRecord | None = None  # a fan-out keeps its own record of every run

    def trigger_sending(self) -> None:
        self.trigger_in_flight = True

    def trigger_answered(self, *, definite: bool) -> None:
        self.trigger_in_flight = False
        self.trigger_unanswered = self.trigger_unanswered or not definite

    @property
    def trigger_may_have_started(self) -> bool:
        return self.trigger_in_flight or self.trigger_unanswered

    def begin(self, command: str, workflow: str, started_at: str) -> None:
        self.command, self.workflow = command, workflow
        self.started, self.started_at = self.clock(), started_at

    @property
    def active(self) -> bool:
        return bool(self.command)

    def report(self, exit_code: int, headline: str) -> Report:
        return Report(
            command=self.command,
            workflow=self.workflow,
            exit_code=exit_code,
            headline=headline,
            run=self.run,
            run_url=self.runs_url if self.run else None,
            scope=self.scope,
            entity=self.entity,
            idempotency_key=self.idempotency_key,
            key_source=self.key_source,
            replayed=self.replayed,
            duration=self._duration(),
            started_at=self.started_at,
            job_url=self.job_url,
            notes=tuple(self.notes),
            compared=self.compared,
        )

    def _duration(self) -> float | None:
        if self.duration is not None or not self.duration_known:
            return self.duration
        return self.clock() - self.started

    def ended(self, exit_code: int, headline: str, failure: Failure | None = None) -> Ending:
        """The ending of a run that was followed (or triggered without waiting)."""
        report = self.report(exit_code, headline)
        closing = None
        if failure is None:
            took = f" in {format_duration(report.duration)}" if report.duration is not None else ""
            closing = f"Done{took}: {headline}"
        return Ending(exit_code, report=report, closing=closing, failure=failure)


# What repeating the job does, by what is known of the run and whether a repeat sends the same
# key: (situation, same key) -> advice; ``{key}`` is the key this job sent.
_ADVICE: dict[tuple[str, bool], str] = {
    ("ended", True): (
        "Retrying this job sends the same idempotency key ({key}): Cortex returns this same run "
        "(while it keeps the key: for how long is not published), and no new run starts. To "
        "run the workflow again, give a new `idempotency-key` "
        '(docs/hosts.md, "Deploy the same commit again").'
    ),
    ("ended", False): (
        "A re-run of this job is a new attempt: it sends a new idempotency key and starts a new "
        "run."
    ),
    ("known", True): (
        "Retrying this job follows the same run (it sends the same idempotency key, which "
        "Cortex keeps for a time it does not publish); or follow it with `cortex-action wait` "
        "and its run id."
    ),
    ("known", False): (
        "A re-run of this job is a new attempt: it sends a new idempotency key and starts a new "
        "run. To follow this run instead, use `command: wait` with its `run-id`."
    ),
    ("unconfirmed", True): (
        "Retrying this job sends the same idempotency key ({key}): Cortex answers with the run "
        "this key started, if any, instead of starting a second one (for as long as it keeps "
        "the key: how long is not published)."
    ),
    ("unconfirmed", False): (
        "A re-run of this job is a new attempt with a new idempotency key, and would start a "
        "second run if this one started: look in Cortex first (the key of this attempt: {key})."
    ),
}


def retry_advice(progress: Progress, *, run_known: bool, ended: bool = False) -> str:
    """What repeating the job does, true on this host: the one place every failing or
    interrupted message takes it from. On GitHub a re-run is a new attempt (a new key, a new
    run); on GitLab, Jenkins and locally a retried job sends the same key, so Cortex returns the
    same run. ``ended``: the run has ended (failed), so returning it again changes nothing."""
    if progress.command != "run":
        return "Re-running this job reads the same run again (the same `run-id`); it starts no run."
    key = progress.idempotency_key
    if progress.key_given:
        # The input is sent again as it is; whether its value changes is the pipeline's choice.
        same = "this same run" if run_known else "the run this trigger may have started"
        return (
            f"Retrying this job sends the `idempotency-key` input again: while its value stays "
            f"{key}, Cortex returns {same} and starts no other."
        )
    situation = ("ended" if ended else "known") if run_known else "unconfirmed"
    return _ADVICE[situation, progress.retry_sends_same_key].format(key=key)


def for_error(
    error: Exception | Interrupted, exit_code: int, progress: Progress | None
) -> Ending | None:
    """The ending to publish when ``error`` stopped a command, or None when nothing is worth
    publishing (an input error, a refusal before any run, a read-only command)."""
    if progress is None or not progress.active:
        return None
    if progress.fanout is not None:
        return progress.fanout.ending(exit_code, _stopped_by(error))
    return _for_run(error, exit_code, progress)


def _for_run(error: Exception | Interrupted, exit_code: int, progress: Progress) -> Ending | None:
    """``for_error`` for one run."""
    if progress.run is None:
        # The trigger got no usable answer, but it may have reached Cortex: say so, with the key.
        if isinstance(error, Interrupted | TransportError | RetriesExhausted) and (
            progress.idempotency_key
        ):
            return _unconfirmed_trigger(progress, error, exit_code)
        return None
    if isinstance(error, Interrupted):
        progress.notes.append(
            f"Interrupted by {error.name}: stopped waiting. The run goes on in Cortex. "
            + retry_advice(progress, run_known=True)
        )
        return Ending(
            exit_code,
            report=progress.report(
                exit_code, f"Interrupted by {error.name} while the run was {progress.run.status}."
            ),
        )
    if isinstance(error, CortexActionError):
        return Ending(exit_code, report=progress.report(exit_code, error.message.splitlines()[0]))
    return Ending(
        exit_code, report=progress.report(exit_code, f"Stopped by an unexpected error: {error!r}")
    )


def _stopped_by(error: Exception | Interrupted) -> str:
    if isinstance(error, Interrupted):
        return f"Interrupted by {error.name}"
    text = error.message if isinstance(error, CortexActionError) else repr(error)
    return text.splitlines()[0] if text else type(error).__name__


def _unconfirmed_trigger(
    progress: Progress, error: Exception | Interrupted, exit_code: int
) -> Ending:
    """The trigger was interrupted or got no usable answer: Cortex may have started the run
    (unless every attempt was a definite "no": then ``_not_started``). Say where to look and
    what a repeat does, in the summary and the outputs (the key, the runs page)."""
    if not progress.trigger_may_have_started:
        return _not_started(progress, error, exit_code)
    if isinstance(error, Interrupted):
        what = f"Interrupted by {error.name} while the trigger was in flight"
        headline = f"Interrupted by {error.name} before Cortex confirmed a run."
    else:
        message = error.message if isinstance(error, CortexActionError) else str(error)
        what = "The trigger got no usable answer"
        headline = f"Cortex did not confirm a run: {message.splitlines()[0]}"
    progress.notes.append(
        f"{what}: Cortex may have started the run anyway. Look for it in Cortex: "
        f"{progress.runs_url} . " + retry_advice(progress, run_known=False)
    )
    report = replace(progress.report(exit_code, headline), run_url=progress.runs_url)
    return Ending(exit_code, report=report)


def _not_started(progress: Progress, error: Exception | Interrupted, exit_code: int) -> Ending:
    """Every trigger attempt got a definite answer that started nothing (a 429, a busy 409, a
    refused connection), or none was sent: no run, and a repeat is safe."""
    if isinstance(error, Interrupted):
        headline = f"Interrupted by {error.name} before a run was started."
    else:
        message = error.message if isinstance(error, CortexActionError) else str(error)
        headline = f"No run was started: {message.splitlines()[0]}"
    progress.notes.append(
        "No run was started: every trigger attempt was refused or never reached Cortex "
        f"(idempotency key {progress.idempotency_key}). Repeating the job is safe."
    )
    return Ending(exit_code, report=progress.report(exit_code, headline))


def interrupted_message(ending: Ending | None, progress: Progress | None) -> str:
    """The one error line of an interruption, from what was known."""
    if progress is not None and progress.fanout is not None:
        return progress.fanout.stopped_message()
    report = ending.report if ending else None
    if report is not None and report.run is not None and progress is not None:
        return (
            f"Stopped following run {report.run.id}; outputs and summary were written. "
            f"The run goes on in Cortex (there is no API to cancel it): {report.run_url}. "
            + retry_advice(progress, run_known=True)
        )
    if report is not None and progress is not None and not progress.trigger_may_have_started:
        return (
            "Stopped before Cortex started a run: every trigger attempt so far was refused "
            "(busy) or never reached it, so no run was started; repeating the job is safe."
        )
    if report is not None and progress is not None:  # the trigger was in flight
        return (
            "Stopped before Cortex confirmed a run; it may have started anyway: look for it "
            f"in Cortex: {report.run_url}. " + retry_advice(progress, run_known=False)
        )
    return "Stopped; nothing was written."
