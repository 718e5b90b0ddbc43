"""The verdict of ``benchmarks.patch_vs_post``: PATCH's SCIM work against POST's, per cycle."""

from __future__ import annotations

import pytest

from benchmarks.patch_vs_post import ceilings_compared, per_cycle_work
from benchmarks.slices import Slice


def _slices(patch_work: list[float], post_work: float = 100.0) -> list[Slice]:
    made = []
    for cycle, patch in enumerate(patch_work):
        speed = 1 + cycle / 10  # the machine slows down; the ceiling slows with it
        us = {
            "app-post": (400 + post_work) * speed,
            "ceiling-post": 400 * speed,
            "app-patch": (380 + patch) * speed,
            "ceiling-patch": 380 * speed,
        }
        made += [Slice(cycle, app, 1000, 0.5, int(v * 1e6), 0.0, 0) for app, v in us.items()]
    return made


@pytest.mark.parametrize(
    ("patch_work", "verdict"),
    [
        ([90.0, 91.0, 89.0, 90.0, 92.0, 88.0], "met"),
        ([110.0, 111.0, 109.0, 110.0, 112.0, 108.0], "missed"),
        ([60.0, 140.0, 70.0, 130.0, 100.0, 100.0], "not settled"),
    ],
)
def test_the_verdict_needs_the_whole_interval_on_one_side(
    patch_work: list[float], verdict: str
) -> None:
    result = per_cycle_work(_slices(patch_work), collections=())
    assert result["cycles_counted"] == len(patch_work)
    assert result["verdict"] == verdict


def test_work_is_taken_against_the_ceiling_of_the_same_cycle() -> None:
    result = per_cycle_work(_slices([90.0] * 5), collections=())
    # Every app and ceiling slowed by the same factor per cycle: the work is 90 and 100 µs at
    # the first cycle's speed, scaled by each cycle's own.
    assert result["patch_minus_post_us"]["median"] == pytest.approx(-10 * 1.2)
    assert result["post_scim_work_us"]["median"] == pytest.approx(100 * 1.2)


def test_the_ceiling_apart_is_compared_with_the_shared_one_cycle_by_cycle() -> None:
    cycles = []
    for cycle in range(4):
        us = {"app-post": 700, "ceiling-post": 520, "apart-post": 440 + cycle}
        us |= {"app-patch": 690, "ceiling-patch": 515, "apart-patch": 430}
        cycles.append(
            {app: Slice(cycle, app, 1000, 0.5, int(v * 1e6), 0.0, 0) for app, v in us.items()}
        )
    result = ceilings_compared(cycles)
    assert result["post"]["apart_minus_shared_us"]["median"] == pytest.approx(-78.5)
    assert result["patch"]["apart_minus_shared_us"]["mean"] == pytest.approx(-85.0)
    assert result["patch"]["ratio_shared"]["mean"] == pytest.approx(round(515 / 690, 3))
    assert result["patch"]["ratio_apart"]["mean"] == pytest.approx(round(430 / 690, 3))
