"""Simulated worlds: how much of the achievable lift do the agents capture?

A world is a surface with 27 variants (3 dimensions x 3 labels, full cross product) and
users with hidden tastes. Showing variant v to user u in context c converts with

    p(u, c, v) = clip(base_rate + sum over v's labels l of (taste[u][l] + mood[c][l]),
                      floor, ceiling)

(2% to 30% by default): effects are additive per label, the clip adds a little
non-additivity. Worlds differ in where tastes come from (effects are N(0, effect_sd)):

* ``clustered``: a few taste segments of unequal size (weights 1, 1/2, 1/3, ...), each
  user being their segment's tastes plus a small individual N(0, effect_sd / 4);
* ``individual``: every user's tastes drawn independently, so the population average
  says almost nothing about any one user;
* ``contextual``: individual tastes at 70% of the scale, plus a ``mood`` per day part
  shared by everyone (morning, afternoon, evening), also at 70%: what a context-specific
  population prior can know before the user says anything.

Users arrive at random (each about ``arrivals_per_user`` times, interleaved, in a
random day part); at each arrival a strategy shows one variant, a conversion is drawn
and the strategy learns from it. Strategies: ``random``; ``oracle`` (the best variant,
knowing p); ``population`` (Thompson sampling over the 27 variants on population counts
per context: the best non-personalized bandit); ``agents`` (``rapport.decide.model.
choose`` on the user's, the population's and the context's counts); in the contextual
world also ``agents_no_context`` (the same without context statistics); in the
individual world also ``ideal`` (a per-user Bayesian regression that knows the world's
model: the most that learning one user at a time can capture). All strategies
see the same arrivals and the same uniform draws (a conversion is ``draw < p``), so
their differences are not luck.

The score is the mean p of what was shown over the last 30% of arrivals (the expected
conversion rate: same mean as the realized one, less noise), and the captured lift
(strategy - random) / (oracle - random); ``overall`` is the same over all arrivals, which
includes what learning cost on the way.

Run ``python -m rapport.decide.simulate`` for the full-size figures.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from rapport.decide.model import (
    DEFAULT_POLICY,
    Candidate,
    Counts,
    Policy,
    StatKey,
    choose,
    stat_keys,
)

WorldKind = Literal["clustered", "individual", "contextual"]
WORLD_KINDS: tuple[WorldKind, ...] = ("clustered", "individual", "contextual")
LABELS: dict[str, tuple[str, ...]] = {
    "offering": ("discount", "bundle", "free_shipping"),
    "tone": ("urgent", "friendly", "formal"),
    "layout": ("banner", "card", "modal"),
}
DAYPARTS = ("daypart:morning", "daypart:afternoon", "daypart:evening")
STRATEGIES = ("random", "oracle", "population", "agents")
EXTRA_STRATEGIES: dict[WorldKind, tuple[str, ...]] = {
    "clustered": (),
    "individual": ("ideal",),
    "contextual": ("agents_no_context",),
}
TAIL = 0.3

Effects = dict[StatKey, float]


@dataclass(frozen=True)
class WorldSpec:
    """Everything that defines a world; the same spec gives the same world."""

    kind: WorldKind
    seed: int = 0
    users: int = 300
    arrivals_per_user: int = 60
    base_rate: float = 0.08
    effect_sd: float = 0.05
    floor: float = 0.02
    ceiling: float = 0.30
    segments: int = 4


@dataclass(frozen=True)
class World:
    """A generated world. ``rates[user][context][variant]`` is the hidden p."""

    spec: WorldSpec
    candidates: tuple[Candidate, ...]
    contexts: tuple[str, ...]  # empty when the world has no contexts (one implicit)
    rates: tuple[tuple[tuple[float, ...], ...], ...]
    arrivals: tuple[tuple[int, int], ...]  # (user, context) of every arrival
    draws: tuple[float, ...]  # a uniform draw per arrival: converted = draw < p


def all_candidates() -> tuple[Candidate, ...]:
    """The 27 variants, one per combination of labels, ids ``v00`` to ``v26``."""
    combinations = itertools.product(*LABELS.values())
    return tuple(
        Candidate(f"v{index:02d}", dict(zip(LABELS, labels, strict=True)))
        for index, labels in enumerate(combinations)
    )


def _effects(rng: random.Random, sd: float) -> Effects:
    return {(d, label): rng.gauss(0.0, sd) for d, labels in LABELS.items() for label in labels}


def _add(first: Effects, second: Effects) -> Effects:
    return {key: value + second[key] for key, value in first.items()}


def _tastes(spec: WorldSpec, rng: random.Random) -> list[Effects]:
    """Hidden tastes: a segment's plus a little noise (clustered), or each user's own."""
    if spec.kind == "individual":
        return [_effects(rng, spec.effect_sd) for _ in range(spec.users)]
    if spec.kind == "contextual":
        return [_effects(rng, 0.7 * spec.effect_sd) for _ in range(spec.users)]
    segments = [_effects(rng, spec.effect_sd) for _ in range(spec.segments)]
    weights = [1.0 / (index + 1) for index in range(spec.segments)]
    return [
        _add(rng.choices(segments, weights)[0], _effects(rng, spec.effect_sd / 4.0))
        for _ in range(spec.users)
    ]


def _rate(spec: WorldSpec, effects: Effects, candidate: Candidate) -> float:
    raw = spec.base_rate + sum(effects[key] for key in candidate.labels.items())
    return min(max(raw, spec.floor), spec.ceiling)


def make_world(spec: WorldSpec) -> World:
    """Generate tastes, moods, arrivals and conversion draws from ``spec.seed``."""
    rng = random.Random(spec.seed)
    candidates = all_candidates()
    tastes = _tastes(spec, rng)
    contexts = DAYPARTS if spec.kind == "contextual" else ()
    moods = [_effects(rng, 0.7 * spec.effect_sd) for _ in contexts] or [_effects(rng, 0.0)]
    rates = tuple(
        tuple(tuple(_rate(spec, _add(taste, mood), c) for c in candidates) for mood in moods)
        for taste in tastes
    )
    total = spec.users * spec.arrivals_per_user
    arrivals = tuple((rng.randrange(spec.users), rng.randrange(len(moods))) for _ in range(total))
    draws = tuple(rng.random() for _ in range(total))
    return World(spec, candidates, contexts, rates, arrivals, draws)


class Strategy(Protocol):
    """Shows a variant (its index) to a user in a context and learns from the outcome."""

    def pick(self, user: int, context: int) -> int: ...

    def learn(self, user: int, context: int, variant: int, converted: bool) -> None: ...


@dataclass
class RandomStrategy:
    variants: int
    rng: random.Random

    def pick(self, user: int, context: int) -> int:
        return self.rng.randrange(self.variants)

    def learn(self, user: int, context: int, variant: int, converted: bool) -> None:
        return None


@dataclass
class OracleStrategy:
    rates: tuple[tuple[tuple[float, ...], ...], ...]

    def pick(self, user: int, context: int) -> int:
        row = self.rates[user][context]
        return max(range(len(row)), key=row.__getitem__)

    def learn(self, user: int, context: int, variant: int, converted: bool) -> None:
        return None


@dataclass
class PopulationThompson:
    """Thompson sampling over the variants on counts shared by everyone (per context)."""

    variants: int
    rng: random.Random
    counts: dict[int, list[list[float]]] = field(default_factory=dict)

    def _table(self, context: int) -> list[list[float]]:
        return self.counts.setdefault(context, [[0.0, 0.0] for _ in range(self.variants)])

    def pick(self, user: int, context: int) -> int:
        betavariate = self.rng.betavariate
        samples = [betavariate(1.0 + s, 1.0 + n - s) for n, s in self._table(context)]
        return max(range(self.variants), key=samples.__getitem__)

    def learn(self, user: int, context: int, variant: int, converted: bool) -> None:
        row = self._table(context)[variant]
        row[0] += 1.0
        row[1] += converted


@dataclass
class IdealIndividual:
    """The best a learner of one user at a time can hope for: it knows the world's model.

    A Bayesian linear regression per user on the 9 label indicators, with the true prior
    of a label effect, N(0, effect_sd^2), the true base rate and a Gaussian approximation
    of the Bernoulli noise (variance base (1 - base)); Thompson sampling from its posterior
    with the same ``exploration`` as the agents. It shares nothing between users, so it is
    only an upper reference in the ``individual`` world, where there is nothing to share.
    """

    candidates: tuple[Candidate, ...]
    spec: WorldSpec
    rng: random.Random
    exploration: float
    users: dict[int, tuple[list[list[float]], list[float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        features = [(dimension, label) for dimension, labels in LABELS.items() for label in labels]
        position = {key: index for index, key in enumerate(features)}
        self._active = [[position[key] for key in c.labels.items()] for c in self.candidates]
        self._size = len(features)
        self._noise = self.spec.base_rate * (1.0 - self.spec.base_rate)

    def _state(self, user: int) -> tuple[list[list[float]], list[float]]:
        if user not in self.users:
            prior = 1.0 / self.spec.effect_sd**2
            precision = [
                [prior if i == j else 0.0 for j in range(self._size)] for i in range(self._size)
            ]
            self.users[user] = (precision, [0.0] * self._size)
        return self.users[user]

    def pick(self, user: int, context: int) -> int:
        precision, vector = self._state(user)
        lower = _cholesky(precision)
        mean = _solve_upper(lower, _solve_lower(lower, vector))
        scale = self.exploration**0.5
        noise = _solve_upper(lower, [self.rng.gauss(0.0, scale) for _ in range(self._size)])
        effects = [m + n for m, n in zip(mean, noise, strict=True)]
        scores = [sum(effects[i] for i in active) for active in self._active]
        return max(range(len(scores)), key=scores.__getitem__)

    def learn(self, user: int, context: int, variant: int, converted: bool) -> None:
        precision, vector = self._state(user)
        active = self._active[variant]
        residual = (1.0 if converted else 0.0) - self.spec.base_rate
        for i in active:
            vector[i] += residual / self._noise
            for j in active:
                precision[i][j] += 1.0 / self._noise


def _cholesky(matrix: list[list[float]]) -> list[list[float]]:
    """L with L L^T = matrix (symmetric positive definite)."""
    size = len(matrix)
    lower = [[0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1):
            total = matrix[i][j] - sum(lower[i][k] * lower[j][k] for k in range(j))
            lower[i][j] = total**0.5 if i == j else total / lower[j][j]
    return lower


def _solve_lower(lower: list[list[float]], vector: list[float]) -> list[float]:
    """x with L x = vector."""
    result: list[float] = []
    for i, row in enumerate(lower):
        result.append((vector[i] - sum(row[k] * result[k] for k in range(i))) / row[i])
    return result


def _solve_upper(lower: list[list[float]], vector: list[float]) -> list[float]:
    """x with L^T x = vector (so x = L^-T vector: a N(0, P^-1) draw when vector ~ N(0, I))."""
    size = len(lower)
    result = [0.0] * size
    for i in reversed(range(size)):
        total = vector[i] - sum(lower[k][i] * result[k] for k in range(i + 1, size))
        result[i] = total / lower[i][i]
    return result


def record(stats: dict[StatKey, Counts], keys: Sequence[StatKey], converted: bool) -> None:
    """Count one trial (and a success if converted) on each key."""
    success = 1.0 if converted else 0.0
    for key in keys:
        counts = stats.get(key)
        if counts is None:
            stats[key] = Counts(1.0, success)
        else:
            stats[key] = Counts(counts.trials + 1.0, counts.successes + success)


@dataclass
class AgentStrategy:
    """``rapport.decide.model.choose`` on per-user, population and per-context counts."""

    candidates: tuple[Candidate, ...]
    rng: random.Random
    policy: Policy = DEFAULT_POLICY
    use_contexts: bool = True
    users: dict[int, dict[StatKey, Counts]] = field(default_factory=dict)
    population: dict[StatKey, Counts] = field(default_factory=dict)
    contexts: dict[int, dict[StatKey, Counts]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {c.variant_id: i for i, c in enumerate(self.candidates)}
        self._keys = [stat_keys(candidate) for candidate in self.candidates]

    def pick(self, user: int, context: int) -> int:
        ranked = choose(
            self.candidates,
            self.users.setdefault(user, {}),
            self.population,
            [self.contexts.setdefault(context, {})] if self.use_contexts else (),
            rng=self.rng,
            policy=self.policy,
        )
        return self._index[ranked[0][0]]

    def learn(self, user: int, context: int, variant: int, converted: bool) -> None:
        """Shared statistics are replaced, never mutated: the model caches what it derives
        from them by identity, as the engine's per-process caches allow."""
        keys = self._keys[variant]
        record(self.users.setdefault(user, {}), keys, converted)
        self.population = dict(self.population)
        record(self.population, keys, converted)
        if self.use_contexts:
            self.contexts[context] = dict(self.contexts.get(context, {}))
            record(self.contexts[context], keys, converted)


def make_strategy(name: str, world: World, policy: Policy = DEFAULT_POLICY) -> Strategy:
    """A fresh strategy, seeded from the world's seed and its name."""
    rng = random.Random(f"{world.spec.seed}:{name}")
    variants = len(world.candidates)
    if name == "random":
        return RandomStrategy(variants, rng)
    if name == "oracle":
        return OracleStrategy(world.rates)
    if name == "population":
        return PopulationThompson(variants, rng)
    if name == "ideal":
        return IdealIndividual(world.candidates, world.spec, rng, policy.exploration)
    if name in ("agents", "agents_no_context"):
        contextual = name == "agents" and bool(world.contexts)
        return AgentStrategy(world.candidates, rng, policy, use_contexts=contextual)
    raise ValueError(f"unknown strategy {name!r}")


@dataclass(frozen=True)
class Outcome:
    """One strategy's expected conversion rates: last 30% of arrivals, and all of them."""

    strategy: str
    tail_rate: float
    overall_rate: float
    realized_tail_rate: float  # conversions actually drawn in the last 30%


def run(world: World, strategy: Strategy, name: str) -> Outcome:
    """Play every arrival of the world with one strategy."""
    tail_start = int(len(world.arrivals) * (1.0 - TAIL))
    tail = realized = overall = 0.0
    for step, ((user, context), draw) in enumerate(zip(world.arrivals, world.draws, strict=True)):
        variant = strategy.pick(user, context)
        rate = world.rates[user][context][variant]
        converted = draw < rate
        strategy.learn(user, context, variant, converted)
        overall += rate
        if step >= tail_start:
            tail += rate
            realized += converted
    count = len(world.arrivals) - tail_start
    return Outcome(name, tail / count, overall / len(world.arrivals), realized / count)


@dataclass(frozen=True)
class Report:
    """The outcomes of several strategies in one world."""

    spec: WorldSpec
    outcomes: dict[str, Outcome]

    def captured(self, strategy: str, *, overall: bool = False) -> float:
        """(strategy - random) / (oracle - random) on the last 30% (or on all arrivals)."""

        def rate(name: str) -> float:
            outcome = self.outcomes[name]
            return outcome.overall_rate if overall else outcome.tail_rate

        return (rate(strategy) - rate("random")) / (rate("oracle") - rate("random"))


def evaluate(
    spec: WorldSpec, policy: Policy = DEFAULT_POLICY, strategies: Sequence[str] = ()
) -> Report:
    """Generate the world and run each strategy in it (by default, all that apply)."""
    world = make_world(spec)
    if not strategies:
        strategies = STRATEGIES + EXTRA_STRATEGIES[spec.kind]
    outcomes = {name: run(world, make_strategy(name, world, policy), name) for name in strategies}
    return Report(spec, outcomes)


def format_report(report: Report) -> str:
    """One line: tail rates, then captured lift (last 30% / all arrivals) per learner."""
    rates = " ".join(f"{name} {o.tail_rate:6.2%}" for name, o in report.outcomes.items())
    learners = [name for name in report.outcomes if name not in ("random", "oracle")]
    captured = " ".join(
        f"{name} {report.captured(name):.2f}/{report.captured(name, overall=True):.2f}"
        for name in learners
    )
    return f"{report.spec.kind:<10} seed {report.spec.seed} | {rates} | captured {captured}"


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> None:
    """Print the figures for every world and seed."""
    parser = argparse.ArgumentParser(prog="python -m rapport.decide.simulate")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--users", type=int, default=WorldSpec.users)
    parser.add_argument("--arrivals", type=int, default=WorldSpec.arrivals_per_user)
    parser.add_argument("--worlds", nargs="+", choices=WORLD_KINDS, default=list(WORLD_KINDS))
    args = parser.parse_args(argv)
    out(f"{DEFAULT_POLICY}; {args.users} users x {args.arrivals} arrivals")
    out("tail rates are the expected conversion rate over the last 30% of arrivals;")
    out("captured = (x - random) / (oracle - random), last 30% / all arrivals")
    for kind in args.worlds:
        for seed in args.seeds:
            started = time.perf_counter()
            spec = WorldSpec(kind, seed, users=args.users, arrivals_per_user=args.arrivals)
            report = evaluate(spec)
            out(f"{format_report(report)} ({time.perf_counter() - started:.1f}s)")


if __name__ == "__main__":
    main()
