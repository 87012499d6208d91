"""The A/B statistics of ``queuecast bench --compare`` (bench/ab.py) on synthetic rounds.

The synthetic model mirrors what a shared CI box does to a pair of measurements: a *drift* common to
both members of a round (the machine is slower this minute), plus independent noise on each, both
multiplicative (lognormal).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import pytest

from bench import ab
from bench.compare import markdown_table, parse_figures
from bench.inject import TARGETS, slow_down
from bench.procs import ROOT


def rounds(shift: float, *, n: int = 10, noise: float = 0.05, drift: float = 0.15, seed: int = 1,
           level: float = 1200.0) -> tuple[list[float], list[float]]:
    """``n`` paired rounds; the candidate's true value is ``level * shift``."""
    rng = random.Random(seed)
    base, cand = [], []
    for _ in range(n):
        d = math.exp(rng.gauss(0, drift))
        base.append(level * d * math.exp(rng.gauss(0, noise)))
        cand.append(level * shift * d * math.exp(rng.gauss(0, noise)))
    return base, cand


def test_a_true_fifteen_percent_slowdown_is_worse() -> None:
    caught = sum(ab.decide("cpu", *rounds(1.15, seed=s)).verdict == "worse" for s in range(50))
    assert caught >= 45  # power ≥ 90 % at 10 rounds, 5 % noise per value, 15 % drift per round


def test_a_true_fifteen_percent_slowdown_of_a_noisy_tail_is_caught_more_often_than_not() -> None:
    caught = sum(ab.decide("p99", *rounds(1.15, n=12, noise=0.10, seed=s)).verdict == "worse" for s in range(50))
    assert caught >= 30


def test_identical_values_are_calm() -> None:
    base = [1.0, 1.2, 0.9, 1.1, 1.0, 1.3]
    d = ab.decide("p50", base, list(base))
    assert d.verdict == "no significant change"
    assert d.ratio == pytest.approx(1.0)
    assert d.low == pytest.approx(1.0) and d.high == pytest.approx(1.0)


def test_noise_alone_never_fails() -> None:
    verdicts = [ab.decide("cpu", *rounds(1.0, seed=s)).verdict for s in range(200)]
    assert verdicts.count("worse") == 0
    assert verdicts.count("better") == 0


def test_a_noisy_tail_alone_rarely_fails() -> None:
    verdicts = [ab.decide("p99", *rounds(1.0, noise=0.15, seed=s)).verdict for s in range(200)]
    assert verdicts.count("worse") <= 5  # ≤ 2.5 %, the one-sided error rate of a 95 % interval


def test_one_wild_round_does_not_fail_the_figure() -> None:
    base, cand = rounds(1.0, n=8, noise=0.03, seed=7)
    cand[3] *= 4.0  # a GC pause or a neighbour's build, once
    d = ab.decide("p99", base, cand)
    assert d.verdict == "no significant change"
    assert d.ratio < 1.05


def test_a_small_real_change_is_not_called() -> None:
    d = ab.decide("cpu", *rounds(1.05, n=30, noise=0.01, seed=3))
    assert d.low > 1.0  # certainly slower ...
    assert d.verdict == "no significant change"  # ... but by less than the 10 % that matters


def test_a_faster_candidate_is_better_and_does_not_fail() -> None:
    decisions = [ab.decide("cpu", *rounds(0.8, seed=2))]
    assert decisions[0].verdict == "better"
    assert not ab.failed(decisions)


def test_higher_is_better_flips_the_verdict() -> None:
    d = ab.decide("callbacks_per_s", *rounds(0.8, seed=2), better="higher")
    assert d.verdict == "worse"
    assert ab.failed([d])


def test_the_verdict_is_reproducible() -> None:
    base, cand = rounds(1.12, n=8, noise=0.08, seed=11)
    assert ab.decide("x", base, cand) == ab.decide("x", base, cand)


def test_too_few_usable_rounds_raise() -> None:
    with pytest.raises(ab.TooFewRounds, match="p50: 2 usable rounds"):
        ab.decide("p50", [1.0, 2.0, math.nan], [1.0, 2.0, 3.0])


def test_rounds_must_pair_up() -> None:
    with pytest.raises(ValueError, match="rounds must pair up"):
        ab.decide("p50", [1.0, 2.0, 3.0], [1.0, 2.0])


def test_the_table_shows_change_interval_and_verdict() -> None:
    d = ab.decide("callback_cpu_us", *rounds(1.3, seed=4))
    table = markdown_table([d])
    assert "| callback_cpu_us |" in table
    assert "**worse**" in table
    assert f"{d.change * 100:+.1f} %" in table


def test_figures_are_parsed_and_unknown_ones_named() -> None:
    assert parse_figures("iso_p50_ms,callback_cpu_us") == ("iso_p50_ms", "callback_cpu_us")
    with pytest.raises(SystemExit, match="nope"):
        parse_figures("iso_p50_ms,nope")


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_the_injected_slowdown_goes_first_in_the_real_target(kind: str) -> None:
    path, cls, function = TARGETS[kind]
    source = (ROOT / path).read_text()
    slowed = slow_down(source, 500, cls=cls, function=function)
    compile(slowed, str(path), "exec")
    body = slowed.split(f"def {function}(", 1)[1]
    spin = body.index("0.0005")
    # after the signature and docstring, before anything the function did before
    original = source.split(f"def {function}(", 1)[1]
    assert body[:spin].count("\n") <= original.count("\n")
    assert slowed.count("# bench.inject") == 1


def test_the_slowed_function_really_spends_the_time() -> None:
    source = 'class Subscriber:\n    def offer(self, frame):\n        """Doc."""\n        return frame\n'
    namespace: dict[str, Any] = {}
    exec(compile(slow_down(source, 3000, cls="Subscriber", function="offer"), "s.py", "exec"), namespace)
    t0 = time.perf_counter()
    assert namespace["Subscriber"]().offer(7) == 7  # behaviour kept
    assert time.perf_counter() - t0 >= 0.003  # a busy-wait cannot return early


def test_the_injection_names_a_missing_target() -> None:
    with pytest.raises(ValueError, match="offer"):
        slow_down("class Subscriber:\n    pass\n", 500, cls="Subscriber", function="offer")
    with pytest.raises(ValueError, match="Hub"):
        slow_down("class Subscriber:\n    pass\n", 500, cls="Hub", function="offer")
