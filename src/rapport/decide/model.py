"""The learning model of a per-user agent: hierarchical priors, taste groups, Thompson
choices.

A surface's variants carry labels on dimensions (``offering=discount``, ``tone=urgent``)
plus the implicit ``_variant`` dimension whose label is the variant id. A trial of a
variant adds one trial to each of its (dimension, label) keys, a conversion one success,
for the user and for the workspace ("population", optionally per context too).

Without taste groups (``_choose_from_population``), the belief about one key, from the
top down:

* root: the surface's pooled population rate (all its variants), so an unseen label
  starts out like the surface's other content, worth 2 pseudo-trials;
* population: that root updated with the key's population counts, capped at
  ``max_prior_trials`` (with no data anywhere this is a flat Beta(1, 1));
* user: a Beta with the population mean worth min(``prior_strength``, population
  evidence) pseudo-trials, updated with the user's own counts;
* contexts (day part, device, ...) with evidence move that belief by their log-odds
  shift from the population: a context's rate is shrunk toward the population's with
  ``context_strength`` pseudo-trials, and shifts of several contexts add up. The shift
  applies to the user's whole posterior, not only to the prior, so that it persists
  once the user's own (context-free) evidence outweighs the prior.

With taste groups (``clusters.fit`` finds a few kinds of user in their own records and
keeps them only where they explain the records better than the population does; they
are stored like the population's statistics), users alike are pooled
(``_choose_in_group``): a variant's rate is modelled as a base times one multiplier per
label (``rate_model``: Gamma beliefs, updated by the successes of the variants carrying
the label against the successes expected of them), fitted on per-variant records. The
user belongs to each group with the probability its rates give to the user's record
(conversions and misses); a decision samples a group from that sharpened membership,
samples the group's effects (so what a group has not tried enough stays open), and
uses them as the user's prior, worth ``group_strength`` pseudo-conversions; the user's
own record updates it, and the contexts' departures from the population add up.

Pure Python and allocation-light: it runs inside the request that serves a decision;
what depends only on shared statistics (the groups' models) is cached per snapshot (the
caller replaces, never mutates, statistics it has handed over).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias, TypeVar, cast

from rapport.decide.intervals import beta_interval, rate_summary, uplift_interval

__all__ = [
    "CLUSTER_WEIGHT",
    "DEFAULT_POLICY",
    "VARIANT_DIMENSION",
    "Candidate",
    "Counts",
    "LabelPreference",
    "Policy",
    "RateModel",
    "StatKey",
    "Stats",
    "beta_interval",
    "choose",
    "group_model",
    "group_weight",
    "group_weights",
    "in_holdout",
    "memberships",
    "population_model",
    "posterior",
    "preferences",
    "rate_model",
    "rate_summary",
    "stat_keys",
    "uplift_interval",
]

VARIANT_DIMENSION = "_variant"
# A taste group's statistics carry its weight (users, fractionally) under this key.
CLUSTER_WEIGHT = ("_cluster", "users")
_ROOT_STRENGTH = 2.0  # pseudo-trials of the surface's pooled rate in a key's population prior
_GROUP_ROOT_STRENGTH = 5.0  # pseudo-trials of the population's rate in a group's
_GROUP_FIT_STRENGTH = 2.0  # pseudo-conversions of the population in a group's rate model
_MIN_PARAMETER = 1e-6  # keeps Beta and Gamma parameters valid when a prior has no weight
_LOGIT_CLAMP = 1e-9
_FLOOR = 1e-9
_MAX_LOG_EFFECT = 6.0  # no single key multiplies a rate by more than e^6 (~400)
_SWEEPS = 3  # coordinate sweeps of a fit: enough to settle the few labels of a surface
_INTERACTION_STRENGTH = 20.0  # pseudo-conversions: a labeled variant is what its labels say


@dataclass(frozen=True, slots=True)
class Counts:
    """Trials and successes; floats so that decayed or weighted counts fit too."""

    trials: float = 0.0
    successes: float = 0.0


StatKey: TypeAlias = tuple[str, str]  # (dimension, label)
Stats: TypeAlias = Mapping[StatKey, Counts]
_ZERO = Counts()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A variant that may be shown: its id and its labels, dimension -> label.

    Labels never use the ``_variant`` dimension (API dimension names start with a
    letter); the model adds it itself.
    """

    variant_id: str
    labels: Mapping[str, str]


def stat_keys(candidate: Candidate) -> list[StatKey]:
    """The keys a trial or success of this variant updates: its labels and its id."""
    keys = [(dimension, label) for dimension, label in candidate.labels.items()]
    keys.append((VARIANT_DIMENSION, candidate.variant_id))
    return keys


@dataclass(frozen=True)
class Policy:
    """The knobs of the model; defaults chosen with ``bench/model_offline.py`` and
    ``python -m rapport.decide.simulate``.

    ``prior_strength``: pseudo-trials the population is worth in a user's prior. Users
    differ, so a few dozen of their own trials must be able to overrule it; 12 balances
    following the crowd (clustered tastes) against learning each user (individual ones).
    ``context_strength``: pseudo-trials the context-free population is worth in a
    context's rate; small, since contexts quickly gather thousands of trials.
    ``max_prior_trials``: population counts are scaled down to at most this many trials
    before they form priors, so years of traffic cannot make a context's (or the
    surface's) rate immovable when tastes drift.
    ``exploration``: Thompson samples come from the posterior with its variance scaled
    by this factor (same mean); 1 is textbook Thompson sampling, which explores for too
    long when each user is seen only dozens of times.
    ``groups``: how many taste groups ``clusters.fit`` looks for (0: none).
    ``group_min_gain``: groups are kept only if they make the users' records likelier
    than the population does by this many nats per user (more than overfitting buys:
    where tastes are individual, a group prior would only mislead).
    ``group_strength``: pseudo-conversions a taste group's effects are worth in the
    prior of a user placed in it (capped by the group's own evidence): an effect
    believed with strength c has a spread of about 1/sqrt(c) in log terms.
    ``group_context_strength``: pseudo-conversions of the population in a context's
    effects, when groups are in use.
    ``interaction_strength``: pseudo-conversions: how sure a labeled variant is to be
    what its labels say (its own departure from them is rare, a few conversions noise).
    ``group_sharpness``: a decision samples a group with probability proportional to
    the user's membership raised to this power (1: textbook Thompson sampling, which
    keeps trying groups a user is unlikely to belong to; 10 is nearly the likeliest).
    ``base_strength``: how alike users' overall propensity to convert is, in
    pseudo-conversions, when judging membership: large, so that a favourite shown
    many times without a conversion counts against the group that favours it.
    ``group_exploration``: the group's effects are sampled from their posterior with
    this fraction of its variance before they become the user's prior, so what a
    group has not tried enough stays open to trial (0: its point estimate).
    ``version`` is recorded on every assignment.
    """

    prior_strength: float = 12.0
    context_strength: float = 10.0
    max_prior_trials: float = 1000.0
    exploration: float = 0.2
    groups: int = 6
    group_min_gain: float = 0.05
    group_strength: float = 3.0
    group_context_strength: float = 5.0
    interaction_strength: float = 20.0
    group_sharpness: float = 10.0
    base_strength: float = 30.0
    group_exploration: float = 1.0
    version: str = "ts-groups-1"

    def __post_init__(self) -> None:
        strengths = (
            self.prior_strength,
            self.context_strength,
            self.group_strength,
            self.group_context_strength,
            self.interaction_strength,
        )
        if min(strengths) < 0.0:
            raise ValueError("strengths must be non-negative")
        if self.max_prior_trials <= 0.0:
            raise ValueError("max_prior_trials must be positive")
        if not 0.0 < self.exploration <= 1.0:
            raise ValueError("exploration must be in (0, 1]")
        if self.groups < 0 or self.group_sharpness <= 0.0 or self.base_strength < 0.0:
            raise ValueError("groups, group_sharpness and base_strength must be non-negative")
        if not 0.0 <= self.group_exploration <= 1.0:
            raise ValueError("group_exploration must be in [0, 1]")


DEFAULT_POLICY = Policy()


def posterior(user: Counts, prior_mean: float, prior_strength: float) -> tuple[float, float]:
    """Beta(alpha, beta) after the user's counts, from a prior worth ``prior_strength`` trials.

    alpha = k m + s and beta = k (1 - m) + n - s: conjugate updating of Beta(k m, k (1-m)).
    Successes are clamped to [0, trials] so inconsistent counts cannot break the Beta.
    """
    trials = max(user.trials, 0.0)
    successes = min(max(user.successes, 0.0), trials)
    alpha = prior_strength * prior_mean + successes
    beta = prior_strength * (1.0 - prior_mean) + trials - successes
    return max(alpha, _MIN_PARAMETER), max(beta, _MIN_PARAMETER)


def _capped(counts: Counts, cap: float) -> tuple[float, float]:
    """(trials, successes) scaled down to at most ``cap`` trials, keeping their ratio."""
    trials = max(counts.trials, 0.0)
    successes = min(max(counts.successes, 0.0), trials)
    if trials > cap:
        return cap, successes * cap / trials
    return trials, successes


def _logit(p: float) -> float:
    p = min(max(p, _LOGIT_CLAMP), 1.0 - _LOGIT_CLAMP)
    return math.log(p / (1.0 - p))


def _shifted(p: float, shift: float) -> float:
    return 1.0 / (1.0 + math.exp(-(_logit(p) + shift)))


def _pooled(counts: Iterable[Counts | None]) -> Counts:
    trials = successes = 0.0
    for each in counts:
        if each is not None:
            trials += each.trials
            successes += each.successes
    return Counts(trials, successes)


def _population_prior(counts: Counts | None, root: float, policy: Policy) -> tuple[float, float]:
    """Mean and evidence (pseudo-trials) of the population's belief about one key."""
    if counts is None:
        return root, _ROOT_STRENGTH
    trials, successes = _capped(counts, policy.max_prior_trials)
    evidence = trials + _ROOT_STRENGTH
    return (successes + _ROOT_STRENGTH * root) / evidence, evidence


def _context_shift(mean: float, key: StatKey, contexts: Sequence[Stats], policy: Policy) -> float:
    """The log-odds shift from the population mean of every context with evidence on a key."""
    shift = 0.0
    strength = policy.context_strength
    for stats in contexts:
        counts = stats.get(key)
        if counts is None or counts.trials <= 0.0:
            continue
        trials, successes = _capped(counts, policy.max_prior_trials)
        shift += _logit((successes + strength * mean) / (trials + strength)) - _logit(mean)
    return shift


class _SharedPriors:
    """The population-only part of every key's posterior for one surface, population
    snapshot and context: prior mean, prior strength and context shift. Every user's
    decision in that snapshot and context needs the same, so it is computed once
    (``_shared_priors`` keeps these by the identity of their inputs)."""

    __slots__ = (
        "_priors", "_unseen", "contexts", "keys", "layout", "order", "policy", "population",
        "root", "strength",
    )  # fmt: skip

    def __init__(
        self, candidates: Sequence[Candidate], keys: list[StatKey], population: Stats,
        contexts: Sequence[Stats], root: float, strength: float, policy: Policy,
    ) -> None:  # fmt: skip
        # The surface's ``_variant`` keys: pooled, they give its totals.
        self.keys = keys
        self.population = population
        self.contexts = contexts
        self.root = root
        # What ``root`` is worth in a user's prior on their own overall rate.
        self.strength = strength
        self.policy = policy
        # Every key a decision samples, in the order it first needs it (each candidate's
        # ``_variant`` key, then its labels), and per candidate (variant id, index of its
        # own key, indices of its labels' keys) in that list.
        index: dict[StatKey, int] = {}
        layout: list[tuple[str, int, tuple[int, ...]]] = []
        for candidate, own in zip(candidates, keys, strict=True):
            mine = index.setdefault(own, len(index))
            labels = tuple(index.setdefault(key, len(index)) for key in candidate.labels.items())
            layout.append((candidate.variant_id, mine, labels))
        self.order = list(index)
        self.layout = layout
        self._priors: list[tuple[float, float, float]] | None = None
        self._unseen: list[tuple[float, float, float]] | None = None

    def priors(self) -> list[tuple[float, float, float]]:
        """(prior mean, prior strength, context shift) of every key of :attr:`order`."""
        if self._priors is None:
            policy = self.policy
            priors = []
            for key in self.order:
                mean, evidence = _population_prior(self.population.get(key), self.root, policy)
                shift = _context_shift(mean, key, self.contexts, policy) if self.contexts else 0.0
                priors.append((mean, min(policy.prior_strength, evidence), shift))
            self._priors = priors
        return self._priors

    def unseen(self) -> list[tuple[float, float, float]]:
        """Per key of :attr:`order`, the Thompson draw's parameters (alpha and beta over
        the exploration factor) and the posterior's variance for a user with no record
        of the key: their prior alone, the same for everyone in this snapshot and
        context. Most of a user's keys are unseen (variants never shown to them)."""
        if self._unseen is None:
            exploration = self.policy.exploration
            self._unseen = [_draw_parameters(_ZERO, prior, exploration) for prior in self.priors()]
        return self._unseen


def _draw_parameters(
    counts: Counts, prior: tuple[float, float, float], exploration: float
) -> tuple[float, float, float]:
    """(alpha / exploration, beta / exploration, variance) of a key's Beta for a user
    with ``counts``, from its (prior mean, prior strength, context shift)."""
    mean, strength, shift = prior
    alpha, beta = posterior(counts, mean, strength)
    if shift != 0.0:
        alpha, beta = _shifted_beta(alpha, beta, shift)
    total = alpha + beta
    variance = alpha * beta / (total * total * (total + 1.0))
    return alpha / exploration, beta / exploration, variance


def _shared_priors(
    candidates: Sequence[Candidate],
    population: Stats,
    contexts: Sequence[Stats],
    policy: Policy,
) -> _SharedPriors:
    """The shared priors of a surface's candidates in this population snapshot and
    context, remembered by the identity of their inputs."""
    # An empty context shifts nothing, and callers build a new empty one each time.
    contexts = [stats for stats in contexts if stats]

    def make() -> _SharedPriors:
        keys = [(VARIANT_DIMENSION, candidate.variant_id) for candidate in candidates]
        root, strength = _root(keys, population, policy)
        return _SharedPriors(candidates, keys, population, contexts, root, strength, policy)

    return _by_identity(("priors",), (candidates, population, policy, *contexts), make)


@dataclass(frozen=True, slots=True)
class _Beliefs:
    """What one decision needs to compute any key's user posterior."""

    user: Stats
    population: Stats
    contexts: Sequence[Stats]
    root: float
    policy: Policy
    group: Stats | None = None

    def prior(self, key: StatKey) -> tuple[float, float, float]:
        """The user's prior for one key: mean, strength (pseudo-trials), population mean.

        From the population, worth min(prior_strength, population evidence): a user
        cannot be more sure of the population than the population is of itself, which is
        also what makes the cold start a flat Beta(1, 1). From a taste group (the agent
        view's explanation), the group's rate shrunk toward the population's, worth
        ``group_strength`` pseudo-conversions (and no more than the group's evidence).
        """
        policy = self.policy
        mean, evidence = _population_prior(self.population.get(key), self.root, policy)
        strength = min(policy.prior_strength, evidence)
        if self.group is None:
            return mean, strength, mean
        trials, successes = _capped(self.group.get(key) or _ZERO, policy.max_prior_trials)
        own = (successes + _GROUP_ROOT_STRENGTH * mean) / (trials + _GROUP_ROOT_STRENGTH)
        pseudo_trials = policy.group_strength / max(own, _FLOOR)
        return own, max(strength, min(pseudo_trials, trials)), mean

    def posterior(self, key: StatKey) -> tuple[float, float]:
        """The user's Beta for one key: prior, user counts, context shift."""
        mean, strength, population_mean = self.prior(key)
        alpha, beta = posterior(self.user.get(key, _ZERO), mean, strength)
        shift = (
            _context_shift(population_mean, key, self.contexts, self.policy)
            if self.contexts
            else 0.0
        )
        return _shifted_beta(alpha, beta, shift) if shift != 0.0 else (alpha, beta)


def _shifted_beta(alpha: float, beta: float, shift: float) -> tuple[float, float]:
    """Beta(alpha, beta) with its mean moved by ``shift`` in log-odds, same total."""
    total = alpha + beta
    moved = _shifted(alpha / total, shift)
    return max(moved * total, _MIN_PARAMETER), max((1.0 - moved) * total, _MIN_PARAMETER)


def _beliefs(
    keys: Sequence[StatKey],
    user: Stats,
    population: Stats,
    contexts: Sequence[Stats],
    policy: Policy,
    group: Stats | None = None,
) -> tuple[_Beliefs, float]:
    """Beliefs rooted at the population's pooled rate over ``keys``, and the user's own.

    Every trial of a surface updates exactly one of its ``_variant`` keys (and one label
    of each dimension it has), so pooling those keys gives the surface's totals.
    """
    root, strength = _root(keys, population, policy)
    beliefs = _Beliefs(user, population, contexts, root, policy, group)
    return beliefs, _own_rate(keys, user, root, strength)


def _root(keys: Sequence[StatKey], population: Stats, policy: Policy) -> tuple[float, float]:
    """The population's pooled rate over ``keys`` and what it is worth in a user's prior
    on their own overall rate (pseudo-trials)."""
    root, evidence = _population_prior(_pooled(map(population.get, keys)), 0.5, policy)
    return root, min(policy.prior_strength, evidence)


def _own_rate(keys: Sequence[StatKey], user: Stats, root: float, strength: float) -> float:
    """The user's overall rate over ``keys``, shrunk toward ``root``."""
    alpha, beta = posterior(_pooled(map(user.get, keys)), root, strength)
    return alpha / (alpha + beta)


# -- the rate model ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateModel:
    """A fitted log-linear model of one scope's rates on one surface's candidates.

    ``base`` is the log-rate of a variant whose keys all have effect 0; each key's
    multiplier exp(effect) is believed Gamma(shape, rate), whose mean is
    ``exp(effects[key])``; ``keys[i]`` are candidate i's keys, in ``stat_keys`` order.
    """

    candidates: Sequence[Candidate]
    keys: tuple[tuple[StatKey, ...], ...]
    base: float
    effects: dict[StatKey, float]
    shape: dict[StatKey, float]
    rate: dict[StatKey, float]
    successes: float
    trials: float

    def log_rates(self) -> list[float]:
        """Each candidate's log-rate at the posterior mean."""
        effects = self.effects
        return [self.base + sum(effects[key] for key in keys) for keys in self.keys]


def _cells(candidates: Sequence[Candidate], stats: Stats) -> list[tuple[int, float, float]]:
    """(candidate index, trials, successes) of every candidate with a record."""
    cells = []
    for index, candidate in enumerate(candidates):
        counts = stats.get((VARIANT_DIMENSION, candidate.variant_id))
        if counts is not None and counts.trials > 0.0:
            trials = counts.trials
            cells.append((index, trials, min(max(counts.successes, 0.0), trials)))
    return cells


def cells_of(candidates: Sequence[Candidate], stats: Stats) -> list[tuple[int, float, float]]:
    """(candidate index, trials, successes) of every candidate ``stats`` has a record of."""
    return _cells(candidates, stats)


def _candidate_keys(candidates: Sequence[Candidate]) -> tuple[tuple[StatKey, ...], ...]:
    return tuple(tuple(stat_keys(candidate)) for candidate in candidates)


def rate_model(
    candidates: Sequence[Candidate],
    stats: Stats,
    prior: RateModel | None,
    strength: float,
    interaction_strength: float,
    *,
    keys: tuple[tuple[StatKey, ...], ...] | None = None,
) -> RateModel:
    """Fit the effects of ``candidates``' keys to the per-variant records in ``stats``.

    Each key's multiplier has the prior Gamma(c, c / exp(prior effect)) (mean: the
    prior's effect; c = ``strength`` for labels, ``interaction_strength`` for a labeled
    variant's own key) and the posterior Gamma(c + S, c / exp(prior) + E): S the
    successes of the variants carrying the key, E the successes they would have had
    with the key's effect at 0 and everything else as currently fitted. Sweeping over
    the keys a few times settles every effect (and the base, whose prior is the prior's
    base worth ``strength`` too). With no prior: effects 0, base the pooled rate.
    """
    keys = keys if keys is not None else _candidate_keys(candidates)
    records = _cells(candidates, stats)
    successes = sum(cell[2] for cell in records)
    trials = sum(cell[1] for cell in records)
    if prior is None:
        base0 = math.log((successes + 1.0) / (trials + 2.0))
        prior_effects: Mapping[StatKey, float] = {}
        prior_shape: Mapping[StatKey, float] = {}
    else:
        base0 = prior.base
        prior_effects = prior.effects
        prior_shape = prior.shape
    effects: dict[StatKey, float] = {}
    strengths: dict[StatKey, float] = {}
    for candidate, own in zip(candidates, keys, strict=True):
        for key in own:
            if key not in effects:
                effects[key] = prior_effects.get(key, 0.0)
                wanted = (
                    interaction_strength
                    if key[0] == VARIANT_DIMENSION and candidate.labels
                    else strength
                )
                # No surer of the prior than the prior is of itself: where it has little
                # evidence, its own evidence is all it is worth.
                strengths[key] = min(wanted, prior_shape.get(key, wanted))
    shape = {key: max(strengths[key], _MIN_PARAMETER) for key in effects}
    rate = {key: shape[key] / math.exp(effects[key]) for key in effects}
    base = base0
    # The data: each candidate's record, then what the user's label counts hold beyond
    # this surface's records (other surfaces, retired variants), as records of the label
    # alone, which inform the label's effect but not this surface's base.
    cells = [(keys[index], n, w) for index, n, w in records]
    cells += _elsewhere(stats, effects, cells)
    if cells:
        exp = math.exp
        touching: dict[StatKey, list[int]] = {}
        for position, (own, _, _) in enumerate(cells):
            for key in own:
                touching.setdefault(key, []).append(position)
        linear = [sum(effects[key] for key in own) for own, _, _ in cells]
        surface = len(records)
        base_strength = max(strength, _MIN_PARAMETER)
        for _ in range(_SWEEPS):
            if surface:
                exposure = sum(cells[i][1] * exp(linear[i]) for i in range(surface))
                base = math.log(
                    (base_strength + successes) / (base_strength / exp(base0) + exposure)
                )
            scale = exp(base)
            for key, positions in touching.items():
                own_effect = effects[key]
                expected = hits = 0.0
                for position in positions:
                    _, cell_trials, cell_successes = cells[position]
                    expected += cell_trials * exp(linear[position] - own_effect)
                    hits += cell_successes
                c = max(strengths[key], _MIN_PARAMETER)
                posterior_shape = c + hits
                posterior_rate = c / exp(prior_effects.get(key, 0.0)) + scale * expected
                new = math.log(posterior_shape / posterior_rate)
                new = min(max(new, -_MAX_LOG_EFFECT), _MAX_LOG_EFFECT)
                shape[key], rate[key] = posterior_shape, posterior_shape / exp(new)
                if new != own_effect:
                    effects[key] = new
                    for position in positions:
                        linear[position] += new - own_effect
    return RateModel(candidates, keys, base, effects, shape, rate, successes, trials)


def _elsewhere(
    stats: Stats,
    effects: Mapping[StatKey, float],
    cells: Sequence[tuple[tuple[StatKey, ...], float, float]],
) -> list[tuple[tuple[StatKey, ...], float, float]]:
    """Label evidence in ``stats`` that the candidates' records do not account for."""
    counted: dict[StatKey, list[float]] = {}
    for own, trials, successes in cells:
        for key in own:
            found = counted.get(key)
            if found is None:
                counted[key] = [trials, successes]
            else:
                found[0] += trials
                found[1] += successes
    extra: list[tuple[tuple[StatKey, ...], float, float]] = []
    for key in effects:
        if key[0] == VARIANT_DIMENSION:
            continue
        counts = stats.get(key)
        if counts is None:
            continue
        trials, successes = counted.get(key, (0.0, 0.0))
        more = counts.trials - trials
        if more >= 1.0:
            wins = min(max(counts.successes - successes, 0.0), more)
            extra.append(((key,), more, wins))
    return extra


_CACHE: dict[tuple[object, ...], tuple[tuple[object, ...], object]] = {}
_CACHE_SIZE = 256

T = TypeVar("T")


def _by_identity(kind: tuple[object, ...], inputs: tuple[object, ...], make: Callable[[], T]) -> T:
    """``make()``, remembered by ``kind`` (values) and the identity of ``inputs``: what depends
    only on shared statistics, which are replaced, never mutated. The inputs are held
    while remembered, so an identity cannot be reused by another object."""
    identity = (*kind, *map(id, inputs))
    found = _CACHE.get(identity)
    if found is not None:
        held, value = found
        if all(a is b for a, b in zip(held, inputs, strict=True)):
            return cast(T, value)
    value = make()
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[identity] = (inputs, value)
    return value


def _scope_model(
    candidates: Sequence[Candidate],
    stats: Stats,
    prior: RateModel | None,
    strength: float,
    interaction_strength: float,
) -> RateModel:
    """``rate_model`` of shared statistics, remembered by the identity of its inputs."""
    return _by_identity(
        ("rates", strength, interaction_strength),
        (candidates, stats, prior),
        lambda: rate_model(candidates, stats, prior, strength, interaction_strength),
    )


def population_model(candidates: Sequence[Candidate], population: Stats) -> RateModel:
    """The population's rate model: effects as the data say (a prior worth one conversion)."""
    return rate_model(candidates, population, None, 1.0, _INTERACTION_STRENGTH)


def group_model(candidates: Sequence[Candidate], group: Stats, population: RateModel) -> RateModel:
    """A taste group's rate model, the population's as its prior."""
    return rate_model(candidates, group, population, _GROUP_FIT_STRENGTH, _INTERACTION_STRENGTH)


def _shared(candidates: Sequence[Candidate], population: Stats) -> RateModel:
    return _scope_model(candidates, population, None, 1.0, _INTERACTION_STRENGTH)


def _memberships(
    rates: Sequence[list[float]],
    weights: Sequence[float],
    cells: Sequence[tuple[int, float, float]],
    base_strength: float,
) -> list[float]:
    """log(weight) + log-likelihood of the user's record, per group (up to a constant).

    Under group k the user converts on variant v at rate m * r_kv, their own propensity
    m being Gamma(a, a) (mean 1, ``base_strength`` = a pseudo-conversions): integrated
    out, the record's likelihood is proportional to
    prod_v r_kv^s_v / (a + sum_v n_v r_kv)^(a + S). With a = 0 only where the user's
    conversions fell counts (any propensity), with a large the misses count too.
    """
    successes = sum(cell[2] for cell in cells)
    power = base_strength + successes
    result = []
    exp = math.exp
    for log_rates, weight in zip(rates, weights, strict=True):
        total = math.log(max(weight, _FLOOR))
        if cells:
            exposure = base_strength
            for index, trials, wins in cells:
                value = log_rates[index]
                exposure += trials * exp(value)
                if wins:
                    total += wins * value
            total -= power * math.log(exposure)
        result.append(total)
    return result


def memberships(
    candidates: Sequence[Candidate],
    user: Stats,
    rates: Sequence[list[float]],
    weights: Sequence[float],
    policy: Policy = DEFAULT_POLICY,
) -> list[float]:
    """Unnormalized log-probabilities that the user belongs to each group, given each
    group's log-rates of ``candidates`` (``RateModel.log_rates``) and weight."""
    return _memberships(rates, weights, _cells(candidates, user), policy.base_strength)


def _group_models(
    candidates: Sequence[Candidate],
    population: RateModel,
    groups: Sequence[Stats],
    policy: Policy,
) -> tuple[list[RateModel], list[list[float]], list[float]]:
    """Each group's model (the population as its prior), log-rates and weight."""

    def make() -> tuple[list[RateModel], list[list[float]], list[float]]:
        models = [
            _scope_model(candidates, g, population, _GROUP_FIT_STRENGTH, _INTERACTION_STRENGTH)
            for g in groups
        ]
        return models, [m.log_rates() for m in models], [group_weight(g) for g in groups]

    return _by_identity(("groups",), (candidates, groups, population), make)


def group_weight(group: Stats) -> float:
    """A group's weight: the (fractional) number of users in it."""
    return max(group.get(CLUSTER_WEIGHT, _ZERO).trials, _FLOOR)


def group_weights(
    candidates: Sequence[Candidate],
    user: Stats,
    population: Stats,
    groups: Sequence[Stats],
    policy: Policy = DEFAULT_POLICY,
) -> list[float]:
    """How likely the user belongs to each taste group, judged on ``candidates``."""
    if not groups:
        return []
    shared = _shared(candidates, population)
    _, rates, weights = _group_models(candidates, shared, groups, policy)
    logs = _memberships(rates, weights, _cells(candidates, user), policy.base_strength)
    return _normalized(logs)


def _normalized(logs: Sequence[float]) -> list[float]:
    top = max(logs)
    weights = [math.exp(x - top) for x in logs]
    total = sum(weights)
    return [w / total for w in weights]


def _group_context_shift(
    candidates: Sequence[Candidate],
    population: RateModel,
    contexts: Sequence[Stats],
    policy: Policy,
) -> dict[StatKey, float]:
    """The summed departures of the contexts' effects from the population's."""
    shift: dict[StatKey, float] = {}
    for stats in contexts:
        if not stats:
            continue
        context = _scope_model(
            candidates,
            stats,
            population,
            policy.group_context_strength,
            policy.interaction_strength,
        )
        if context.trials <= 0.0:
            continue
        for key, value in context.effects.items():
            difference = value - population.effects[key]
            if difference:
                shift[key] = shift.get(key, 0.0) + difference
    return shift


def _user_model(
    candidates: Sequence[Candidate],
    user: Stats,
    population: Stats,
    groups: Sequence[Stats],
    policy: Policy,
    rng: random.Random | None,
) -> tuple[RateModel, RateModel]:
    """The user's fitted model (their taste group's as the prior), and the population's;
    the group is sampled (``rng``) or, without one, the likeliest."""
    shared = _shared(candidates, population)
    cells = _cells(candidates, user)
    models, rates, weights = _group_models(candidates, shared, groups, policy)
    membership = _normalized(_memberships(rates, weights, cells, policy.base_strength))
    if rng is None:
        chosen = max(range(len(membership)), key=membership.__getitem__)
    else:
        sharp = [w**policy.group_sharpness for w in membership]
        chosen = rng.choices(range(len(models)), sharp)[0]
    prior, strength = models[chosen], policy.group_strength
    if rng is not None and policy.group_exploration > 0.0:
        prior = _sampled(prior, rng, policy.group_exploration)
    if not user:
        return _as_prior(prior, strength, policy), shared
    fitted = rate_model(
        candidates, user, prior, strength, policy.interaction_strength, keys=shared.keys
    )
    return fitted, shared


def _sampled(model: RateModel, rng: random.Random, exploration: float) -> RateModel:
    """``model`` with its effects replaced by a Thompson sample of them (variance scaled by
    ``exploration``): what a group has not tried enough stays open to trial."""
    gamma = rng.gammavariate
    effects = {
        key: math.log(
            max(gamma(model.shape[key] / exploration, exploration / model.rate[key]), _FLOOR)
        )
        for key in model.effects
    }
    return RateModel(
        model.candidates,
        model.keys,
        model.base,
        effects,
        model.shape,
        model.rate,
        model.successes,
        model.trials,
    )


def _as_prior(model: RateModel, strength: float, policy: Policy) -> RateModel:
    """``model``'s effects believed with ``strength`` (a user with no record yet)."""
    shape: dict[StatKey, float] = {}
    rate: dict[StatKey, float] = {}
    for candidate, keys in zip(model.candidates, model.keys, strict=True):
        for key in keys:
            c = (
                policy.interaction_strength
                if key[0] == VARIANT_DIMENSION and candidate.labels
                else strength
            )
            c = max(min(c, model.shape[key]), _MIN_PARAMETER)
            shape[key], rate[key] = c, c / math.exp(model.effects[key])
    return RateModel(model.candidates, model.keys, model.base, model.effects, shape, rate, 0.0, 0.0)


def choose(
    candidates: Sequence[Candidate],
    user: Stats,
    population: Stats,
    context_population: Sequence[Stats] = (),
    *,
    rng: random.Random,
    policy: Policy = DEFAULT_POLICY,
    groups: Sequence[Stats] = (),
) -> list[tuple[str, float]]:
    """Rank the candidates by a Thompson sample of each one's conversion rate, best first.

    ``groups`` are the taste groups' statistics (``clusters.fit``); with them, the user's
    prior is a group's (``_choose_in_group``), else the population's
    (``_choose_from_population``).
    """
    if not candidates:
        return []
    if groups:
        return _choose_in_group(
            candidates, user, population, context_population, rng, policy, groups
        )
    return _choose_from_population(candidates, user, population, context_population, rng, policy)


def _choose_from_population(
    candidates: Sequence[Candidate],
    user: Stats,
    population: Stats,
    context_population: Sequence[Stats],
    rng: random.Random,
    policy: Policy,
) -> list[tuple[str, float]]:
    """Hierarchical Beta posteriors per label, the population's as the prior.

    Each (dimension, label) posterior is sampled once per decision and shared by every
    variant carrying that label (one draw of the whole parameter vector). A variant's
    score combines two estimates of its rate:

    * additive: r + sum over its labels of (sample - r), r being the user's overall rate
      on the surface: under additive effects a label's rate is r plus its effect;
    * direct: the sample of its own ``_variant`` posterior.

    They are averaged with inverse-variance weights (for the additive one, the sum of its
    labels' posterior variances): labels, which pool many more trials, lead while the
    variant's own record is thin; a variant whose record departs from what its labels
    predict (an interaction) takes over as that record grows. A variant without labels
    is scored by its own posterior alone. Scores are rates, possibly slightly outside
    [0, 1] since effects are added.
    """
    shared = _shared_priors(candidates, population, context_population, policy)
    reference = _own_rate(shared.keys, user, shared.root, shared.strength)
    # One draw per key, in the order the keys are first needed (so a seeded generator
    # gives the same draws whatever the layout); each key's Beta as ``_Beliefs.posterior``,
    # and the Thompson draw with its variance: this loop is most of a fresh decision.
    # A key the user has no record of takes its parameters from the shared priors.
    exploration = policy.exploration
    betavariate = rng.betavariate
    user_counts = user.get
    draws: list[tuple[float, float]] = []
    for key, prior, unseen in zip(shared.order, shared.priors(), shared.unseen(), strict=True):
        counts = user_counts(key)
        a, b, variance = unseen if counts is None else _draw_parameters(counts, prior, exploration)
        draws.append((betavariate(a, b), variance))
    scored: list[tuple[str, float]] = []
    for variant_id, own, labels in shared.layout:
        direct, direct_variance = draws[own]
        if not labels:
            scored.append((variant_id, direct))
            continue
        additive, additive_variance = reference, 0.0
        for label in labels:
            value, variance = draws[label]
            additive += value - reference
            additive_variance += variance
        total = additive_variance + direct_variance
        scored.append(
            (variant_id, (additive * direct_variance + direct * additive_variance) / total)
        )
    scored.sort(key=_second, reverse=True)
    return scored


def _choose_in_group(
    candidates: Sequence[Candidate],
    user: Stats,
    population: Stats,
    context_population: Sequence[Stats],
    rng: random.Random,
    policy: Policy,
    groups: Sequence[Stats],
) -> list[tuple[str, float]]:
    """Rank the candidates by a Thompson sample of each one's conversion rate, best first.

    Every key's multiplier is sampled once per decision (one draw of the whole parameter
    vector) from Gamma(shape / e, rate / e), e = ``policy.exploration``: the user's
    posterior mean with e times its variance. A variant's sampled rate is the user's base
    times its keys' sampled multipliers times the contexts' shifts. ``groups`` are the
    taste groups' statistics (``clusters.fit``); none: the population is the prior.
    """
    fitted, shared = _user_model(candidates, user, population, groups, policy, rng)
    shift = _group_context_shift(candidates, shared, context_population, policy)
    exploration = policy.exploration
    gamma = rng.gammavariate
    log = math.log
    shape, rate = fitted.shape, fitted.rate
    sampled: dict[StatKey, float] = {}
    for keys in fitted.keys:
        for key in keys:
            if key not in sampled:
                draw = gamma(shape[key] / exploration, exploration / rate[key])
                sampled[key] = log(max(draw, _FLOOR)) + shift.get(key, 0.0)
    base = fitted.base
    scored = [
        (c.variant_id, math.exp(min(base + sum(sampled[key] for key in keys), 50.0)))
        for c, keys in zip(candidates, fitted.keys, strict=True)
    ]
    scored.sort(key=_second, reverse=True)
    return scored


def _second(item: tuple[str, float]) -> float:
    return item[1]


def in_holdout(workspace_id: str, surface_id: str, subject: str, percent: float) -> bool:
    """Whether this subject is in the surface's holdout: sticky, uniform, independent.

    sha256 of the three (NUL-separated, so ("a", "bc") and ("ab", "c") differ) read as a
    64-bit number and mapped to [0, 100); held out when that falls below ``percent``. The
    same subject always lands in the same place (so a wider holdout contains a narrower
    one), and surfaces are independent of each other.
    """
    if percent <= 0.0:
        return False
    if percent >= 100.0:
        return True
    digest = hashlib.sha256("\x00".join((workspace_id, surface_id, subject)).encode()).digest()
    return int.from_bytes(digest[:8], "big") * 100.0 / 2.0**64 < percent


@dataclass(frozen=True)
class LabelPreference:
    """What the agent believes of one label for one user (for "why this variant")."""

    dimension: str
    label: str
    mean: float
    low: float
    high: float
    trials: float
    successes: float
    population_mean: float


def preferences(
    user: Stats,
    population: Stats,
    dimensions: Mapping[str, Sequence[str]],
    policy: Policy = DEFAULT_POLICY,
    group: Stats | None = None,
) -> list[LabelPreference]:
    """The user's posterior for every label: mean, 95% credible interval, own evidence.

    Dimensions come in the given order; within one, labels from most to least preferred.
    No context applies: this is the agent's standing belief about the user, with the
    prior of their taste ``group`` when given (the likeliest, as decisions see it). Each
    dimension is rooted at the population's pooled rate over its listed labels.
    """
    result: list[LabelPreference] = []
    for dimension, labels in dimensions.items():
        keys = [(dimension, label) for label in labels]
        beliefs, _ = _beliefs(keys, user, population, (), policy, group)
        rows = [_preference(key, beliefs) for key in keys]
        rows.sort(key=_mean, reverse=True)
        result.extend(rows)
    return result


def _mean(preference: LabelPreference) -> float:
    return preference.mean


def _preference(key: StatKey, beliefs: _Beliefs) -> LabelPreference:
    own = beliefs.user.get(key, _ZERO)
    population_mean, _ = _population_prior(
        beliefs.population.get(key), beliefs.root, beliefs.policy
    )
    alpha, beta = beliefs.posterior(key)
    low, high = beta_interval(alpha, beta)
    return LabelPreference(
        dimension=key[0],
        label=key[1],
        mean=alpha / (alpha + beta),
        low=low,
        high=high,
        trials=own.trials,
        successes=own.successes,
        population_mean=population_mean,
    )
