"""Simulated worlds: how much of the achievable lift do the agents capture?

A world is a surface with 27 variants (3 dimensions x 3 labels, full cross product) and
users with hidden tastes. Showing variant v to user u converts with probability

    p(u, v) = clip(base_rate + sum over v's dimensions d of effect[u][d][label of v on d],
                   floor, ceiling)

(2% to 30% by default): tastes are additive per label, the clip adds a little
non-additivity. Worlds differ in where tastes come from:

* ``clustered``: a few taste segments of unequal size (weights 1, 1/2, 1/3, ...); each
  effect is N(0, effect_sd) per segment, plus a small individual N(0, effect_sd / 4);
* ``individual``: every user's effects are drawn independently, N(0, effect_sd); the
  population average then says almost nothing about any one user.

Users arrive at random (each about ``arrivals_per_user`` times, interleaved); at each
arrival a strategy shows one variant, a conversion is drawn and the strategy learns from
it. Strategies: ``random``; ``oracle`` (the best variant for the user, knowing p);
``population`` (Thompson sampling over the 27 variants on population counts, i.e. the
best non-personalized bandit); ``agents`` (``rapport.decide.model.choose``, learning the
user's and the population's counts). All strategies see the same arrivals and the same
uniform draws (a conversion is ``draw < p``), so their differences are not luck.

The score is the mean p of what was shown over the last 30% of arrivals (the expected
conversion rate, which has the same mean as the realized one and less noise), and the
captured lift (agents - random) / (oracle - random).

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

WorldKind = Literal["clustered", "individual"]
WORLD_KINDS: tuple[WorldKind, ...] = ("clustered", "individual")
LABELS: dict[str, tuple[str, ...]] = {
    "offering": ("discount", "bundle", "free_shipping"),
    "tone": ("urgent", "friendly", "formal"),
    "layout": ("banner", "card", "modal"),
}
STRATEGIES = ("random", "oracle", "population", "agents")
TAIL = 0.3


@dataclass(frozen=True)
class WorldSpec:
    """Everything that defines a world; the same spec and seed give the same world."""

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
    """A generated world: candidates, hidden rates[user][variant], arrivals and draws."""

    spec: WorldSpec
    candidates: tuple[Candidate, ...]
    rates: tuple[tuple[float, ...], ...]
    arrivals: tuple[int, ...]
    draws: tuple[float, ...]


def all_candidates() -> tuple[Candidate, ...]:
    """The 27 variants, one per combination of labels, ids ``v00`` to ``v26``."""
    combinations = itertools.product(*LABELS.values())
    return tuple(
        Candidate(f"v{index:02d}", dict(zip(LABELS, labels, strict=True)))
        for index, labels in enumerate(combinations)
    )


Effects = dict[str, dict[str, float]]


def _random_effects(rng: random.Random, sd: float) -> Effects:
    return {d: {label: rng.gauss(0.0, sd) for label in labels} for d, labels in LABELS.items()}


def _user_effects(spec: WorldSpec, rng: random.Random) -> list[Effects]:
    """Hidden tastes: per segment plus a little noise (clustered) or per user (individual)."""
    if spec.kind == "individual":
        return [_random_effects(rng, spec.effect_sd) for _ in range(spec.users)]
    segments = [_random_effects(rng, spec.effect_sd) for _ in range(spec.segments)]
    weights = [1.0 / (index + 1) for index in range(spec.segments)]
    users: list[Effects] = []
    for _ in range(spec.users):
        segment = rng.choices(segments, weights)[0]
        noise = _random_effects(rng, spec.effect_sd / 4.0)
        users.append(
            {d: {lab: segment[d][lab] + noise[d][lab] for lab in LABELS[d]} for d in LABELS}
        )
    return users


def _rate(spec: WorldSpec, effects: Effects, candidate: Candidate) -> float:
    raw = spec.base_rate + sum(effects[d][label] for d, label in candidate.labels.items())
    return min(max(raw, spec.floor), spec.ceiling)


def make_world(spec: WorldSpec) -> World:
    """Generate tastes, arrivals and conversion draws from ``spec.seed``."""
    rng = random.Random(spec.seed)
    candidates = all_candidates()
    rates = tuple(
        tuple(_rate(spec, effects, candidate) for candidate in candidates)
        for effects in _user_effects(spec, rng)
    )
    total = spec.users * spec.arrivals_per_user
    arrivals = tuple(rng.randrange(spec.users) for _ in range(total))
    draws = tuple(rng.random() for _ in range(total))
    return World(spec, candidates, rates, arrivals, draws)


class Strategy(Protocol):
    """Shows a variant (its index) to a user and learns from the outcome."""

    def pick(self, user: int) -> int: ...

    def learn(self, user: int, variant: int, converted: bool) -> None: ...


@dataclass
class RandomStrategy:
    variants: int
    rng: random.Random

    def pick(self, user: int) -> int:
        return self.rng.randrange(self.variants)

    def learn(self, user: int, variant: int, converted: bool) -> None:
        return None


@dataclass
class OracleStrategy:
    rates: tuple[tuple[float, ...], ...]

    def pick(self, user: int) -> int:
        row = self.rates[user]
        return max(range(len(row)), key=row.__getitem__)

    def learn(self, user: int, variant: int, converted: bool) -> None:
        return None


@dataclass
class PopulationThompson:
    """Thompson sampling over the variants on shared counts: no personalization."""

    variants: int
    rng: random.Random
    trials: list[float] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.trials = [0.0] * self.variants
        self.successes = [0.0] * self.variants

    def pick(self, user: int) -> int:
        betavariate, trials, successes = self.rng.betavariate, self.trials, self.successes
        samples = [
            betavariate(1.0 + successes[v], 1.0 + trials[v] - successes[v])
            for v in range(self.variants)
        ]
        return max(range(self.variants), key=samples.__getitem__)

    def learn(self, user: int, variant: int, converted: bool) -> None:
        self.trials[variant] += 1.0
        self.successes[variant] += converted


@dataclass
class AgentStrategy:
    """``rapport.decide.model.choose`` with per-user and population counts."""

    candidates: tuple[Candidate, ...]
    rng: random.Random
    policy: Policy = DEFAULT_POLICY
    users: dict[int, dict[StatKey, Counts]] = field(default_factory=dict)
    population: dict[StatKey, Counts] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {c.variant_id: i for i, c in enumerate(self.candidates)}
        self._keys = [stat_keys(candidate) for candidate in self.candidates]

    def pick(self, user: int) -> int:
        stats = self.users.setdefault(user, {})
        ranked = choose(self.candidates, stats, self.population, rng=self.rng, policy=self.policy)
        return self.index[ranked[0][0]]

    def learn(self, user: int, variant: int, converted: bool) -> None:
        success = 1.0 if converted else 0.0
        for stats in (self.users.setdefault(user, {}), self.population):
            for key in self._keys[variant]:
                counts = stats.get(key)
                if counts is None:
                    stats[key] = Counts(1.0, success)
                else:
                    stats[key] = Counts(counts.trials + 1.0, counts.successes + success)


@dataclass(frozen=True)
class Outcome:
    """One strategy's conversion rate over the last 30% of arrivals."""

    strategy: str
    expected_rate: float  # mean hidden p of what was shown
    realized_rate: float  # conversions / arrivals


def run(world: World, strategy: Strategy, name: str) -> Outcome:
    """Play every arrival of the world with one strategy."""
    tail_start = int(len(world.arrivals) * (1.0 - TAIL))
    expected = realized = 0.0
    for step, (user, draw) in enumerate(zip(world.arrivals, world.draws, strict=True)):
        variant = strategy.pick(user)
        rate = world.rates[user][variant]
        converted = draw < rate
        strategy.learn(user, variant, converted)
        if step >= tail_start:
            expected += rate
            realized += converted
    count = len(world.arrivals) - tail_start
    return Outcome(name, expected / count, realized / count)


def make_strategy(name: str, world: World, policy: Policy) -> Strategy:
    """A fresh strategy, seeded from the world's seed (and its name, stably)."""
    rng = random.Random(f"{world.spec.seed}:{name}")
    variants = len(world.candidates)
    if name == "random":
        return RandomStrategy(variants, rng)
    if name == "oracle":
        return OracleStrategy(world.rates)
    if name == "population":
        return PopulationThompson(variants, rng)
    if name == "agents":
        return AgentStrategy(world.candidates, rng, policy)
    raise ValueError(f"unknown strategy {name!r}")


@dataclass(frozen=True)
class Report:
    """The outcomes of all strategies in one world."""

    spec: WorldSpec
    outcomes: dict[str, Outcome]

    def captured(self, strategy: str) -> float:
        """(strategy - random) / (oracle - random), on the expected rate."""
        random_rate = self.outcomes["random"].expected_rate
        span = self.outcomes["oracle"].expected_rate - random_rate
        return (self.outcomes[strategy].expected_rate - random_rate) / span


def evaluate(
    spec: WorldSpec, policy: Policy = DEFAULT_POLICY, strategies: Sequence[str] = STRATEGIES
) -> Report:
    """Generate the world and run each strategy in it."""
    world = make_world(spec)
    outcomes = {name: run(world, make_strategy(name, world, policy), name) for name in strategies}
    return Report(spec, outcomes)


def _format(report: Report) -> str:
    rates = "  ".join(
        f"{name} {outcome.expected_rate:6.2%}" for name, outcome in report.outcomes.items()
    )
    captured = "  ".join(
        f"{name} {report.captured(name):5.2f}" for name in ("population", "agents")
    )
    return f"{report.spec.kind:<10} seed {report.spec.seed}  {rates}  | captured: {captured}"


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> None:
    """Print the full-size figures for every world and seed."""
    parser = argparse.ArgumentParser(prog="python -m rapport.decide.simulate")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--users", type=int, default=WorldSpec.users)
    parser.add_argument("--arrivals", type=int, default=WorldSpec.arrivals_per_user)
    args = parser.parse_args(argv)
    out(f"policy {DEFAULT_POLICY}")
    for kind in WORLD_KINDS:
        for seed in args.seeds:
            started = time.perf_counter()
            spec = WorldSpec(kind, seed, users=args.users, arrivals_per_user=args.arrivals)
            report = evaluate(spec)
            out(f"{_format(report)}  ({time.perf_counter() - started:.1f}s)")


if __name__ == "__main__":
    main()
