"""A per-process memory of people's latest decisions, so a returning user's sticky
answer needs no database read.

What it may serve, and why that is safe:

* only decisions that exist, made by this process (recorded once committed) or read
  from the database, or that none existed when read; only for people the identity
  graph knows (a person who is still unknown may get a profile at any moment);
* only for reuse: a decision is served from here only when it is still sticky and
  usable now; anything else (a new decision, a holdout or gap check, an expired one)
  reads the database first, so new decisions are always made from stored state. (A
  remembered absence therefore only ever answers "not in the audience", which does
  not depend on earlier decisions.)
* for at most ``ttl`` seconds after it was read or made, and never after this process
  merged or erased someone in the workspace (each does so after its commit).

So within one process the answer is the one the database would give. What another
process does (a merge or erasure run by a worker, a decision made elsewhere after
ours stopped being usable) reaches this process within ``ttl`` seconds, like the
surfaces it caches (``RAPPORT_DECISION_CACHE_SECONDS``; 0 turns the memory off).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from rapport.decide.storage import LatestDecision

# (workspace id, contact id, identities the person was looked up by)
PersonKey = tuple[str, str, tuple[tuple[str, str], ...]]


# A remembered decision: LatestDecision's fields as a plain tuple of strings and
# numbers. The garbage collector stops tracking such tuples (not dataclass instances),
# so tens of thousands of them add nothing to its pauses, nor make full collections
# come sooner as they are replaced.
_Fields = tuple[str, str, str, tuple[str, ...], str, float]
_CREATED_AT: Final = 5


def _fields(decision: LatestDecision) -> _Fields:
    return (
        decision.id,
        decision.surface_id,
        decision.variant_id,
        tuple(decision.alternates),
        decision.policy,
        decision.created_at,
    )


@dataclass(slots=True)
class _Person:
    profile_id: str
    # surface id -> (the latest decision, or None: there was none; when this memory
    # of it expires)
    latest: dict[str, tuple[_Fields | None, float]]
    generation: int


@dataclass(frozen=True, slots=True)
class Remembered:
    """A person's profile and latest decisions on the surfaces asked for."""

    profile_id: str
    latest: dict[str, LatestDecision]


class RecentDecisions:
    """People's latest decisions, per workspace, least recently used forgotten first."""

    def __init__(
        self,
        ttl: float,
        max_people: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_people = max_people
        self._clock = clock
        self._people: OrderedDict[PersonKey, _Person] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def generation(self, workspace_id: str) -> int:
        """Taken before a read: what is remembered from it is valid only if no merge or
        erasure committed meanwhile."""
        return self._generations.get(workspace_id, 0)

    def invalidate(self, workspace_id: str) -> None:
        """Someone in the workspace was merged or erased (and committed): forget all."""
        with self._lock:
            self._generations[workspace_id] = self._generations.get(workspace_id, 0) + 1

    def lookup(self, key: PersonKey, surface_ids: Sequence[str]) -> Remembered | None:
        """The person's decisions on every one of ``surface_ids``, or None."""
        if not self.enabled:
            return None
        found = self._people.get(key)
        if found is None or found.generation != self._generations.get(key[0], 0):
            return None
        now = self._clock()
        latest: dict[str, LatestDecision] = {}
        for surface_id in surface_ids:
            known = found.latest.get(surface_id)
            if known is None or now >= known[1]:
                return None
            if known[0] is not None:
                latest[surface_id] = LatestDecision(*known[0])
        return Remembered(found.profile_id, latest)

    def remember(
        self,
        key: PersonKey,
        profile_id: str,
        decisions: Iterable[LatestDecision],
        generation: int,
        absent: Iterable[str] = (),
    ) -> None:
        """Decisions read or made at ``generation``, and surfaces a read found none on;
        a newer decision replaces an older one (the database's ordering), an absence
        replaces nothing, and each is remembered for ``ttl`` seconds."""
        if not self.enabled:
            return
        expires = self._clock() + self.ttl
        with self._lock:
            if generation != self._generations.get(key[0], 0):
                return
            found = self._people.get(key)
            if found is None or found.generation != generation or found.profile_id != profile_id:
                found = _Person(profile_id, {}, generation)
                self._people[key] = found
            else:
                self._people.move_to_end(key)
            latest = found.latest
            for decision in decisions:
                known = latest.get(decision.surface_id)
                if (
                    known is None
                    or known[0] is None
                    or decision.created_at >= known[0][_CREATED_AT]
                ):
                    latest[decision.surface_id] = (_fields(decision), expires)
            for surface_id in absent:
                known = latest.get(surface_id)
                if known is None or known[0] is None:
                    latest[surface_id] = (None, expires)
            while len(self._people) > self.max_people:
                self._people.popitem(last=False)
