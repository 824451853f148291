"""The content and timing agents of campaigns, on the same model as surfaces.

Both are the per-user hierarchical Thompson samplers of :mod:`rapport.decide.model`,
reading and writing the same ``agent_stats``, so a user's agent is one agent:

- content: a campaign's alternates, with their labels on dimensions prefixed ``push.``
  (a push converts at its own rate, which must not blur what the user's surfaces learnt);
- timing: the 35 send slots, each labelled with its day and its day-part, so evidence
  about "evenings" pools across the seven evening slots.

A send counts one trial for its alternate and its slot, in the population and the user's
scope; an open, a click or a conversion counts one success (once per send).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from rapport.decide import storage as decide_storage
from rapport.decide.model import Candidate, Stats, choose, stat_keys
from rapport.messaging.schemas import Alternate, CampaignConfig
from rapport.messaging.timing import SLOT_BY_NAME

PUSH_PREFIX = "push."
SLOT_PREFIX = "slot:"
Increments = dict[tuple[str, str, str], tuple[float, float]]


def content_candidate(alternate: Alternate) -> Candidate:
    return Candidate(
        alternate.id, {f"{PUSH_PREFIX}{dim}": label for dim, label in alternate.labels.items()}
    )


def content_of(config: CampaignConfig, alternate_id: str | None) -> Candidate | None:
    """The candidate of a campaign's alternate, if it still exists."""
    alternate = next((a for a in config.alternates if a.id == alternate_id), None)
    return content_candidate(alternate) if alternate is not None else None


def slot_candidate(name: str) -> Candidate:
    return Candidate(f"{SLOT_PREFIX}{name}", SLOT_BY_NAME[name].labels)


def pick(
    candidates: Sequence[Candidate], user: Stats, population: Stats, rng: random.Random
) -> str:
    """The Thompson choice among ``candidates`` for a user with these statistics."""
    if len(candidates) == 1:
        return candidates[0].variant_id
    return choose(candidates, user, population, rng=rng)[0][0]


class PopulationDraws:
    """Thompson choices for users with no evidence of their own, drawn in bulk.

    Such users share one posterior (the population's), so a pool of independent draws
    from it serves them all: each user takes a random draw from the pool, which has the
    distribution of a fresh Thompson choice. It saves the sampling cost of a broadcast to
    millions of new users; the pool is rebuilt with every snapshot of the statistics.
    """

    def __init__(
        self, candidates: Sequence[Candidate], population: Stats, rng: random.Random, size: int
    ) -> None:
        self.choices = [pick(candidates, {}, population, rng) for _ in range(size)]
        self.rng = rng

    def draw(self) -> str:
        return self.choices[int(self.rng.random() * len(self.choices))]


def trial_increments(
    profile_id: str, alternate: Candidate | None, slot: str | None, *, success: bool = False
) -> Increments:
    """One trial (or one success) of a send's alternate and slot, population and user."""
    keys = []
    if alternate is not None:
        keys += stat_keys(alternate)
    if slot is not None and slot in SLOT_BY_NAME:
        keys += stat_keys(slot_candidate(slot))
    amount = (0.0, 1.0) if success else (1.0, 0.0)
    return {
        (scope, dimension, label): amount
        for scope in (decide_storage.POPULATION, profile_id)
        for dimension, label in keys
    }


def merge_increments(
    into: Increments, more: Mapping[tuple[str, str, str], tuple[float, float]]
) -> None:
    for key, (trials, wins) in more.items():
        before = into.get(key, (0.0, 0.0))
        into[key] = (before[0] + trials, before[1] + wins)
