"""Error mapping and backoff: the rules every Google Cloud adapter relies on."""

from __future__ import annotations

import grpc
import pytest
from google.api_core import exceptions as gexc

from shared.errors import (
    NotFound,
    PermanentError,
    PipelineError,
    PreconditionFailed,
    QuotaExceeded,
    TransientError,
)
from shared.gcp.retry import backoff_delays, call_with_retry, map_google_error


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (gexc.TooManyRequests("slow down"), TransientError),
        (gexc.ResourceExhausted("quota"), TransientError),
        (gexc.ServiceUnavailable("down"), TransientError),
        (gexc.DeadlineExceeded("late"), TransientError),
        (gexc.InternalServerError("oops"), TransientError),
        (gexc.BadGateway("proxy"), TransientError),
        (gexc.Aborted("txn contention"), TransientError),
        (gexc.BadRequest("bad field"), PermanentError),
        (gexc.InvalidArgument("bad field"), PermanentError),
        (gexc.FailedPrecondition("index missing"), PermanentError),
        # IAM bindings not propagated yet on a first deploy: the platform retries (defect 7).
        (gexc.Forbidden("no access"), TransientError),
        (gexc.PermissionDenied("no access"), TransientError),
        (gexc.FailedPrecondition("That index is currently building"), TransientError),
        (gexc.NotFound("gone"), NotFound),
        (gexc.PreconditionFailed("generation mismatch"), PreconditionFailed),
        (gexc.AlreadyExists("exists"), PreconditionFailed),
        (ConnectionResetError("reset"), TransientError),
    ],
)
def test_maps_each_status_to_its_kind(exc: Exception, kind: type[PipelineError]) -> None:
    err = map_google_error(exc)
    assert type(err) is kind


def test_quota_flag_turns_429_into_quota_exceeded() -> None:
    assert type(map_google_error(gexc.ResourceExhausted("q"), quota=True)) is QuotaExceeded
    assert type(map_google_error(gexc.TooManyRequests("q"), quota=True)) is QuotaExceeded
    # quota=True does not change what a 503 means
    assert type(map_google_error(gexc.ServiceUnavailable("x"), quota=True)) is TransientError


def test_permanent_error_keeps_the_api_message_and_names_the_object() -> None:
    err = map_google_error(
        gexc.InvalidArgument("adapter size is not supported for this base model"),
        what="tuning job run-1",
    )
    assert err.message == "tuning job run-1: adapter size is not supported for this base model"
    assert err.code == "invalid_argument"


class _RawRpcError(grpc.RpcError):  # type: ignore[misc]
    def __init__(self, status: grpc.StatusCode, details: str) -> None:
        self._status, self._details = status, details

    def code(self) -> grpc.StatusCode:
        return self._status

    def details(self) -> str:
        return self._details


def test_raw_grpc_errors_are_mapped_by_status_name() -> None:
    assert type(map_google_error(_RawRpcError(grpc.StatusCode.UNAVAILABLE, "x"))) is TransientError
    err = map_google_error(_RawRpcError(grpc.StatusCode.INVALID_ARGUMENT, "field x is bad"))
    assert type(err) is PermanentError
    assert "field x is bad" in err.message


def test_pipeline_errors_pass_through() -> None:
    e = NotFound("already mapped")
    assert map_google_error(e) is e


class _Clock:
    """A fake monotonic clock that the fake sleep advances, so deadlines are exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s

    def __call__(self) -> float:
        return self.now


def _flaky(fail_times: int, exc: Exception) -> tuple[list[int], object]:
    calls = [0]

    def fn() -> str:
        calls[0] += 1
        if calls[0] <= fail_times:
            raise exc
        return "ok"

    return calls, fn


def test_retries_transient_errors_until_success() -> None:
    clock = _Clock()
    calls, fn = _flaky(3, gexc.ServiceUnavailable("blip"))
    seen: list[int] = []
    out = call_with_retry(  # type: ignore[var-annotated]
        fn,  # type: ignore[arg-type]
        deadline_s=30,
        initial_s=1,
        max_s=8,
        sleep=clock.sleep,
        clock=clock,
        rng=lambda lo, hi: hi,  # worst case of full jitter: the cap itself
        on_retry=lambda attempt, err, delay: seen.append(attempt),
    )
    assert out == "ok"
    assert calls[0] == 4
    assert clock.sleeps == [1, 2, 4]  # exponential
    assert seen == [1, 2, 3]


def test_delays_are_capped_and_jittered_from_zero() -> None:
    lows: list[tuple[float, float]] = []

    def rng(lo: float, hi: float) -> float:
        lows.append((lo, hi))
        return hi / 2

    gen = backoff_delays(0.5, 4, rng=rng)
    got = [next(gen) for _ in range(6)]
    assert [hi for _, hi in lows] == [0.5, 1, 2, 4, 4, 4]
    assert all(lo == 0 for lo, _ in lows)
    assert got == [0.25, 0.5, 1, 2, 2, 2]


def test_gives_up_with_transient_error_before_the_deadline() -> None:
    clock = _Clock()
    calls, fn = _flaky(10_000, gexc.DeadlineExceeded("slow backend"))
    with pytest.raises(TransientError) as info:
        call_with_retry(
            fn,  # type: ignore[arg-type]
            deadline_s=10,
            initial_s=1,
            max_s=4,
            sleep=clock.sleep,
            clock=clock,
            rng=lambda lo, hi: hi,
        )
    assert clock.now <= 10  # never sleeps past the deadline
    assert sum(clock.sleeps) == clock.now
    assert "slow backend" in info.value.message
    assert f"after {calls[0]} attempts" in info.value.message
    assert isinstance(info.value.__cause__, gexc.DeadlineExceeded)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (gexc.InvalidArgument("bad"), PermanentError),
        (gexc.NotFound("gone"), NotFound),
        (gexc.PreconditionFailed("gen"), PreconditionFailed),
    ],
)
def test_non_transient_errors_are_not_retried(exc: Exception, kind: type[PipelineError]) -> None:
    clock = _Clock()
    calls, fn = _flaky(1, exc)
    with pytest.raises(kind):
        call_with_retry(fn, deadline_s=10, initial_s=1, max_s=4, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert calls[0] == 1
    assert clock.sleeps == []


def test_quota_is_not_retried_when_the_caller_says_quota() -> None:
    clock = _Clock()
    calls, fn = _flaky(1, gexc.ResourceExhausted("concurrent tuning jobs"))
    with pytest.raises(QuotaExceeded):
        call_with_retry(
            fn,  # type: ignore[arg-type]
            quota=True,
            deadline_s=10,
            initial_s=1,
            max_s=4,
            sleep=clock.sleep,
            clock=clock,
        )
    assert calls[0] == 1


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        call_with_retry(lambda: 1, deadline_s=0)


def test_program_errors_pass_through_unmapped_and_unretried() -> None:
    clock = _Clock()
    calls, fn = _flaky(1, ValueError("illegal transition RECEIVED -> SUCCEEDED"))
    with pytest.raises(ValueError, match="illegal transition"):
        call_with_retry(fn, deadline_s=10, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert calls[0] == 1


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (gexc.PermissionDenied("caller lacks storage.objects.get"), "permission_denied"),
        (gexc.Forbidden("403 caller lacks storage.objects.get"), "permission_denied"),
        (
            gexc.FailedPrecondition(
                "The query requires an index. That index is currently building"
            ),
            "index_building",
        ),
    ],
)
def test_first_deploy_refusals_go_back_to_the_platform_at_once(exc: Exception, code: str) -> None:
    # Not acknowledged (that would lose the upload) and not spun on in-process for seconds:
    # IAM propagation takes minutes, the platform's backoff waits them out.
    clock = _Clock()
    calls, fn = _flaky(5, exc)
    with pytest.raises(TransientError) as info:
        call_with_retry(fn, deadline_s=10, initial_s=1, max_s=4, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert info.value.code == code
    assert calls[0] == 1
    assert clock.sleeps == []


def test_a_missing_index_stays_permanent() -> None:
    err = map_google_error(gexc.FailedPrecondition("The query requires an index: create it"))
    assert type(err) is PermanentError
