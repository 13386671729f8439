"""Every error class leads to exactly one outcome, and the function guard honours it."""

from __future__ import annotations

import pytest

from shared import errors
from shared.events import Envelope
from shared.pipeline.entry import guard

ENV = Envelope(id="e-1", type="t", source="s", time=None)

OUTCOMES: dict[type[errors.PipelineError], errors.Handling] = {
    errors.TransientError: "retry",
    errors.QuotaExceeded: "retry",
    errors.PreconditionFailed: "retry",
    errors.PermanentError: "fail_run",
    errors.NotFound: "fail_run",
    errors.ConfigError: "fail_run",
    errors.InvalidMessage: "acknowledge",
}


def test_every_error_class_is_mapped() -> None:
    def subclasses(cls: type) -> set[type]:
        return {cls} | {s for c in cls.__subclasses__() for s in subclasses(c)}  # type: ignore[var-annotated]

    every = subclasses(errors.PipelineError) - {errors.PipelineError}
    known = {c for c in every if c.__module__ == "shared.errors"}
    assert known == set(OUTCOMES), "a new error class needs its outcome here and in errors.py"
    # Adapters may refine a kind (e.g. UnsafeObjectName), never add a fourth outcome.
    assert all(issubclass(c, errors.TransientError | errors.PermanentError) for c in every)


@pytest.mark.parametrize(("cls", "outcome"), OUTCOMES.items(), ids=lambda v: str(v))
def test_outcome_of_each_class(cls: type[errors.PipelineError], outcome: str) -> None:
    assert errors.handling(cls("x")) == outcome


@pytest.mark.parametrize("cls", [c for c, o in OUTCOMES.items() if o != "retry"])
def test_the_guard_acknowledges_what_retrying_cannot_fix(cls: type[errors.PipelineError]) -> None:
    with guard("launcher", ENV):
        raise cls("nothing a retry can change")


@pytest.mark.parametrize("exc", [errors.TransientError("503"), errors.PreconditionFailed("race")])
def test_the_guard_lets_the_platform_retry(exc: Exception) -> None:
    with pytest.raises(type(exc)), guard("launcher", ENV):
        raise exc


def test_a_bug_is_retried_not_swallowed() -> None:
    assert errors.handling(ValueError("bug")) == "retry"
    with pytest.raises(ValueError), guard("launcher", ENV):
        raise ValueError("bug")
