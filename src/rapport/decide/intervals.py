"""Credible intervals for conversion rates, in pure Python.

Reporting ("why does this user get this variant", "what did the agents earn over the
holdout") needs exact Beta quantiles without numpy or scipy. The regularized incomplete
beta function is evaluated with its continued fraction (modified Lentz), and inverted
with Newton steps kept inside a shrinking bisection bracket, so the quantile always
converges even where Newton alone would overshoot (very skewed Betas).
"""

from __future__ import annotations

import math
import random
from typing import Protocol

__all__ = [
    "CountsLike",
    "beta_cdf",
    "beta_interval",
    "beta_ppf",
    "rate_summary",
    "uplift_interval",
]

_TINY = 1e-300
_CF_EPSILON = 3e-16
_CF_MAX_ITERATIONS = 100_000
_QUANTILE_TOLERANCE = 1e-13
_STIRLING_FROM = 100.0


class CountsLike(Protocol):
    """Anything with trials and successes (``rapport.decide.model.Counts``)."""

    @property
    def trials(self) -> float: ...

    @property
    def successes(self) -> float: ...


def _log_beta(alpha: float, beta: float) -> float:
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), without cancellation.

    With a million trials lgamma(b) and lgamma(a + b) are ~1e7 and nearly equal, so
    subtracting them loses ~9 digits. For a large argument L and the sum T = s + L,
    Stirling's series gives the difference directly as
    -(L - 1/2) log1p(s / L) - s log T + s + c(L) - c(T), whose terms do not cancel.
    """
    small, large = (alpha, beta) if alpha <= beta else (beta, alpha)
    if large < _STIRLING_FROM:
        return math.lgamma(alpha) + math.lgamma(beta) - math.lgamma(alpha + beta)
    total = small + large
    difference = (
        -(large - 0.5) * math.log1p(small / large)
        - small * math.log(total)
        + small
        + _stirling_correction(large)
        - _stirling_correction(total)
    )
    return math.lgamma(small) + difference


def _stirling_correction(x: float) -> float:
    """lgamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2), accurate to 1e-17 for x >= 100."""
    inverse = 1.0 / x
    square = inverse * inverse
    return inverse * (1.0 / 12.0 - square * (1.0 / 360.0 - square * (1.0 / 1260.0)))


def _continued_fraction(alpha: float, beta: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes' ``betacf``).

    It converges quickly for x < (a + 1) / (a + b + 2); the caller uses the symmetry
    I_x(a, b) = 1 - I_{1-x}(b, a) to stay on that side. The number of terms grows like
    sqrt(max(a, b)), so even a million trials need only about a thousand.
    """
    qab, qap, qam = alpha + beta, alpha + 1.0, alpha - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _CF_MAX_ITERATIONS + 1):
        m2 = 2 * m
        for numerator in (
            m * (beta - m) * x / ((qam + m2) * (alpha + m2)),
            -(alpha + m) * (qab + m) * x / ((alpha + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _CF_EPSILON:
            break
    return h


def beta_cdf(x: float, alpha: float, beta: float) -> float:
    """The regularized incomplete beta function I_x(alpha, beta) = P(X <= x)."""
    if alpha <= 0.0 or beta <= 0.0:
        raise ValueError("Beta parameters must be positive")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = alpha * math.log(x) + beta * math.log1p(-x) - _log_beta(alpha, beta)
    front = math.exp(log_front)
    if x < (alpha + 1.0) / (alpha + beta + 2.0):
        return front * _continued_fraction(alpha, beta, x) / alpha
    return 1.0 - front * _continued_fraction(beta, alpha, 1.0 - x) / beta


def _beta_log_pdf(x: float, alpha: float, beta: float) -> float:
    return (alpha - 1.0) * math.log(x) + (beta - 1.0) * math.log1p(-x) - _log_beta(alpha, beta)


def beta_ppf(probability: float, alpha: float, beta: float) -> float:
    """The quantile function of Beta(alpha, beta): the x with I_x(alpha, beta) = p.

    Newton's step x - (F(x) - p) / f(x) converges quadratically near the root; the
    bracket [low, high] (F(low) < p < F(high)) is narrowed on every evaluation, and a
    step that leaves it is replaced by bisection, so convergence is guaranteed.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability must be in [0, 1]")
    if probability == 0.0:
        return 0.0
    if probability == 1.0:
        return 1.0
    low, high = 0.0, 1.0
    x = alpha / (alpha + beta)
    for _ in range(200):
        error = beta_cdf(x, alpha, beta) - probability
        if error < 0.0:
            low = x
        else:
            high = x
        if high - low < _QUANTILE_TOLERANCE or error == 0.0:
            break
        x = _next_guess(x, error, low, high, alpha, beta)
    return x


def _next_guess(
    x: float, error: float, low: float, high: float, alpha: float, beta: float
) -> float:
    """One Newton step from x, or the bracket's midpoint when Newton cannot be trusted."""
    midpoint = 0.5 * (low + high)
    if x <= 0.0 or x >= 1.0:
        return midpoint
    log_density = _beta_log_pdf(x, alpha, beta)
    if log_density < -700.0:
        return midpoint
    step = x - error / math.exp(log_density)
    if not low < step < high:
        return midpoint
    return step


def beta_interval(alpha: float, beta: float, level: float = 0.95) -> tuple[float, float]:
    """The equal-tailed credible interval of Beta(alpha, beta) holding ``level`` of its mass."""
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    tail = (1.0 - level) / 2.0
    return beta_ppf(tail, alpha, beta), beta_ppf(1.0 - tail, alpha, beta)


def _flat_posterior(successes: float, trials: float) -> tuple[float, float]:
    """Beta(1 + s, 1 + n - s): a flat prior updated with the counts (s clamped to [0, n])."""
    trials = max(trials, 0.0)
    successes = min(max(successes, 0.0), trials)
    return 1.0 + successes, 1.0 + trials - successes


def rate_summary(successes: float, trials: float) -> tuple[float, float, float]:
    """Posterior mean and 95% interval of a rate under a flat prior, Beta(1+s, 1+n-s).

    The flat prior keeps the summary defined with no data (0.5 in [0.025, 0.975]) and
    pulls tiny samples toward the middle instead of reporting 0% or 100%.
    """
    alpha, beta = _flat_posterior(successes, trials)
    low, high = beta_interval(alpha, beta)
    return alpha / (alpha + beta), low, high


def uplift_interval(
    treated: CountsLike, control: CountsLike, *, draws: int = 4000, seed: int = 0
) -> tuple[float, float, float]:
    """The difference of rates (treated - control): mean and 95% credible interval.

    Each rate is Beta(1+s, 1+n-s); the difference of two Betas has no closed form, so the
    interval comes from ``draws`` paired samples with a fixed seed (reports are
    reproducible). The mean is exact: the difference of the posterior means.
    """
    if draws < 2:
        raise ValueError("draws must be at least 2")
    treated_ab = _flat_posterior(treated.successes, treated.trials)
    control_ab = _flat_posterior(control.successes, control.trials)
    rng = random.Random(seed)
    differences = sorted(
        rng.betavariate(*treated_ab) - rng.betavariate(*control_ab) for _ in range(draws)
    )
    mean = treated_ab[0] / sum(treated_ab) - control_ab[0] / sum(control_ab)
    return mean, _sorted_quantile(differences, 0.025), _sorted_quantile(differences, 0.975)


def _sorted_quantile(values: list[float], probability: float) -> float:
    """Linear interpolation between order statistics (numpy's default 'linear' method)."""
    position = probability * (len(values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)
