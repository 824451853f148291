"""How long one decision's model takes: ``model.choose`` over 27 variants, in-process.

The Content API calls ``choose`` on its hot path. This times it for a returning user
(36 trials of their own), with population, day-part and device statistics and six taste
groups, beside the model it replaced (``bench/legacy_model.py``) on the same inputs.
Shared statistics are built once, as the engine's per-process caches hold them, so what
is timed is the per-request work. Median and p99 of single calls, several rounds.

    .venv/bin/python bench/choose_timing.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import legacy_model
from bench.model_offline import CANDIDATES, RapportModel
from bench.worlds import WORLDS, simulate
from rapport.decide import model

Stats = dict[model.StatKey, model.Counts]


def _inputs() -> tuple[RapportModel, list[Stats], list[Stats]]:
    """Statistics from an offline run of the clustered world (300 users x 40 rounds)."""
    world = WORLDS["clustered"](300)
    arrivals = world.arrivals(40)
    learner = RapportModel(model.DEFAULT_POLICY, refit_every=4)
    simulate(world, arrivals, learner)
    users = [learner.scopes[f"u{u}"] for u in range(300) if f"u{u}" in learner.scopes]
    contexts = [learner.scopes["ctx:daypart:evening"], learner.scopes["ctx:device:mobile"]]
    return learner, users, contexts


def _time(
    call: Callable[[Stats], object], users: list[Stats], rounds: int = 5
) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        for user in users:
            started = time.perf_counter()
            call(user)
            samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * len(samples))]


def main(argv: list[str] | None = None) -> None:
    learner, users, contexts = _inputs()
    population, groups = learner.scopes["*"], learner.groups
    rng = random.Random(1)
    legacy: Any = legacy_model  # the same duck-typed inputs (Candidate, Counts)
    figures: dict[str, Callable[[Stats], object]] = {
        "choose(), taste groups (this model)": lambda user: model.choose(
            CANDIDATES, user, population, contexts, rng=rng, groups=groups
        ),
        "choose(), no groups": lambda user: model.choose(
            CANDIDATES, user, population, contexts, rng=rng
        ),
        "baseline: the previous model's choose()": lambda user: legacy.choose(
            CANDIDATES, user, population, contexts, rng=rng
        ),
    }
    print(f"27 variants, {len(users)} returning users, {len(groups)} taste groups")
    # What a refresh of the shared statistics costs once per snapshot and process: the
    # population's, the contexts' and the groups' models (copies defeat the caches).
    refreshes = []
    for _ in range(20):
        fresh_population, fresh_groups = dict(population), [dict(g) for g in groups]
        fresh_contexts = [dict(c) for c in contexts]
        started = time.perf_counter()
        model.choose(
            CANDIDATES, users[0], fresh_population, fresh_contexts, rng=rng, groups=fresh_groups
        )
        refreshes.append(time.perf_counter() - started)
    refresh = statistics.median(refreshes) * 1e6
    print(f"{'first choose() after a refresh':<42} median {refresh:6.0f} µs")
    for name, call in figures.items():
        call(users[0])  # shared models are built once per snapshot, as in the server
        median, p99 = _time(call, users)
        print(f"{name:<42} median {median * 1e6:6.0f} µs   p99 {p99 * 1e6:6.0f} µs")


if __name__ == "__main__":
    main(sys.argv[1:])
