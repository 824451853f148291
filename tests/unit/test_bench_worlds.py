"""The personalization benchmark's simulated worlds, baselines and offline peers."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest
from bench.worlds import (
    DEVICES,
    DIMENSIONS,
    VARIANTS,
    Arrival,
    LabelThompsonReference,
    Outcome,
    ThompsonPeer,
    User,
    World,
    clustered_world,
    figures,
    individual_world,
    simulate,
)


class OracleLearner:
    name = "oracle"

    def choose(self, arrival: Arrival, world: World) -> tuple[int, float]:
        probabilities = world.probabilities(arrival)
        return probabilities.index(max(probabilities)), 1.0

    def learn(self, feedback: object, world: World) -> None:
        pass


class RandomLearner:
    name = "random"

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)

    def choose(self, arrival: Arrival, world: World) -> tuple[int, float]:
        return self.rng.randrange(len(VARIANTS)), 1 / len(VARIANTS)

    def learn(self, feedback: object, world: World) -> None:
        pass


def tribes(users: int = 10, *, alike: bool = False) -> World:
    """Strong tastes; two halves with opposite ones (only personalization serves both),
    or everyone alike (``alike``)."""
    people = []
    for i in range(users):
        favourite = 0 if alike or i % 2 == 0 else 2
        taste = {
            dim: {label: 1.0 if j == favourite else 0.0 for j, label in enumerate(labels)}
            for dim, labels in DIMENSIONS.items()
        }
        people.append(User(id=f"u{i}", base=-2.0, taste=taste, device=DEVICES[i % 2]))
    return World("tribes", tuple(people), seed=3)


def test_27_distinct_variants_over_three_dimensions() -> None:
    assert len(VARIANTS) == 27
    assert len({tuple(v.labels.items()) for v in VARIANTS}) == 27
    assert all(set(v.labels) == set(DIMENSIONS) for v in VARIANTS)


@pytest.mark.parametrize("make", [clustered_world, individual_world])
def test_worlds_are_deterministic_and_in_a_realistic_range(make: Callable[[int], World]) -> None:
    world, again = make(60), make(60)
    assert world == again
    arrivals = world.arrivals(5)
    assert arrivals == again.arrivals(5)
    assert arrivals != world.arrivals(5, seed=99)
    probabilities = [p for arrival in arrivals for p in world.probabilities(arrival)]
    assert 0.015 < min(probabilities) < 0.03
    assert 0.2 < max(probabilities) <= 0.31
    assert 0.05 < sum(probabilities) / len(probabilities) < 0.12


def test_each_user_arrives_at_most_once_per_round() -> None:
    world = individual_world(50)
    arrivals = world.arrivals(8, presence=0.8)
    assert [a.index for a in arrivals] == list(range(len(arrivals)))
    per_round = Counter((a.round, a.user) for a in arrivals)
    assert max(per_round.values()) == 1
    assert 0.7 * 400 < len(arrivals) < 0.9 * 400
    assert {a.device for a in arrivals} == set(DEVICES)
    assert all(0 <= a.hour < 24 and 0 <= a.uniform < 1 for a in arrivals)


def test_clustered_world_has_segments_and_an_evening_taste() -> None:
    world = clustered_world(200)
    assert set(Counter(u.segment for u in world.users)) == {0, 1, 2, 3}
    lifestyle = next(i for i, v in enumerate(VARIANTS) if v.labels["image"] == "lifestyle")
    product = next(i for i, v in enumerate(VARIANTS) if v.labels["image"] == "product")
    assert world.probability(0, lifestyle, "mobile", 20) > world.probability(
        0, lifestyle, "mobile", 10
    )
    assert world.probability(0, product, "mobile", 20) == world.probability(
        0, product, "mobile", 10
    )


def test_oracle_captures_all_and_random_nothing() -> None:
    world = clustered_world(60)
    arrivals = world.arrivals(10)
    oracle = figures(world, arrivals, simulate(world, arrivals, OracleLearner()))
    assert oracle.captured == pytest.approx(1.0)
    chance = figures(world, arrivals, simulate(world, arrivals, RandomLearner()))
    assert abs(chance.captured) < 0.15
    assert oracle.arrivals == chance.arrivals == round(0.3 * len(arrivals))


def test_excluded_outcomes_count_for_nobody() -> None:
    world = individual_world(20)
    arrivals = world.arrivals(10)
    outcomes = simulate(world, arrivals, OracleLearner())
    kept = figures(world, arrivals, outcomes)
    outcomes[-1] = Outcome(0, 0.0, False, excluded=True)
    fewer = figures(world, arrivals, outcomes)
    assert fewer.excluded == 1
    assert fewer.arrivals == kept.arrivals - 1
    assert fewer.captured == pytest.approx(1.0)


def test_common_random_numbers_decide_conversions() -> None:
    world = individual_world(20)
    arrivals = world.arrivals(5)
    for arrival, outcome in zip(arrivals, simulate(world, arrivals, OracleLearner()), strict=True):
        assert outcome.converted == (arrival.uniform < outcome.probability)


def test_thompson_peer_finds_the_best_common_variant() -> None:
    world = tribes(alike=True)
    arrivals = world.arrivals(150)
    first = figures(world, arrivals, simulate(world, arrivals, ThompsonPeer()))
    again = figures(world, arrivals, simulate(world, arrivals, ThompsonPeer()))
    assert first == again
    assert first.captured > 0.6
    # Opposite tastes: no single variant serves both halves.
    world = tribes()
    arrivals = world.arrivals(150)
    assert figures(world, arrivals, simulate(world, arrivals, ThompsonPeer())).captured < 0.4


def test_reference_learns_each_users_tastes() -> None:
    world = tribes()
    arrivals = world.arrivals(150)
    result = figures(world, arrivals, simulate(world, arrivals, LabelThompsonReference()))
    assert result.captured > 0.6


def test_vowpal_wabbit_peer_personalizes() -> None:
    from bench.worlds import VowpalPeer  # needs the bench extra, which `make test` installs

    world = tribes()
    arrivals = world.arrivals(150)
    results = []
    for _ in range(2):
        peer = VowpalPeer()
        results.append(figures(world, arrivals, simulate(world, arrivals, peer)))
        peer.close()
    assert results[0] == results[1]
    assert results[0].captured > 0.6
