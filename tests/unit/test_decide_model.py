"""The per-user learning model: it must learn, stay fair when it knows nothing, and be fast.

Every statistical assertion uses fixed seeds, with tolerances wide enough that a correct
model passes for any seed and narrow enough that a broken one (ignoring labels, ignoring
the population, biased cold start) fails.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping

import pytest

from rapport.decide import model, simulate
from rapport.decide.intervals import beta_cdf, beta_ppf
from rapport.decide.model import (
    DEFAULT_POLICY,
    VARIANT_DIMENSION,
    Candidate,
    Counts,
    Policy,
    StatKey,
    beta_interval,
    choose,
    in_holdout,
    posterior,
    preferences,
    rate_summary,
    stat_keys,
    uplift_interval,
)

CANDIDATES = simulate.all_candidates()  # 27 variants: offering x tone x layout
CHI_SQUARE_26_DF_999 = 54.05  # chi-square critical value, 26 degrees of freedom, p = 0.001


def _top_choices(
    user: Mapping[StatKey, Counts],
    population: Mapping[StatKey, Counts],
    contexts: tuple[Mapping[StatKey, Counts], ...] = (),
    *,
    rounds: int = 2000,
    seed: int = 7,
    candidates: tuple[Candidate, ...] = CANDIDATES,
) -> Counter[str]:
    rng = random.Random(seed)
    return Counter(
        choose(candidates, user, population, contexts, rng=rng)[0][0] for _ in range(rounds)
    )


def _label_share(choices: Counter[str], dimension: str, label: str) -> float:
    labels = {c.variant_id: c.labels[dimension] for c in CANDIDATES}
    chosen = sum(count for variant, count in choices.items() if labels[variant] == label)
    return chosen / sum(choices.values())


def _stats(
    rates: Mapping[str, Mapping[str, float]] | None = None,
    *,
    per_variant: float,
    base: float = 0.1,
) -> dict[StatKey, Counts]:
    """Consistent counts: every variant shown ``per_variant`` times, converting at base
    plus the given label rates' differences from base (additive effects)."""
    rates = rates or {}
    stats: dict[StatKey, Counts] = {}
    for candidate in CANDIDATES:
        labels = candidate.labels.items()
        rate = base + sum(rates.get(d, {}).get(label, base) - base for d, label in labels)
        for key in stat_keys(candidate):
            counts = stats.get(key, Counts())
            stats[key] = Counts(counts.trials + per_variant, counts.successes + rate * per_variant)
    return stats


def test_stat_keys_are_the_labels_and_the_variant() -> None:
    candidate = Candidate("v1", {"offering": "discount", "tone": "urgent"})
    assert stat_keys(candidate) == [
        ("offering", "discount"),
        ("tone", "urgent"),
        (VARIANT_DIMENSION, "v1"),
    ]
    assert stat_keys(Candidate("bare", {})) == [(VARIANT_DIMENSION, "bare")]


def test_choose_ranks_every_candidate_best_first() -> None:
    ranked = choose(CANDIDATES, {}, {}, rng=random.Random(1))
    assert sorted(variant for variant, _ in ranked) == sorted(c.variant_id for c in CANDIDATES)
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    assert choose([], {}, {}, rng=random.Random(1)) == []


def test_with_no_data_every_variant_is_equally_likely() -> None:
    rounds = 27 * 400
    choices = _top_choices({}, {}, rounds=rounds)
    expected = rounds / len(CANDIDATES)
    chi_square = sum((choices[c.variant_id] - expected) ** 2 / expected for c in CANDIDATES)
    assert len(choices) == len(CANDIDATES)
    assert chi_square < CHI_SQUARE_26_DF_999


def test_a_users_evidence_for_a_label_wins_over_a_neutral_population() -> None:
    population = _stats(per_variant=100)
    user = _stats(
        {"offering": {"discount": 0.4, "bundle": 0.05, "free_shipping": 0.05}}, per_variant=2
    )
    assert _label_share(_top_choices(user, population), "offering", "discount") > 0.8
    # The same user with no evidence stays near a third.
    assert _label_share(_top_choices({}, population), "offering", "discount") < 0.45


def test_a_new_user_follows_the_populations_preference() -> None:
    rates = {"friendly": 0.20, "formal": 0.14, "urgent": 0.06}
    population = _stats({"tone": rates}, per_variant=100)
    choices = _top_choices({}, population)
    shares = {label: _label_share(choices, "tone", label) for label in rates}
    assert shares["friendly"] > 0.6
    assert shares["friendly"] > shares["formal"] > shares["urgent"]


def test_what_a_user_showed_about_a_label_carries_over_to_variants_never_shown() -> None:
    population = _stats(per_variant=100)
    liked, disliked = CANDIDATES[0], CANDIDATES[9]  # discount / bundle, same tone and layout
    assert (liked.labels["offering"], disliked.labels["offering"]) == ("discount", "bundle")
    user: dict[StatKey, Counts] = {}
    for shown, conversions in ((liked, 5.0), (disliked, 0.0)):
        for key in stat_keys(shown):
            counts = user.get(key, Counts())
            user[key] = Counts(counts.trials + 10.0, counts.successes + conversions)
    unseen = tuple(c for c in CANDIDATES if c not in (liked, disliked))
    choices = _top_choices(user, population, candidates=unseen)
    assert _label_share(choices, "offering", "discount") > 0.6
    assert _label_share(choices, "offering", "bundle") < 0.2


def test_enough_own_evidence_overrides_the_population() -> None:
    population = _stats({"tone": {"friendly": 0.2}}, per_variant=100)
    user = _stats({"tone": {"friendly": 0.0, "formal": 0.0, "urgent": 0.5}}, per_variant=3)
    assert _label_share(_top_choices(user, population), "tone", "urgent") > 0.8


def test_a_context_with_evidence_moves_the_choice() -> None:
    population = _stats(per_variant=100)
    evening = _stats({"tone": {"friendly": 0.05, "formal": 0.05, "urgent": 0.25}}, per_variant=30)
    without = _label_share(_top_choices({}, population), "tone", "urgent")
    with_context = _label_share(_top_choices({}, population, (evening,)), "tone", "urgent")
    assert without < 0.45
    assert with_context > 0.7
    # A context without evidence changes nothing.
    assert _top_choices({}, population, ({},)) == _top_choices({}, population)


def test_a_context_still_counts_once_the_user_has_evidence() -> None:
    population = _stats(per_variant=100)
    user = _stats(per_variant=4)  # a user as average as the population, 36 trials per label
    evening = _stats({"tone": {"friendly": 0.05, "formal": 0.05, "urgent": 0.25}}, per_variant=30)
    assert _label_share(_top_choices(user, population, (evening,)), "tone", "urgent") > 0.6


def test_unlabeled_variants_learn_from_their_own_record() -> None:
    bare = (Candidate("a", {}), Candidate("b", {}), Candidate("c", {}))
    population = {(VARIANT_DIMENSION, c.variant_id): Counts(300, 30) for c in bare}
    user = {
        (VARIANT_DIMENSION, "a"): Counts(15, 0),
        (VARIANT_DIMENSION, "b"): Counts(15, 6),
        (VARIANT_DIMENSION, "c"): Counts(15, 1),
    }
    choices = _top_choices(user, population, candidates=bare)
    assert choices["b"] / sum(choices.values()) > 0.8


def test_an_unseen_variant_starts_like_the_surface_not_at_fifty_percent() -> None:
    population = _stats({"offering": {"discount": 0.2}}, per_variant=100)
    newcomer = Candidate("new", {"offering": "discount", "tone": "urgent", "layout": "card"})
    choices = _top_choices({}, population, candidates=(*CANDIDATES, newcomer))
    # Scored by its (good) labels: about as often as its 9 discount siblings, not always.
    assert 0.02 < choices["new"] / sum(choices.values()) < 0.3


def test_a_variant_whose_own_record_contradicts_its_labels_is_demoted() -> None:
    # The population loves "discount", but one discount variant never converts.
    population = _stats({"offering": {"discount": 0.3}}, per_variant=100)
    dud = next(c for c in CANDIDATES if c.labels["offering"] == "discount")
    population[(VARIANT_DIMENSION, dud.variant_id)] = Counts(1000, 0)
    choices = _top_choices({}, population)
    assert choices[dud.variant_id] < 2000 / 27 / 3


def test_choices_are_reproducible_with_a_seeded_rng() -> None:
    population = _stats({"tone": {"friendly": 0.2}}, per_variant=10)
    first = choose(CANDIDATES, {}, population, rng=random.Random(3))
    assert choose(CANDIDATES, {}, population, rng=random.Random(3)) == first


def test_shared_priors_are_reused_only_for_the_same_snapshot_and_context() -> None:
    """Decisions in one population snapshot share its priors; a new snapshot (or another
    context) is decided from its own numbers, as if nothing had been remembered."""
    user = _stats({"tone": {"urgent": 0.3}}, per_variant=2)
    evening = _stats({"tone": {"formal": 0.3}}, per_variant=30)
    before = _stats({"tone": {"friendly": 0.2}}, per_variant=10)
    after = _stats({"tone": {"formal": 0.25}}, per_variant=40)  # a new snapshot

    def ranked(
        population: dict[StatKey, Counts], contexts: tuple[dict[StatKey, Counts], ...]
    ) -> list[tuple[str, float]]:
        return choose(CANDIDATES, user, population, contexts, rng=random.Random(11))

    cases = [(p, c) for p in (before, after) for c in ((), (evening,), ({},))]
    first = [ranked(population, contexts) for population, contexts in cases]
    model._CACHE.clear()
    again = [ranked(population, contexts) for population, contexts in reversed(cases)]
    assert again[::-1] == first
    # An empty context counts as none; evidence in a context changes the draw; so does
    # a new snapshot.
    assert first[2] == first[0] != first[1]
    assert first[3] != first[0]


def test_keys_a_user_has_no_record_of_are_drawn_from_the_shared_priors() -> None:
    """The draw for a key the user never saw comes precomputed from the snapshot; it
    must be exactly what the user's own (empty) record would give."""
    population = _stats({"tone": {"friendly": 0.2}}, per_variant=10)
    evening = _stats({"offering": {"bundle": 0.3}}, per_variant=30)
    seen = _stats({"tone": {"urgent": 0.3}}, per_variant=2)
    partial = {key: counts for index, (key, counts) in enumerate(seen.items()) if index % 3}
    for user in ({}, partial):
        explicit = {key: user.get(key, Counts()) for key in seen}  # every key, zeros
        for contexts in ((), (evening,)):
            drawn = choose(CANDIDATES, user, population, contexts, rng=random.Random(5))
            computed = choose(CANDIDATES, explicit, population, contexts, rng=random.Random(5))
            assert drawn == computed
    shared = model._shared_priors(CANDIDATES, population, [evening], DEFAULT_POLICY)
    beliefs, _ = model._beliefs(shared.keys, {}, population, [evening], DEFAULT_POLICY)
    exploration = DEFAULT_POLICY.exploration
    for key, (a, b, variance) in zip(shared.order, shared.unseen(), strict=True):
        alpha, beta = beliefs.posterior(key)
        assert (a, b) == pytest.approx((alpha / exploration, beta / exploration), rel=1e-12)
        total = alpha + beta
        assert variance == pytest.approx(alpha * beta / (total * total * (total + 1.0)))


def test_posterior_is_the_conjugate_update_of_the_shrunk_prior() -> None:
    assert posterior(Counts(10, 3), 0.2, 5.0) == pytest.approx((4.0, 11.0))
    assert posterior(Counts(), 0.5, 2.0) == pytest.approx((1.0, 1.0))
    # Inconsistent counts are clamped rather than producing an invalid Beta.
    alpha, beta = posterior(Counts(2, 5), 0.1, 0.0)
    assert alpha == pytest.approx(2.0)
    assert beta > 0.0


def test_policy_rejects_nonsense() -> None:
    assert DEFAULT_POLICY.version
    with pytest.raises(ValueError, match="strength"):
        Policy(prior_strength=-1.0)
    with pytest.raises(ValueError, match="max_prior_trials"):
        Policy(max_prior_trials=0.0)
    with pytest.raises(ValueError, match="exploration"):
        Policy(exploration=0.0)


def test_preferences_explain_what_the_agent_believes() -> None:
    population = _stats(per_variant=10)  # 90 trials, 9 conversions per label
    user = _stats({"tone": {"friendly": 0.0, "formal": 0.05, "urgent": 0.5}}, per_variant=2)
    rows = preferences(user, population, {"tone": ["friendly", "formal", "urgent"], "x": ["y"]})
    assert [(row.dimension, row.label) for row in rows] == [
        ("tone", "urgent"),
        ("tone", "formal"),
        ("tone", "friendly"),
        ("x", "y"),
    ]
    urgent = rows[0]
    assert (urgent.trials, urgent.successes) == pytest.approx((18, 9))
    assert urgent.low < urgent.mean < urgent.high
    assert urgent.population_mean == pytest.approx(0.1, abs=1e-3)
    # Shrunk toward the population: between it and the user's own 50%.
    assert urgent.population_mean < urgent.mean < 0.5
    unknown = rows[3]
    assert (unknown.trials, unknown.mean, unknown.population_mean) == (0, 0.5, 0.5)


def test_holdout_is_sticky_proportional_and_independent_per_surface() -> None:
    subjects = [f"user-{index}" for index in range(20_000)]
    held = [in_holdout("acme", "surface-a", subject, 10.0) for subject in subjects]
    assert 0.09 <= sum(held) / len(subjects) <= 0.11
    assert held == [in_holdout("acme", "surface-a", subject, 10.0) for subject in subjects]
    other = [in_holdout("acme", "surface-b", subject, 10.0) for subject in subjects]
    both = sum(a and b for a, b in zip(held, other, strict=True)) / len(subjects)
    assert 0.005 <= both <= 0.015  # independent: about 10% of 10%
    # A larger holdout contains the smaller one (the hash position is fixed).
    wider = [in_holdout("acme", "surface-a", subject, 25.0) for subject in subjects]
    assert all(w for h, w in zip(held, wider, strict=True) if h)
    assert 0.24 <= sum(wider) / len(subjects) <= 0.26


def test_holdout_edge_cases() -> None:
    subjects = [f"s{index}" for index in range(2000)]
    assert not any(in_holdout("w", "s", subject, 0.0) for subject in subjects)
    assert all(in_holdout("w", "s", subject, 100.0) for subject in subjects)
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    split = [in_holdout("ab", "c", s, 50.0) == in_holdout("a", "bc", s, 50.0) for s in subjects]
    assert not all(split)


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 1.0), (3.0, 1.0), (0.5, 1.0), (1.0, 7.0)])
def test_beta_quantiles_match_the_closed_forms(alpha: float, beta: float) -> None:
    # Beta(a, 1) has CDF x^a; Beta(1, b) has CDF 1 - (1 - x)^b.
    for probability in (0.001, 0.025, 0.5, 0.975, 0.999):
        if beta == 1.0:
            exact = probability ** (1.0 / alpha)
        else:
            exact = 1.0 - (1.0 - probability) ** (1.0 / beta)
        assert beta_ppf(probability, alpha, beta) == pytest.approx(exact, rel=1e-9, abs=1e-12)


def test_beta_interval_known_values() -> None:
    assert beta_interval(1.0, 1.0) == pytest.approx((0.025, 0.975))
    # Symmetric Betas have symmetric intervals; the median of Beta(2, 2) is 1/2.
    low, high = beta_interval(2.0, 2.0)
    assert low == pytest.approx(1.0 - high)
    # Reference values from scipy.stats.beta.ppf (scipy 1.17).
    assert low == pytest.approx(0.09429932405024609, abs=1e-12)
    low, high = beta_interval(11.0, 91.0, level=0.9)
    assert (low, high) == pytest.approx((0.06228889, 0.16215457), abs=1e-8)
    assert beta_interval(3.0, 7.0) == pytest.approx((0.07485463, 0.60009357), abs=1e-8)
    # A million trials: still exact.
    low, high = beta_interval(300_001.0, 700_001.0)
    assert low < 0.3 < high
    assert high - low == pytest.approx(2 * 1.959964 * math.sqrt(0.21 / 1_000_002), rel=1e-3)
    with pytest.raises(ValueError, match="level"):
        beta_interval(1.0, 1.0, level=1.0)


def test_beta_interval_matches_scipy() -> None:
    from scipy import stats  # a test-only reference implementation

    rng = random.Random(11)
    for _ in range(300):
        alpha, beta = 10 ** rng.uniform(-1.5, 5.5), 10 ** rng.uniform(-1.5, 5.5)
        for probability in (0.001, 0.025, 0.5, 0.975):
            expected = float(stats.beta.ppf(probability, alpha, beta))
            assert beta_ppf(probability, alpha, beta) == pytest.approx(
                expected, rel=1e-7, abs=1e-12
            )
        x = rng.random()
        assert beta_cdf(x, alpha, beta) == pytest.approx(
            float(stats.beta.cdf(x, alpha, beta)), rel=1e-8, abs=1e-12
        )


def test_rate_summary_uses_a_flat_prior() -> None:
    assert rate_summary(0, 0) == pytest.approx((0.5, 0.025, 0.975))
    mean, low, high = rate_summary(30, 100)
    assert mean == pytest.approx(31 / 102)
    assert low < 0.3 < high
    assert rate_summary(0, 100)[1] == pytest.approx(0.0, abs=1e-3)


def test_uplift_interval_has_the_right_sign() -> None:
    better, worse = Counts(1000, 200), Counts(1000, 100)
    mean, low, high = uplift_interval(better, worse)
    assert mean == pytest.approx(201 / 1002 - 101 / 1002)
    assert 0.0 < low < mean < high
    mean, low, high = uplift_interval(worse, better)
    assert low < mean < high < 0.0
    _, low, high = uplift_interval(Counts(500, 50), Counts(500, 50))
    assert low < 0.0 < high
    assert uplift_interval(better, worse, seed=3) == uplift_interval(better, worse, seed=3)


@pytest.mark.parametrize("kind", simulate.WORLD_KINDS)
def test_agents_learn_in_a_simulated_world(kind: simulate.WorldKind) -> None:
    """A small world (40 users x 90 arrivals, four seeds: with two, one unlucky run moves
    the mean by more than the margins): the agents must capture a good share of the
    oracle's lift over random, clearly more than the best non-personalized sampler, and,
    where day parts matter, more with context statistics than without."""
    reports = [
        simulate.evaluate(simulate.WorldSpec(kind, seed=seed, users=40, arrivals_per_user=90))
        for seed in (0, 1, 2, 3)
    ]

    def captured(strategy: str) -> float:
        return sum(report.captured(strategy) for report in reports) / len(reports)

    assert captured("agents") > 0.35
    assert captured("agents") > captured("population") + 0.1
    if kind == "contextual":
        assert captured("agents") > captured("agents_no_context") + 0.05
    if kind == "individual":  # as good as a per-user learner that knows the world's model
        assert captured("agents") > captured("ideal") - 0.1
