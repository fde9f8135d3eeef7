"""The adaptive limiter, the jittered retries and the shared schedule, on a fake clock:
nothing sleeps and no assertion reads the wall clock."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import responses

from extend_assets.client import AdaptiveRateLimiter, ExtendClient
from extend_assets.client.retry import RetryPolicy
from extend_assets.client.shared_bucket import FileTokenBucket, bucket_name
from extend_assets.resources import ExtendResource
from extend_assets_tests.client.payloads import BASE, KEY, run_json
from extend_assets_tests.client.test_methods import FakeTime

GET_URL = f"{BASE}/workflow_runs/workflow_run_r"


def limiter(fake: FakeTime, rate: float = 10.0, **options: float) -> AdaptiveRateLimiter:
    return AdaptiveRateLimiter(rate, clock=fake.clock, sleep=fake.sleep, **options)


def succeed_for(lim: AdaptiveRateLimiter, fake: FakeTime, seconds: float, rate: float) -> None:
    """Successes at ``rate`` per second for ``seconds`` (the clock moves on)."""
    for _ in range(round(seconds * rate)):
        fake.now += 1.0 / rate
        lim.succeeded()


def test_it_starts_at_the_configured_rate_evenly_spaced() -> None:
    fake = FakeTime()
    lim = limiter(fake)
    waits = [lim.reserve()[0] for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert lim.rate() == 10.0


def test_a_429_cuts_the_rate_by_beta_when_the_account_granted_all_of_it() -> None:
    fake = FakeTime()
    lim = limiter(fake, beta=0.7)
    succeed_for(lim, fake, 2.0, 10.0)  # the account granted the full 10/s
    assert lim.throttled(sent_at=fake.now)
    assert lim.rate() == pytest.approx(7.0)


def test_a_429_settles_around_the_share_granted_but_one_beta_step_at_most() -> None:
    fake = FakeTime()
    lim = limiter(fake, beta=0.7)
    succeed_for(lim, fake, 2.0, 8.0)  # granted 8 of our 10 req/s
    lim.throttled(sent_at=fake.now)
    assert lim.rate() == pytest.approx(0.7 * 8.0)
    sparse = limiter(FakeTime(), beta=0.7)  # granted nothing: w_max = 0.7 * 10 at least
    sparse.throttled(sent_at=0.0)
    assert sparse.rate() == pytest.approx(0.7 * 7.0)


def test_one_cut_per_round() -> None:
    fake = FakeTime()
    lim = limiter(fake, cooldown_seconds=1.0)
    succeed_for(lim, fake, 2.0, 10.0)
    cut_at = fake.now
    assert lim.throttled(sent_at=cut_at - 0.05)
    after_one = lim.rate()
    fake.now += 0.2
    # Sent before the cut, or within its cooldown: the account is still draining.
    assert not lim.throttled(sent_at=cut_at - 0.01)
    assert not lim.throttled(sent_at=cut_at + 0.5)
    assert lim.rate() >= after_one
    assert (lim.throttles, lim.cuts) == (3, 1)
    fake.now = cut_at + 1.5
    assert lim.throttled(sent_at=cut_at + 1.2)
    assert lim.cuts == 2


def test_recovery_is_slow_flat_at_the_old_rate_then_probes_up_to_the_maximum() -> None:
    fake = FakeTime()
    lim = limiter(fake, rate=6.0, beta=0.7, recovery_seconds=10.0)
    succeed_for(lim, fake, 2.0, 5.0)  # we held 5 of the account's req/s
    cut = fake.now
    lim.throttled(sent_at=cut)
    curve = [lim.rate(cut + t) for t in range(0, 41)]
    assert curve[0] == pytest.approx(3.5)
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(curve))  # never falls
    assert curve[1] < 0.85 * 5.0  # slow: a second later still well below the old rate
    assert curve[10] == pytest.approx(5.0)  # back at w_max after recovery_seconds
    assert curve[12] - curve[8] < 0.05 * 5.0  # flat around it
    assert 5.0 < curve[15] < 6.0  # then probing above it
    assert curve[40] == 6.0  # never above the configured maximum


def test_the_rate_never_falls_below_its_floor_so_every_wait_is_bounded() -> None:
    fake = FakeTime()
    lim = limiter(fake, rate=10.0, min_rate=0.5)
    for _ in range(50):
        fake.now += 2.0
        lim.throttled(sent_at=fake.now)
    assert lim.rate() == 0.5
    wait, _ = lim.reserve()
    assert wait <= 1 / 0.5


def test_retry_after_is_honoured_then_jittered_so_clients_spread_out() -> None:
    policy = RetryPolicy(rng=random.Random(7))
    delays = [policy.delay(1, 1.0) for _ in range(200)]
    assert all(1.0 <= d <= 2.0 for d in delays)  # never sooner than asked
    assert max(delays) - min(delays) > 0.8  # not in lockstep
    assert all(30.0 <= policy.delay(1, 30.0) <= 45.0 for _ in range(50))
    assert all(policy.delay(1, 10_000.0) <= 120.0 * 1.5 for _ in range(10))  # capped


def test_backoff_without_retry_after_is_full_jitter_within_its_ceiling() -> None:
    policy = RetryPolicy(rng=random.Random(3), base_delay=0.5, max_delay=30.0)
    for retry, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (10, 30.0)):
        samples = [policy.backoff(retry) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert min(samples) < ceiling / 4  # full jitter reaches down towards zero


@responses.activate
def test_a_client_slows_down_after_a_429() -> None:
    fake = FakeTime()
    responses.get(GET_URL, json={"error": "Too many requests"}, status=429)
    responses.get(GET_URL, json={"success": True, "workflowRun": run_json("workflow_run_r")})
    with ExtendClient(
        KEY, base_url=BASE, requests_per_second=10, sleep=fake.sleep, clock=fake.clock
    ) as client:
        assert client.send_rate == 10.0
        client.get_workflow_run("workflow_run_r")
        assert client.send_rate is not None and client.send_rate < 10.0


def test_the_sensor_gets_its_share_of_the_rate() -> None:
    resource = ExtendResource(api_key=KEY, base_url=BASE, requests_per_second=10)
    with resource.get_client(rate_share=resource.sensor_rate_share) as sensor:
        assert sensor.send_rate == pytest.approx(2.0)
    with resource.get_client() as step:
        assert step.send_rate == pytest.approx(10.0)


def test_processes_sharing_a_directory_share_one_schedule(tmp_path: Path) -> None:
    fake = FakeTime()
    fake.now = 1000.0
    name = bucket_name(BASE, None, KEY)
    assert KEY not in name
    first, second = (
        FileTokenBucket(tmp_path, name, 10.0, clock=fake.clock, sleep=fake.sleep) for _ in range(2)
    )
    waits = [bucket.reserve() for bucket in (first, second, first, second)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])
    other = FileTokenBucket(
        tmp_path, bucket_name(BASE, None, "another-key"), 10.0, clock=fake.clock
    )
    assert other.reserve() == 0.0  # another account has its own schedule


def test_a_broken_schedule_file_starts_afresh(tmp_path: Path) -> None:
    fake = FakeTime()
    fake.now = 1000.0
    bucket = FileTokenBucket(tmp_path, "s.slot", 10.0, clock=fake.clock)
    bucket.path.write_text("not a number")
    assert bucket.reserve() == 0.0
    bucket.path.write_text(repr(fake.now + 10 * 86400))  # a clock that jumped back
    assert bucket.reserve() == 0.0


def test_an_unusable_rate_limit_dir_names_the_option(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="EXTEND_RATE_LIMIT_DIR"):
        FileTokenBucket(blocker / "sub", "s.slot", 10.0)
