"""The learning model of a per-user agent: hierarchical Beta posteriors, Thompson choices.

A surface's variants carry labels on dimensions (``offering=discount``, ``tone=urgent``)
plus the implicit ``_variant`` dimension whose label is the variant id. Every trial of a
variant adds one trial to each of its (dimension, label) keys, and a conversion one
success, for the user and for the workspace ("population").

Priors, from the top down, for one key:

* population: Beta(1 + s, 1 + n - s) with (n, s) capped at ``max_prior_trials`` (flat
  when nothing is known, so cold start is uniform);
* each context (day part, device, ...) with evidence pulls that mean toward its own
  rate: its mean is shrunk toward the population's with ``context_strength``
  pseudo-trials, and the shifts of all contexts add up in log-odds (independent
  effects, as in logistic regression);
* the user's prior is a Beta with that mean worth min(``prior_strength``, population
  evidence) pseudo-trials, then updated with the user's own counts.

Pure Python and allocation-light: it runs inside the request that serves a decision.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from rapport.decide.intervals import beta_interval, rate_summary, uplift_interval

__all__ = [
    "DEFAULT_POLICY",
    "VARIANT_DIMENSION",
    "Candidate",
    "Counts",
    "LabelPreference",
    "Policy",
    "StatKey",
    "Stats",
    "beta_interval",
    "choose",
    "in_holdout",
    "posterior",
    "preferences",
    "rate_summary",
    "stat_keys",
    "uplift_interval",
]

VARIANT_DIMENSION = "_variant"
_MIN_PARAMETER = 1e-6  # keeps Beta parameters valid when a prior has no weight
_LOGIT_CLAMP = 1e-9


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
    """A variant that may be shown: its id and its labels (without ``_variant``)."""

    variant_id: str
    labels: Mapping[str, str]


def stat_keys(candidate: Candidate) -> list[StatKey]:
    """The keys a trial or success of this variant updates: its labels and its id."""
    keys = [(dimension, label) for dimension, label in candidate.labels.items()]
    keys.append((VARIANT_DIMENSION, candidate.variant_id))
    return keys


@dataclass(frozen=True)
class Policy:
    """The knobs of the model; the defaults were chosen with ``rapport.decide.simulate``.

    ``prior_strength``: pseudo-trials the population is worth in a user's prior. Small,
    because users differ: a user's own few dozen trials must be able to overrule it.
    ``context_strength``: pseudo-trials the context-free population is worth in a
    context's prior. ``max_prior_trials``: population counts are scaled down to at most
    this many trials before forming priors, so years of traffic cannot make a context
    estimate (or the population mean a user is pulled to) immovable.
    ``version`` is recorded on every assignment.
    """

    prior_strength: float = 8.0
    context_strength: float = 50.0
    max_prior_trials: float = 5000.0
    version: str = "ts-hier-1"

    def __post_init__(self) -> None:
        if self.prior_strength < 0.0 or self.context_strength < 0.0:
            raise ValueError("strengths must be non-negative")
        if self.max_prior_trials <= 0.0:
            raise ValueError("max_prior_trials must be positive")


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


def _population_prior(counts: Counts | None, policy: Policy) -> tuple[float, float]:
    """Mean and evidence (pseudo-trials) of the population posterior Beta(1+s, 1+n-s)."""
    if counts is None:
        return 0.5, 2.0
    trials, successes = _capped(counts, policy.max_prior_trials)
    return (successes + 1.0) / (trials + 2.0), trials + 2.0


def _with_contexts(mean: float, key: StatKey, contexts: Sequence[Stats], policy: Policy) -> float:
    """The population mean moved by every context that has evidence on this key.

    A context's own mean (s + k m) / (n + k) is shrunk toward the population mean m, so a
    thin context barely moves it; the log-odds shifts of several contexts add up.
    """
    shift = 0.0
    for stats in contexts:
        counts = stats.get(key)
        if counts is None or counts.trials <= 0.0:
            continue
        trials, successes = _capped(counts, policy.max_prior_trials)
        strength = policy.context_strength
        local = (successes + strength * mean) / (trials + strength)
        shift += _logit(local) - _logit(mean)
    if shift == 0.0:
        return mean
    return 1.0 / (1.0 + math.exp(-(_logit(mean) + shift)))


def _user_posterior(
    key: StatKey, user: Stats, population: Stats, contexts: Sequence[Stats], policy: Policy
) -> tuple[float, float]:
    """The user's Beta for one key: population (and context) prior, then the user's counts.

    The prior is worth min(prior_strength, population evidence): a user cannot be more
    sure of the population than the population is of itself, which is also what makes
    the cold start a flat Beta(1, 1).
    """
    mean, evidence = _population_prior(population.get(key), policy)
    if contexts:
        mean = _with_contexts(mean, key, contexts, policy)
    strength = min(policy.prior_strength, evidence)
    return posterior(user.get(key, _ZERO), mean, strength)


def _draw(alpha: float, beta: float, rng: random.Random) -> tuple[float, float]:
    """A Thompson sample of the rate and the posterior variance a b / ((a+b)^2 (a+b+1))."""
    total = alpha + beta
    return rng.betavariate(alpha, beta), alpha * beta / (total * total * (total + 1.0))


def _reference_rate(
    candidates: Sequence[Candidate], user: Stats, population: Stats, policy: Policy
) -> float:
    """The user's overall rate on this surface: pooled over the candidates' ``_variant`` keys.

    Every trial updates exactly one ``_variant`` key, so their sums are the totals.
    """
    user_trials = user_successes = population_trials = population_successes = 0.0
    for candidate in candidates:
        key = (VARIANT_DIMENSION, candidate.variant_id)
        counts = user.get(key)
        if counts is not None:
            user_trials += counts.trials
            user_successes += counts.successes
        counts = population.get(key)
        if counts is not None:
            population_trials += counts.trials
            population_successes += counts.successes
    mean, evidence = _population_prior(Counts(population_trials, population_successes), policy)
    alpha, beta = posterior(
        Counts(user_trials, user_successes), mean, min(policy.prior_strength, evidence)
    )
    return alpha / (alpha + beta)


def choose(
    candidates: Sequence[Candidate],
    user: Stats,
    population: Stats,
    context_population: Sequence[Stats] = (),
    *,
    rng: random.Random,
    policy: Policy = DEFAULT_POLICY,
) -> list[tuple[str, float]]:
    """Rank the candidates by a Thompson sample of each one's conversion rate, best first.

    Each (dimension, label) posterior is sampled once per decision and shared by every
    variant carrying that label (one draw of the whole parameter vector). A variant's
    score combines two estimates of its rate:

    * additive: r + sum over its labels of (sample - r), where r is the user's overall
      rate; under an additive model each label's rate is r plus that label's effect;
    * direct: the sample of its own ``_variant`` posterior.

    They are averaged with inverse-variance weights (posterior variances, the sum of
    the labels' for the additive one): labels, which pool many more trials, lead while a
    variant's own evidence is thin, and a variant whose own record departs from what its
    labels predict (an interaction) takes over as that record grows. A variant without
    labels is scored by its own posterior alone.
    """
    if not candidates:
        return []
    reference = _reference_rate(candidates, user, population, policy)
    draws: dict[StatKey, tuple[float, float]] = {}

    def sample(key: StatKey) -> tuple[float, float]:
        drawn = draws.get(key)
        if drawn is None:
            alpha, beta = _user_posterior(key, user, population, context_population, policy)
            drawn = draws[key] = _draw(alpha, beta, rng)
        return drawn

    scored = [
        (candidate.variant_id, _score(candidate, reference, sample)) for candidate in candidates
    ]
    scored.sort(key=_by_score, reverse=True)
    return scored


def _by_score(item: tuple[str, float]) -> float:
    return item[1]


def _score(
    candidate: Candidate,
    reference: float,
    sample: Callable[[StatKey], tuple[float, float]],
) -> float:
    """The inverse-variance combination of the additive and the direct estimate."""
    direct, direct_variance = sample((VARIANT_DIMENSION, candidate.variant_id))
    if not candidate.labels:
        return direct
    additive, additive_variance = reference, 0.0
    for dimension, label in candidate.labels.items():
        value, variance = sample((dimension, label))
        additive += value - reference
        additive_variance += variance
    total = additive_variance + direct_variance
    return (additive * direct_variance + direct * additive_variance) / total


def in_holdout(workspace_id: str, surface_id: str, subject: str, percent: float) -> bool:
    """Whether this subject is in the surface's holdout: sticky, uniform, independent.

    sha256 of the three (NUL-separated, so ("a", "bc") and ("ab", "c") differ) is read as
    a 64-bit number mapped to [0, 100); the subject is held out when that falls below
    ``percent``. The same subject always lands in the same place, and surfaces are
    independent of each other, so a holdout of 10% is 10% of every surface.
    """
    if percent <= 0.0:
        return False
    if percent >= 100.0:
        return True
    material = "\x00".join((workspace_id, surface_id, subject)).encode()
    digest = hashlib.sha256(material).digest()
    position = int.from_bytes(digest[:8], "big") * 100.0 / 2.0**64
    return position < percent


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
) -> list[LabelPreference]:
    """The user's posterior for every label: mean and 95% credible interval, own evidence.

    Dimensions come in the given order; within one, labels from most to least preferred.
    No context is applied: this explains the agent's standing belief about the user.
    """
    result: list[LabelPreference] = []
    for dimension, labels in dimensions.items():
        rows = [_preference(dimension, label, user, population, policy) for label in labels]
        rows.sort(key=_by_mean, reverse=True)
        result.extend(rows)
    return result


def _by_mean(preference: LabelPreference) -> float:
    return preference.mean


def _preference(
    dimension: str, label: str, user: Stats, population: Stats, policy: Policy
) -> LabelPreference:
    key = (dimension, label)
    own = user.get(key, _ZERO)
    population_mean, _ = _population_prior(population.get(key), policy)
    alpha, beta = _user_posterior(key, user, population, (), policy)
    low, high = beta_interval(alpha, beta)
    return LabelPreference(
        dimension=dimension,
        label=label,
        mean=alpha / (alpha + beta),
        low=low,
        high=high,
        trials=own.trials,
        successes=own.successes,
        population_mean=population_mean,
    )
