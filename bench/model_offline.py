"""rapport's model, offline, on the personalization benchmark's worlds (no server).

``RapportModel`` keeps the statistics the server keeps (per user, population, per
context) and decides with ``rapport.decide.model`` exactly as the engine does, learning
once per round (the HTTP benchmark waits for processing after each round). It is a fast
stand-in for ``bench/personalize.py`` while tuning the model; the HTTP run is the figure
that counts. ``TypeBayesReference`` is a ceiling: a Bayesian learner that knows the
generator's taste types (not a peer; nothing real can know them). Taste groups are
refitted every ``--refit-every`` rounds (the server refits every 10 s).

    .venv/bin/python bench/model_offline.py --seeds 2 --refit-every 2 --ceiling
    .venv/bin/python bench/model_offline.py --worlds clustered --oracle-groups --ceiling
    .venv/bin/python bench/model_offline.py --policy legacy --policy groups=0 --policy ''
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.worlds import (
    BASE_LOGIT,
    DIMENSIONS,
    SEGMENTS,
    TASTE_WEIGHT,
    VARIANTS,
    WORLDS,
    Arrival,
    World,
    daypart,
    figures,
    simulate,
)
from rapport.decide import clusters, model
from rapport.decide.model import Candidate, Counts, StatKey

POLICIES = [model.Policy()]
CANDIDATES = tuple(Candidate(f"v{i:02d}", dict(v.labels)) for i, v in enumerate(VARIANTS))


def _record(
    stats: dict[StatKey, Counts], keys: Sequence[StatKey], trials: float, wins: float
) -> None:
    for key in keys:
        found = stats.get(key)
        stats[key] = (
            Counts(trials, wins)
            if found is None
            else Counts(found.trials + trials, found.successes + wins)
        )


class RapportModel:
    """``model.choose`` on the engine's statistics (scopes: user, ``*``, contexts)."""

    def __init__(
        self,
        policy: model.Policy = model.DEFAULT_POLICY,
        seed: int = 5,
        refit_every: int = 1,
        label: str = "",
    ) -> None:
        self.name = f"rapport model (offline) {label}"
        self.policy = policy
        self.refit_every = refit_every
        self.rounds = 0
        self.groups: list[dict[StatKey, Counts]] = []
        self.fit_seconds = 0.0
        self.legacy: Any = None  # bench/legacy_model.py: the model before taste groups
        if label == "legacy":
            import bench.legacy_model as legacy

            self.legacy = legacy
            self.policy = model.Policy(groups=0)
        self.rng = random.Random(seed)
        self.scopes: dict[str, dict[StatKey, Counts]] = {"*": {}}
        self.keys = [model.stat_keys(c) for c in CANDIDATES]
        self.index = {c.variant_id: i for i, c in enumerate(CANDIDATES)}
        self.seconds = 0.0
        self.decisions = 0

    def _context(self, arrival: Arrival) -> list[str]:
        return [f"ctx:daypart:{daypart(arrival.hour)}", f"ctx:device:{arrival.device}"]

    def choose(self, arrival: Arrival, world: World) -> tuple[int, float]:
        user = self.scopes.setdefault(f"u{arrival.user}", {})
        contexts = [self.scopes.get(scope, {}) for scope in self._context(arrival)]
        started = time.perf_counter()
        if self.legacy is not None:
            ranked = self.legacy.choose(CANDIDATES, user, self.scopes["*"], contexts, rng=self.rng)
        else:
            ranked = model.choose(
                CANDIDATES,
                user,
                self.scopes["*"],
                contexts,
                rng=self.rng,
                policy=self.policy,
                groups=self.groups,
            )
        self.seconds += time.perf_counter() - started
        self.decisions += 1
        return self.index[ranked[0][0]], 1.0

    def learn(self, feedback: Sequence[tuple[Arrival, int, float, bool]], world: World) -> None:
        for arrival, variant, _, converted in feedback:
            for scope in ("*", f"u{arrival.user}", *self._context(arrival)):
                _record(self.scopes.setdefault(scope, {}), self.keys[variant], 1.0, converted)
        # Snapshots, as the server's caches hold: never mutated after a decision read them.
        self.scopes = {name: dict(stats) for name, stats in self.scopes.items()}
        self.rounds += 1
        # refit_every 0: never (the groups come from elsewhere).
        if self.policy.groups >= 2 and self.refit_every and self.rounds % self.refit_every == 0:
            started = time.perf_counter()
            users = [stats for name, stats in self.scopes.items() if name.startswith("u")]
            fitted = clusters.fit(
                users,
                CANDIDATES,
                self.scopes["*"],
                k=self.policy.groups,
                previous=self.groups,
                policy=self.policy,
            )
            if fitted is not None:
                self.groups = fitted
            self.fit_seconds += time.perf_counter() - started


class OracleGroupsModel(RapportModel):
    """A diagnostic, not a peer: rapport's decisions with taste groups built from the
    users' *true* segments (the clustered world's), in place of the fitted ones. Beside
    the fitted model it tells how much of the gap to the ceiling is the fit (finding the
    groups) and how much is deciding with them."""

    def __init__(self, world: World, policy: model.Policy = model.DEFAULT_POLICY) -> None:
        super().__init__(policy, refit_every=0, label="oracle groups")  # groups are given
        self.name = "rapport model (offline) with the true segments as groups"
        self.segments = [user.segment for user in world.users]

    def learn(self, feedback: Sequence[tuple[Arrival, int, float, bool]], world: World) -> None:
        super().learn(feedback, world)
        count = max(s for s in self.segments if s is not None) + 1
        users, weights = [], []
        for index, segment in enumerate(self.segments):
            stats = self.scopes.get(f"u{index}")
            if stats is not None and segment is not None:
                users.append(stats)
                weights.append([1.0 if g == segment else 0.0 for g in range(count)])
        self.groups = clusters.groups_of_members(users, weights, count)


class TypeBayesReference:
    """A ceiling: exact Bayes over the generator's taste types (known to this learner
    only), Thompson sampling a type and showing its best variant."""

    def __init__(self, world: World, seed: int = 9, sharpen: float = 0.0) -> None:
        self.name = f"ceiling: Bayes over the generator's taste types (sharpen {sharpen})"
        self.sharpen = sharpen
        self.rng = random.Random(seed)
        base = sum(BASE_LOGIT) / 2
        types: list[tuple[float, dict[str, dict[str, float]]]] = []
        if world.name == "clustered":
            for share, _, rankings in SEGMENTS:
                scores = {
                    d: dict(zip(r, (1.0, 0.35, 0.0), strict=True)) for d, r in rankings.items()
                }
                types.append((share, scores))
        else:
            per_dim = []
            for labels in DIMENSIONS.values():
                options = []
                for fav, w in zip(labels, (0.5, 0.3, 0.2), strict=True):
                    rest = [label for label in labels if label != fav]
                    for second in rest:
                        third = next(x for x in rest if x != second)
                        options.append((w / 2, {fav: 0.875, second: 0.35, third: 0.05}))
                per_dim.append(options)
            for combo in itertools.product(*per_dim):
                weight = math.prod(w for w, _ in combo)
                types.append((weight, {d: s for d, (_, s) in zip(DIMENSIONS, combo, strict=True)}))
        self.log_prior = [math.log(w) for w, _ in types]
        self.p = [
            [
                1
                / (
                    1
                    + math.exp(
                        -(base + TASTE_WEIGHT * sum(s[d][lab] for d, lab in v.labels.items()))
                    )
                )
                for v in VARIANTS
            ]
            for _, s in types
        ]
        self.best = [max(range(len(VARIANTS)), key=row.__getitem__) for row in self.p]
        self.log_post: dict[int, list[float]] = {}

    def choose(self, arrival: Arrival, world: World) -> tuple[int, float]:
        post = self.log_post.get(arrival.user, self.log_prior)
        top = max(post)
        weights = [math.exp(x - top) for x in post]
        if self.sharpen == 0.0:  # greedy: the best variant in posterior expectation
            scores = [
                sum(w * row[v] for w, row in zip(weights, self.p, strict=True))
                for v in range(len(VARIANTS))
            ]
            return max(range(len(scores)), key=scores.__getitem__), 1.0
        weights = [w**self.sharpen for w in weights]
        t = self.rng.choices(range(len(weights)), weights)[0]
        return self.best[t], 1.0

    def learn(self, feedback: Sequence[tuple[Arrival, int, float, bool]], world: World) -> None:
        for arrival, variant, _, converted in feedback:
            post = list(self.log_post.get(arrival.user, self.log_prior))
            for t, row in enumerate(self.p):
                post[t] += math.log(row[variant] if converted else 1 - row[variant])
            self.log_post[arrival.user] = post


def _policy(text: str) -> model.Policy:
    fields: dict[str, float | int] = {}
    if text == "legacy":
        return model.Policy(groups=0)
    for part in filter(None, text.split(",")):
        name, value = part.split("=")
        fields[name] = int(value) if name == "groups" else float(value)
    return model.Policy(**fields)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worlds", default=",".join(WORLDS))
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--presence", type=float, default=0.9)
    parser.add_argument("--ceiling", action="store_true")
    parser.add_argument(
        "--oracle-groups",
        action="store_true",
        help="also decide with the true segments as groups (clustered world): fit vs rule",
    )
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        help="Policy fields to try, e.g. 'groups=4,group_strength=20' (repeatable)",
    )
    parser.add_argument("--refit-every", type=int, default=1, help="rounds between group fits")
    parser.add_argument("--seeds", type=int, default=1, help="learner seeds to average over")
    args = parser.parse_args(argv)
    for name in args.worlds.split(","):
        world = WORLDS[name](args.users)
        arrivals = world.arrivals(args.rounds, presence=args.presence)
        policies = [_policy(text) for text in args.policy] or POLICIES
        for text, policy in zip(args.policy or ["default"], policies, strict=True):
            text = text or "default"
            captured = []
            started = time.perf_counter()
            timing = fits = 0.0
            for seed in range(args.seeds):
                learner = RapportModel(policy, seed=seed, refit_every=args.refit_every, label=text)
                captured.append(
                    figures(world, arrivals, simulate(world, arrivals, learner)).captured
                )
                timing += learner.seconds / learner.decisions / args.seeds
                fits += learner.fit_seconds
            mean = sum(captured) / len(captured)
            spread = (sum((c - mean) ** 2 for c in captured) / max(len(captured) - 1, 1)) ** 0.5
            print(
                f"{name:<10} {args.users}x{args.rounds} {text}: captured {mean:.3f} "
                f"± {spread:.3f} [{' '.join(f'{c:.2f}' for c in captured)}] "
                f"(choose() {timing * 1e6:.0f} µs, fits {fits:.0f}s, "
                f"{time.perf_counter() - started:.0f}s)",
                flush=True,
            )
        if args.oracle_groups and world.users[0].segment is not None:
            for text, policy in zip(args.policy or ["default"], policies, strict=True):
                oracle = OracleGroupsModel(world, policy)
                result = figures(world, arrivals, simulate(world, arrivals, oracle))
                label = text or "default"
                print(f"{name:<10} {oracle.name} {label}: captured {result.captured:.3f}")
        if args.ceiling:
            for sharpen in (0.0, 3.0):
                reference = TypeBayesReference(world, sharpen=sharpen)
                result = figures(world, arrivals, simulate(world, arrivals, reference))
                print(f"{name:<10} {reference.name}: captured {result.captured:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
