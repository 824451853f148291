"""Simulated populations for the personalization benchmark, and two offline peers.

Nothing here talks to a server: the worlds, the oracle and random baselines and the
peer learners run in-process, so they can be checked (and unit-tested) on their own.

The content
-----------
27 variants: every combination of three labels on each of three dimensions,

- ``offering``: discount, free_shipping, bundle
- ``tone``: urgent, friendly, informative
- ``image``: people, product, lifestyle

The users
---------
Each user has a hidden *taste score* in [0, 1] for every label of every dimension, a
hidden base propensity, a primary device, and (in the clustered world) a segment. The
probability that user ``u`` converts when shown variant ``v`` in context ``c`` is

    p(u, v, c) = sigmoid(base_u + 0.9 * (s_u[offering(v)] + s_u[tone(v)] + s_u[image(v)])
                         + shift(v, c))

with ``base_u`` uniform in [-3.9, -3.7]. A user's favourite label of a dimension
scores about 1, the second about 0.35, the third about 0, so a user's worst variant
converts at about 2 % and their best at about 28-30 %; showing a random variant
converts at about 8 %. ``shift`` is zero except in the clustered world, where in the
evening (18:00-23:59) the ``lifestyle`` image gains 0.15 (a small, population-wide
change of taste with the hour of the day).

Two worlds, each with a fixed seed:

- **clustered**: four taste segments of 40 / 30 / 20 / 10 % of the users, each with a
  fixed ranking of labels per dimension (``SEGMENTS``); a user's scores are their
  segment's (1, 0.35, 0) plus Gaussian noise (sd 0.08), clipped to [0, 1]. Segments
  use devices differently, so the device is a (weak) clue to the segment.
- **individual**: every user's tastes drawn independently: per dimension the favourite
  label is drawn with probabilities (0.5, 0.3, 0.2) (so the population leans a little
  towards the first labels), the second uniformly among the other two; scores are
  uniform in [0.75, 1], [0.2, 0.5] and [0, 0.1]. The device says nothing about tastes.

Arrivals
--------
Arrivals come in rounds: in each round every user arrives at most once (with
probability ``presence``), in a random order. An arrival carries its context (the
device, the user's primary one 80 % of the time; the hour of the day, drawn with an
evening peak) and one uniform number in [0, 1): whoever chooses variant ``v`` for that
arrival records a conversion when the number is below ``p(u, v, c)``. Every learner
sees the same arrivals with the same numbers (common random numbers), so their figures
differ by their choices, not by luck of the draws.

Figures
-------
Learners are compared on the last 30 % of the arrivals (after learning): the *expected*
conversion rate (mean hidden probability of the variant chosen: the same quantity as the
random and oracle baselines, with no draw noise), the *realized* rate (conversions
actually drawn), and the **captured lift** ``(learner - random) / (oracle - random)``
on expected rates, where *random* shows a uniformly random variant (mean of the 27
probabilities) and the *oracle* shows each arrival its best variant in its context.

Peers
-----
Both learn from the same feedback rapport gets, with the same delay: decisions within
a round use what was learned up to the previous round.

- ``ThompsonPeer``: a non-personalized Thompson sampler, one Beta(1, 1) posterior per
  variant.
- ``VowpalPeer``: a Vowpal Wabbit contextual bandit (``--cb_explore_adf``) with the
  user id, device and day-part in a shared namespace ``U`` crossed (``-q UA``) with the
  variant's labels in the action namespace ``A``; cost is minus the conversion.

And one reference that is not a peer: ``LabelThompsonReference``, an offline model of
the design rapport's agents follow (per-user, per-dimension label posteriors shrunk
toward the population's, Thompson decisions), to tell what that design can reach in a
world apart from what the server's implementation reaches.
"""

from __future__ import annotations

import importlib
import itertools
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

DIMENSIONS: dict[str, tuple[str, str, str]] = {
    "offering": ("discount", "free_shipping", "bundle"),
    "tone": ("urgent", "friendly", "informative"),
    "image": ("people", "product", "lifestyle"),
}
DEVICES = ("mobile", "desktop", "tablet")
BASE_LOGIT = (-3.9, -3.7)
TASTE_WEIGHT = 0.9
EVENING_LIFESTYLE_SHIFT = 0.15
# Arrivals per hour of the day (relative): quiet nights, an evening peak.
HOURLY = (1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 5, 5, 4, 4, 4, 5, 6, 7, 7, 6, 4, 2)
EVALUATED_SHARE = 0.3
SEEDS = {"clustered": 20261101, "individual": 20261102}

# Clustered world: (share of users, device mix (mobile, desktop, tablet), and per
# dimension the labels from favourite to least liked).
SEGMENTS: tuple[tuple[float, tuple[float, float, float], dict[str, tuple[str, str, str]]], ...] = (
    (
        0.4,
        (0.8, 0.15, 0.05),
        {
            "offering": ("discount", "bundle", "free_shipping"),
            "tone": ("urgent", "friendly", "informative"),
            "image": ("people", "lifestyle", "product"),
        },
    ),
    (
        0.3,
        (0.25, 0.65, 0.1),
        {
            "offering": ("free_shipping", "discount", "bundle"),
            "tone": ("informative", "friendly", "urgent"),
            "image": ("product", "people", "lifestyle"),
        },
    ),
    (
        0.2,
        (0.45, 0.2, 0.35),
        {
            "offering": ("bundle", "free_shipping", "discount"),
            "tone": ("friendly", "informative", "urgent"),
            "image": ("lifestyle", "product", "people"),
        },
    ),
    (
        0.1,
        (0.6, 0.3, 0.1),
        {
            "offering": ("discount", "free_shipping", "bundle"),
            "tone": ("friendly", "urgent", "informative"),
            "image": ("lifestyle", "people", "product"),
        },
    ),
)


@dataclass(frozen=True)
class Variant:
    name: str
    labels: dict[str, str]


VARIANTS: tuple[Variant, ...] = tuple(
    Variant(
        name=f"{offering}-{tone}-{image}",
        labels={"offering": offering, "tone": tone, "image": image},
    )
    for offering, tone, image in itertools.product(*DIMENSIONS.values())
)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def daypart(hour: int) -> str:
    """The part of the day an hour belongs to (a coarse context feature)."""
    if hour < 6:
        return "night"
    if hour < 12:
        return "morning"
    if hour < 18:
        return "afternoon"
    return "evening"


@dataclass(frozen=True)
class User:
    id: str
    base: float
    # dimension -> label -> hidden taste score in [0, 1]
    taste: dict[str, dict[str, float]]
    device: str
    segment: int | None = None


@dataclass(frozen=True)
class Arrival:
    index: int
    round: int
    user: int
    device: str
    hour: int
    # Converts whoever shows a variant whose hidden probability is above this number.
    uniform: float


@dataclass(frozen=True)
class World:
    name: str
    users: tuple[User, ...]
    evening_lifestyle: float = 0.0
    seed: int = 0

    def probability(self, user: int, variant: int, device: str, hour: int) -> float:
        """The hidden conversion probability of showing ``variant`` to ``user``."""
        person = self.users[user]
        labels = VARIANTS[variant].labels
        logit = person.base + TASTE_WEIGHT * sum(
            person.taste[dim][label] for dim, label in labels.items()
        )
        if hour >= 18 and labels["image"] == "lifestyle":
            logit += self.evening_lifestyle
        return sigmoid(logit)

    def probabilities(self, arrival: Arrival) -> list[float]:
        """The hidden probability of every variant for one arrival."""
        return [
            self.probability(arrival.user, v, arrival.device, arrival.hour)
            for v in range(len(VARIANTS))
        ]

    def arrivals(
        self, rounds: int, presence: float = 0.9, seed: int | None = None
    ) -> list[Arrival]:
        """The arrival stream: ``rounds`` rounds, each user at most once per round."""
        rng = random.Random(self.seed + 1 if seed is None else seed)
        out: list[Arrival] = []
        order = list(range(len(self.users)))
        for round_ in range(rounds):
            rng.shuffle(order)
            for user in order:
                if rng.random() >= presence:
                    continue
                primary = self.users[user].device
                device = primary if rng.random() < 0.8 else rng.choice(DEVICES)
                hour = rng.choices(range(24), weights=HOURLY)[0]
                out.append(Arrival(len(out), round_, user, device, hour, rng.random()))
        return out


def _noisy(rng: random.Random, ranking: Sequence[str], noise: float) -> dict[str, float]:
    ideal = (1.0, 0.35, 0.0)
    return {
        label: min(1.0, max(0.0, score + rng.gauss(0.0, noise)))
        for label, score in zip(ranking, ideal, strict=True)
    }


def clustered_world(users: int = 300, seed: int = SEEDS["clustered"]) -> World:
    """A few taste segments (``SEGMENTS``); the device hints at the segment."""
    rng = random.Random(seed)
    shares = [share for share, _, _ in SEGMENTS]
    people = []
    for i in range(users):
        segment = rng.choices(range(len(SEGMENTS)), weights=shares)[0]
        _, devices, rankings = SEGMENTS[segment]
        taste = {dim: _noisy(rng, rankings[dim], 0.08) for dim in DIMENSIONS}
        people.append(
            User(
                id=f"u{i}",
                base=rng.uniform(*BASE_LOGIT),
                taste=taste,
                device=rng.choices(DEVICES, weights=devices)[0],
                segment=segment,
            )
        )
    return World("clustered", tuple(people), EVENING_LIFESTYLE_SHIFT, seed)


def individual_world(users: int = 300, seed: int = SEEDS["individual"]) -> World:
    """Every user's tastes drawn independently; the device says nothing about them."""
    rng = random.Random(seed)
    people = []
    for i in range(users):
        taste: dict[str, dict[str, float]] = {}
        for dim, labels in DIMENSIONS.items():
            favourite = rng.choices(labels, weights=(0.5, 0.3, 0.2))[0]
            rest = [label for label in labels if label != favourite]
            rng.shuffle(rest)
            taste[dim] = {
                favourite: rng.uniform(0.75, 1.0),
                rest[0]: rng.uniform(0.2, 0.5),
                rest[1]: rng.uniform(0.0, 0.1),
            }
        people.append(
            User(
                id=f"u{i}",
                base=rng.uniform(*BASE_LOGIT),
                taste=taste,
                device=rng.choices(DEVICES, weights=(0.6, 0.3, 0.1))[0],
            )
        )
    return World("individual", tuple(people), 0.0, seed)


WORLDS: dict[str, Callable[[int], World]] = {
    "clustered": clustered_world,
    "individual": individual_world,
}


# ---------------------------------------------------------------------------- figures


@dataclass
class Outcome:
    """What a learner did for one arrival."""

    variant: int
    probability: float
    converted: bool
    excluded: bool = False  # e.g. a holdout arrival: not the learner's choice


@dataclass(frozen=True)
class Figures:
    """A learner's figures over the evaluated (last) share of the arrivals."""

    arrivals: int
    expected: float
    realized: float
    random: float
    oracle: float
    excluded: int = 0

    @property
    def captured(self) -> float:
        """``(learner - random) / (oracle - random)`` on expected rates."""
        return (self.expected - self.random) / (self.oracle - self.random)


def evaluated(arrivals: Sequence[Arrival], share: float = EVALUATED_SHARE) -> range:
    """The indices of the arrivals a learner is judged on: the last ``share``."""
    start = len(arrivals) - math.ceil(share * len(arrivals))
    return range(start, len(arrivals))


def baselines(world: World, arrivals: Iterable[Arrival]) -> tuple[float, float, int]:
    """Mean random-choice and oracle conversion probabilities over ``arrivals``."""
    total_random = total_oracle = 0.0
    n = 0
    for arrival in arrivals:
        probabilities = world.probabilities(arrival)
        total_random += sum(probabilities) / len(probabilities)
        total_oracle += max(probabilities)
        n += 1
    return total_random / max(n, 1), total_oracle / max(n, 1), n


def figures(
    world: World,
    arrivals: Sequence[Arrival],
    outcomes: Sequence[Outcome],
    share: float = EVALUATED_SHARE,
) -> Figures:
    """Judge ``outcomes`` (one per arrival) on the last ``share`` of the arrivals;
    excluded outcomes count neither for the learner nor for the baselines."""
    window = evaluated(arrivals, share)
    kept = [i for i in window if not outcomes[i].excluded]
    random_rate, oracle_rate, n = baselines(world, (arrivals[i] for i in kept))
    return Figures(
        arrivals=n,
        expected=sum(outcomes[i].probability for i in kept) / max(n, 1),
        realized=sum(outcomes[i].converted for i in kept) / max(n, 1),
        random=random_rate,
        oracle=oracle_rate,
        excluded=len(window) - len(kept),
    )


# ------------------------------------------------------------------------------ peers


class Learner(Protocol):
    name: str

    def choose(self, arrival: Arrival, world: World) -> tuple[int, float]:
        """The variant to show and the probability with which it was chosen."""
        ...

    def learn(self, feedback: Sequence[tuple[Arrival, int, float, bool]], world: World) -> None:
        """Learn from a round's (arrival, variant, probability, converted)."""
        ...


@dataclass
class ThompsonPeer:
    """Non-personalized Thompson sampling: one Beta posterior per variant."""

    seed: int = 7
    name: str = "Thompson sampler, not personalized"
    successes: list[float] = field(default_factory=lambda: [1.0] * len(VARIANTS))
    failures: list[float] = field(default_factory=lambda: [1.0] * len(VARIANTS))

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def choose(self, arrival: Arrival, world: World) -> tuple[int, float]:
        samples = [
            self.rng.betavariate(a, b) for a, b in zip(self.successes, self.failures, strict=True)
        ]
        return max(range(len(samples)), key=samples.__getitem__), 1.0

    def learn(self, feedback: Sequence[tuple[Arrival, int, float, bool]], world: World) -> None:
        for _, variant, _, converted in feedback:
            if converted:
                self.successes[variant] += 1
            else:
                self.failures[variant] += 1


# squarecb's default gamma_scale (10) explores too long for ~40 visits per user; 100 did
# best of 10, 30, 100, 300 and 1000 in both worlds (and better than --epsilon 0.05/0.1).
VW_ARGS = "--cb_explore_adf -q UA --squarecb --gamma_scale 100 --quiet"


def _vw_action_lines() -> list[str]:
    return [
        "|A " + " ".join(f"{dim}={label}" for dim, label in variant.labels.items())
        for variant in VARIANTS
    ]


class VowpalPeer:
    """A Vowpal Wabbit contextual bandit over the 27 variants (ADF text format)."""

    def __init__(self, arguments: str = VW_ARGS, seed: int = 11) -> None:
        pyvw: Any = importlib.import_module("vowpalwabbit")
        self.arguments = arguments
        self.name = f"Vowpal Wabbit {arguments.replace(' --quiet', '')}"
        self.vw: Any = pyvw.Workspace(f"{arguments} --random_seed {seed}")
        self.rng = random.Random(seed)
        self.actions = _vw_action_lines()

    def _shared(self, arrival: Arrival, world: World) -> str:
        user = world.users[arrival.user].id
        return f"shared |U user={user} device={arrival.device} daypart={daypart(arrival.hour)}"

    def choose(self, arrival: Arrival, world: World) -> tuple[int, float]:
        pmf: list[float] = self.vw.predict([self._shared(arrival, world), *self.actions])
        draw = self.rng.random() * sum(pmf)
        for action, probability in enumerate(pmf):
            draw -= probability
            if draw < 0:
                return action, probability
        return len(pmf) - 1, pmf[-1]

    def learn(self, feedback: Sequence[tuple[Arrival, int, float, bool]], world: World) -> None:
        for arrival, variant, probability, converted in feedback:
            lines = [self._shared(arrival, world), *self.actions]
            cost = -1.0 if converted else 0.0
            lines[variant + 1] = f"0:{cost:g}:{max(probability, 1e-6):.6f} {lines[variant + 1]}"
            self.vw.learn(lines)

    def close(self) -> None:
        self.vw.finish()


class LabelThompsonReference:
    """Not a peer: an offline model of the design rapport's agents follow (DESIGN.md),
    to tell what that design can reach in a world from what an implementation reaches.

    Per user, per dimension, a Beta posterior per label whose prior is the population's
    posterior for that label scaled to ``strength`` pseudo-observations; a decision is a
    Thompson sample per dimension; a conversion (or not) is credited to each label of
    the variant shown.
    """

    def __init__(self, strength: float = 2.0, seed: int = 3) -> None:
        self.name = "reference: per-user label Thompson (offline model of rapport's design)"
        self.strength = strength
        self.rng = random.Random(seed)
        self.population = {(d, label): [0, 0] for d, ls in DIMENSIONS.items() for label in ls}
        self.users: dict[tuple[int, str, str], list[int]] = {}
        self.index = {tuple(v.labels.values()): i for i, v in enumerate(VARIANTS)}

    def choose(self, arrival: Arrival, world: World) -> tuple[int, float]:
        picked = []
        for dim, labels in DIMENSIONS.items():
            samples = []
            for label in labels:
                wins, shown = self.population[(dim, label)]
                mean = (wins + 1) / (shown + 2)
                own_wins, own_shown = self.users.get((arrival.user, dim, label), (0, 0))
                alpha = 1 + self.strength * mean + own_wins
                beta = 1 + self.strength * (1 - mean) + own_shown - own_wins
                samples.append((self.rng.betavariate(alpha, beta), label))
            picked.append(max(samples)[1])
        return self.index[tuple(picked)], 1.0

    def learn(self, feedback: Sequence[tuple[Arrival, int, float, bool]], world: World) -> None:
        for arrival, variant, _, converted in feedback:
            for dim, label in VARIANTS[variant].labels.items():
                self.population[(dim, label)][0] += converted
                self.population[(dim, label)][1] += 1
                own = self.users.setdefault((arrival.user, dim, label), [0, 0])
                own[0] += converted
                own[1] += 1


def simulate(world: World, arrivals: Sequence[Arrival], learner: Learner) -> list[Outcome]:
    """Run ``learner`` over the arrival stream, learning after each round."""
    outcomes: list[Outcome] = []
    feedback: list[tuple[Arrival, int, float, bool]] = []
    current_round = arrivals[0].round if arrivals else 0
    for arrival in arrivals:
        if arrival.round != current_round:
            learner.learn(feedback, world)
            feedback = []
            current_round = arrival.round
        variant, chosen_with = learner.choose(arrival, world)
        probability = world.probability(arrival.user, variant, arrival.device, arrival.hour)
        converted = arrival.uniform < probability
        outcomes.append(Outcome(variant, probability, converted))
        feedback.append((arrival, variant, chosen_with, converted))
    learner.learn(feedback, world)
    return outcomes


def describe(figures: Figures) -> str:
    return (
        f"conversion {figures.expected:6.2%} expected, {figures.realized:6.2%} realized; "
        f"captured lift {figures.captured:5.2f}"
    )
