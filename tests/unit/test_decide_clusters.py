"""Taste groups: the fit finds kinds of users that exist, and pooling with them helps.

Users are synthetic records drawn from two planted kinds (fixed seeds), so every
assertion is about what the fit and the model do with evidence, with tolerances wide
enough for any seed and narrow enough that a fit ignoring the data fails.
"""

from __future__ import annotations

import random
from collections import Counter

from rapport.decide import clusters, simulate
from rapport.decide.model import (
    CLUSTER_WEIGHT,
    DEFAULT_POLICY,
    Candidate,
    Counts,
    StatKey,
    choose,
    group_weights,
    preferences,
    stat_keys,
)

CANDIDATES = simulate.all_candidates()  # offering x tone x layout
# Two kinds of user: one converts on urgent copy, the other on friendly copy.
KINDS = {"urgent": 0.30, "friendly": 0.30}
OTHER_RATE = 0.03


def _rate(kind: str, candidate: Candidate) -> float:
    return KINDS[kind] if candidate.labels["tone"] == kind else OTHER_RATE


def _record(stats: dict[StatKey, Counts], candidate: Candidate, converted: bool) -> None:
    for key in stat_keys(candidate):
        found = stats.get(key, Counts())
        stats[key] = Counts(found.trials + 1.0, found.successes + converted)


def _user(kind: str, visits: int, rng: random.Random) -> dict[StatKey, Counts]:
    """A user shown random variants ``visits`` times."""
    stats: dict[StatKey, Counts] = {}
    for _ in range(visits):
        candidate = rng.choice(CANDIDATES)
        _record(stats, candidate, rng.random() < _rate(kind, candidate))
    return stats


def _population(users: list[dict[StatKey, Counts]]) -> dict[StatKey, Counts]:
    total: dict[StatKey, Counts] = {}
    for stats in users:
        for key, counts in stats.items():
            found = total.get(key, Counts())
            total[key] = Counts(found.trials + counts.trials, found.successes + counts.successes)
    return total


def _world(seed: int = 1, per_kind: int = 60, visits: int = 60) -> tuple[list[str], list[dict]]:
    rng = random.Random(seed)
    kinds = [kind for kind in KINDS for _ in range(per_kind)]
    return kinds, [_user(kind, visits, rng) for kind in kinds]


def test_the_fit_finds_the_planted_kinds() -> None:
    kinds, users = _world()
    population = _population(users)
    groups = clusters.fit(users, CANDIDATES, population, k=2, policy=DEFAULT_POLICY)
    assert groups is not None
    assert len(groups) == 2
    assert sum(g[CLUSTER_WEIGHT].trials for g in groups) > 0.9 * len(users)
    placed: Counter[tuple[str, int]] = Counter()
    for kind, stats in zip(kinds, users, strict=True):
        weights = group_weights(CANDIDATES, stats, population, groups)
        placed[(kind, max(range(2), key=weights.__getitem__))] += 1
    # Each kind lands in its own group (which is which is arbitrary).
    urgent_group = max(range(2), key=lambda g: placed[("urgent", g)])
    friendly_group = 1 - urgent_group
    assert placed[("urgent", urgent_group)] >= 50
    assert placed[("friendly", friendly_group)] >= 50


def test_the_fit_is_deterministic_and_needs_evidence() -> None:
    _, users = _world(seed=2)
    population = _population(users)
    first = clusters.fit(users, CANDIDATES, population, k=3, policy=DEFAULT_POLICY)
    assert first
    assert clusters.fit(users, CANDIDATES, population, k=3, policy=DEFAULT_POLICY) == first
    # Too few users with a conversion to tell anyone apart; or no groups wanted.
    assert clusters.fit(users[:5], CANDIDATES, population, k=3, policy=DEFAULT_POLICY) is None
    assert clusters.fit(users, CANDIDATES, population, k=1, policy=DEFAULT_POLICY) is None
    # Starting from the previous fit keeps the groups where they were.
    again = clusters.fit(users, CANDIDATES, population, k=3, previous=first, policy=DEFAULT_POLICY)
    for before, after in zip(first, again, strict=True):
        assert abs(before[CLUSTER_WEIGHT].trials - after[CLUSTER_WEIGHT].trials) < 6


def test_no_groups_where_users_are_all_alike() -> None:
    """Groups must earn their place: with one kind of user, splitting them only fits noise."""
    rng = random.Random(5)
    users = [_user("urgent", 60, rng) for _ in range(120)]
    population = _population(users)
    assert clusters.fit(users, CANDIDATES, population, k=4, policy=DEFAULT_POLICY) == []


def test_a_user_with_little_evidence_borrows_from_their_group() -> None:
    _, users = _world(seed=3)
    population = _population(users)  # half like urgent, half friendly: no overall favourite
    groups = clusters.fit(users, CANDIDATES, population, k=2, policy=DEFAULT_POLICY)
    assert groups
    # A new user converted once, on urgent copy, and missed twice elsewhere.
    newcomer: dict[StatKey, Counts] = {}
    urgent = [c for c in CANDIDATES if c.labels["tone"] == "urgent"]
    others = [c for c in CANDIDATES if c.labels["tone"] == "formal"]
    _record(newcomer, urgent[0], True)
    _record(newcomer, others[0], False)
    _record(newcomer, others[1], False)

    def urgent_share(with_groups: bool) -> float:
        rng = random.Random(11)
        chosen = [
            choose(
                CANDIDATES,
                newcomer,
                population,
                rng=rng,
                groups=groups if with_groups else (),
            )[0][0]
            for _ in range(600)
        ]
        tones = {c.variant_id: c.labels["tone"] for c in CANDIDATES}
        return sum(tones[v] == "urgent" for v in chosen) / len(chosen)

    pooled, alone = urgent_share(True), urgent_share(False)
    assert pooled > 0.8
    assert pooled > alone + 0.1


def test_preferences_lean_on_the_group() -> None:
    _, users = _world(seed=4)
    population = _population(users)
    groups = clusters.fit(users, CANDIDATES, population, k=2, policy=DEFAULT_POLICY)
    assert groups
    newcomer: dict[StatKey, Counts] = {}
    _record(newcomer, next(c for c in CANDIDATES if c.labels["tone"] == "friendly"), True)
    weights = group_weights(CANDIDATES, newcomer, population, groups)
    group = groups[max(range(2), key=weights.__getitem__)]
    tones = {"tone": ["urgent", "friendly", "formal"]}
    with_group = preferences(newcomer, population, tones, group=group)
    alone = preferences(newcomer, population, tones)
    assert with_group[0].label == "friendly"
    friendly = next(row for row in with_group if row.label == "friendly")
    formal = next(row for row in with_group if row.label == "formal")
    assert friendly.low < friendly.mean < friendly.high
    assert friendly.mean > formal.high  # the group is sure formal copy does not work
    # The population mean is still reported beside the group-informed belief.
    assert (
        friendly.population_mean == next(r for r in alone if r.label == "friendly").population_mean
    )


def test_groups_of_given_members_sum_their_records_by_weight() -> None:
    key: StatKey = ("tone", "urgent")
    users = [{key: Counts(10.0, 3.0)}, {key: Counts(4.0, 1.0)}, {key: Counts(6.0, 0.0)}]
    groups = clusters.groups_of_members(users, [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], 2)
    assert groups[0][key] == Counts(12.0, 3.5)
    assert groups[1][key] == Counts(8.0, 0.5)
    assert [g[CLUSTER_WEIGHT].trials for g in groups] == [1.5, 1.5]
