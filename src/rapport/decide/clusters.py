"""Taste groups: a few kinds of user, found in the users' own records.

Users who like the same things are pooled: a group's statistics are the sums of its
members' counts, each user weighted by how likely they belong to it, so a group is read
exactly like the population (``model.rate_model`` with the population as its prior) and
a user's prior is the group they resemble instead of everyone. The fit is
expectation-maximization over a mixture of such groups:

* E: a user's membership of each group is proportional to the group's weight times the
  probability its effects give to which variants the user converted on
  (``model.group_weights``, the same the decisions use);
* M: a group's statistics are its members' counts summed with those weights.

Deterministic: it starts from a few partitions drawn by a generator seeded with the
data's size, plus the previous fit when there is one (so groups keep their identity
from one fit to the next), and keeps the start that explains the data best. Every
process fitting the same statistics gets the same groups. Pure Python; a fit over 1,000
users takes a fraction of a second and runs in processing, never on a request.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from rapport.decide.model import (
    CLUSTER_WEIGHT,
    VARIANT_DIMENSION,
    Candidate,
    Counts,
    Policy,
    RateModel,
    StatKey,
    Stats,
    group_model,
    memberships,
    population_model,
)

MIN_SUCCESSES = 1.0  # users without a conversion say nothing about their taste


def _groups(
    users: Sequence[Stats], weights_by_user: Sequence[Sequence[float]], k: int
) -> list[dict[StatKey, Counts]]:
    """M step: each group's statistics, its members' counts weighted by membership."""
    sums: list[dict[StatKey, list[float]]] = [{} for _ in range(k)]
    for stats, weights in zip(users, weights_by_user, strict=True):
        for group, weight in enumerate(weights):
            if weight < 1e-3:
                continue
            into = sums[group]
            for key, counts in stats.items():
                cell = into.get(key)
                if cell is None:
                    into[key] = [weight * counts.trials, weight * counts.successes]
                else:
                    cell[0] += weight * counts.trials
                    cell[1] += weight * counts.successes
    groups: list[dict[StatKey, Counts]] = []
    for group in range(k):
        stats_of = {key: Counts(t, s) for key, (t, s) in sums[group].items()}
        stats_of[CLUSTER_WEIGHT] = Counts(sum(w[group] for w in weights_by_user), 0.0)
        groups.append(stats_of)
    return groups


def groups_of_members(
    users: Sequence[Stats], weights_by_user: Sequence[Sequence[float]], k: int
) -> list[dict[StatKey, Counts]]:
    """The statistics of ``k`` groups whose members are given (each user's weight in
    each group), as a fit would store them: for diagnostics and tests."""
    return _groups(users, weights_by_user, k)


def _random_start(
    users: Sequence[Stats], k: int, rng: random.Random
) -> list[dict[StatKey, Counts]]:
    """Groups from a random partition of the users."""
    partition = []
    for _ in users:
        weights = [0.0] * k
        weights[rng.randrange(k)] = 1.0
        partition.append(weights)
    return _groups(users, partition, k)


def _profile(stats: Stats) -> dict[StatKey, float]:
    """A user's taste as a point: per label, its share of the user's conversions minus
    its share of their trials (what they converted on more often than they saw it)."""
    trials: dict[str, float] = {}
    wins: dict[str, float] = {}
    for (dimension, _), counts in stats.items():
        if dimension[:1] != "_":
            trials[dimension] = trials.get(dimension, 0.0) + counts.trials
            wins[dimension] = wins.get(dimension, 0.0) + counts.successes
    point = {}
    for key, counts in stats.items():
        dimension = key[0]
        if dimension[:1] != "_" and wins.get(dimension, 0.0) > 0.0:
            point[key] = counts.successes / wins[dimension] - counts.trials / trials[dimension]
    return point


def _distance(point: dict[StatKey, float], center: dict[StatKey, float]) -> float:
    total = 0.0
    for key in point.keys() | center.keys():
        difference = point.get(key, 0.0) - center.get(key, 0.0)
        total += difference * difference
    return total


def _kmeans_start(
    users: Sequence[Stats], k: int, rng: random.Random, rounds: int = 10
) -> list[dict[StatKey, Counts]]:
    """Groups from k-means on the users' taste points, seeded k-means++ style."""
    points = [_profile(u) for u in users]
    centers = [points[rng.randrange(len(points))]]
    while len(centers) < k:
        distances = [min(_distance(p, c) for c in centers) for p in points]
        if sum(distances) <= 0.0:
            break
        centers.append(points[rng.choices(range(len(points)), distances)[0]])
    assignment = [0] * len(points)
    for _ in range(rounds):
        assignment = [
            min(range(len(centers)), key=lambda c: _distance(p, centers[c])) for p in points
        ]
        for c in range(len(centers)):
            members = [p for p, a in zip(points, assignment, strict=True) if a == c]
            if members:
                keys = set().union(*members)
                centers[c] = {
                    key: sum(m.get(key, 0.0) for m in members) / len(members) for key in keys
                }
    partition = []
    for a in assignment:
        weights = [0.0] * k
        weights[a] = 1.0
        partition.append(weights)
    return _groups(users, partition, k)


def _em(
    users: Sequence[Stats],
    candidates: Sequence[Candidate],
    population: Stats,
    groups: Sequence[Stats],
    iterations: int,
    policy: Policy,
) -> tuple[list[dict[StatKey, Counts]], float]:
    """EM from ``groups``: the groups after it and the data's log-likelihood at the
    last E step."""
    k = len(groups)
    shared = population_model(candidates, population)
    current = [dict(g) for g in groups]
    total = -math.inf
    models: list[RateModel] = []
    by_user: list[list[float]] = []
    for _ in range(max(iterations, 1)):
        models = [group_model(candidates, g, shared) for g in current]
        rates = [m.log_rates() for m in models]
        weights = [max(g[CLUSTER_WEIGHT].trials, 1e-3) for g in current]
        by_user = []
        total = 0.0
        for user in users:
            logs = memberships(candidates, user, rates, weights, policy)
            top = max(logs)
            shares = [math.exp(x - top) for x in logs]
            norm = sum(shares)
            total += top + math.log(norm)
            by_user.append([share / norm for share in shares])
        current = _groups(users, by_user, k)
    return current, total


def _successes(stats: Stats) -> float:
    return sum(c.successes for key, c in stats.items() if key[0] == VARIANT_DIMENSION)


def fit(
    users: Sequence[Stats],
    candidates: Sequence[Candidate],
    population: Stats,
    *,
    k: int,
    previous: Sequence[Stats] = (),
    iterations: int = 10,
    restarts: int = 3,
    policy: Policy,
) -> list[dict[StatKey, Counts]] | None:
    """The groups' statistics; none (an empty list) when groups explain the users'
    records no better than the population does, by ``policy.group_min_gain`` nats per
    user (tastes are individual, or not yet clear); None when there are too few users
    with a conversion to tell anyone apart."""
    evidence = [u for u in users if _successes(u) >= MIN_SUCCESSES]
    if k < 2 or len(evidence) < 5 * k:
        return None
    rng = random.Random(len(evidence))
    starts: list[Sequence[Stats]] = [_kmeans_start(evidence, k, rng) for _ in range(restarts)]
    if len(previous) == k:
        starts.append(previous)
    best: list[dict[StatKey, Counts]] = []
    best_fit = -math.inf
    for start in starts:
        groups, total = _em(evidence, candidates, population, start, iterations, policy)
        if total > best_fit:
            best, best_fit = groups, total
    everyone = _groups(evidence, [[1.0]] * len(evidence), 1)
    _, alone = _em(evidence, candidates, population, everyone, 1, policy)
    if best_fit - alone < policy.group_min_gain * len(evidence):
        return []
    return best
