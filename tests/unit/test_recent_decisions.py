"""The per-process memory of people's latest decisions: what it may serve, and when not."""

from __future__ import annotations

from rapport.decide.recent import RecentDecisions
from rapport.decide.storage import LatestDecision


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def decision(surface: str, at: float, assignment: str | None = None) -> LatestDecision:
    return LatestDecision(assignment or f"a-{surface}-{at}", surface, "v1", ("v2",), "agent", at)


KEY = ("ws", "ada", ())


def test_serves_only_people_with_every_asked_surface_remembered() -> None:
    recent = RecentDecisions(5.0, clock=Clock())
    recent.remember(KEY, "p1", [decision("s1", 1.0)], recent.generation("ws"))
    found = recent.lookup(KEY, ["s1"])
    assert found is not None
    assert found.profile_id == "p1"
    assert found.latest["s1"].id == "a-s1-1.0"
    assert recent.lookup(KEY, ["s1", "s2"]) is None
    assert recent.lookup(("ws", "bob", ()), ["s1"]) is None
    assert recent.lookup(("other", "ada", ()), ["s1"]) is None


def test_each_decision_is_remembered_for_ttl_from_its_own_read() -> None:
    clock = Clock()
    recent = RecentDecisions(5.0, clock=clock)
    recent.remember(KEY, "p1", [decision("s1", 1.0)], 0)
    clock.now += 4.0
    recent.remember(KEY, "p1", [decision("s2", 2.0)], 0)
    assert recent.lookup(KEY, ["s1", "s2"]) is not None
    clock.now += 1.0  # s1 was read 5 s ago, s2 4 s ago
    assert recent.lookup(KEY, ["s1"]) is None
    assert recent.lookup(KEY, ["s2"]) is not None


def test_the_newer_decision_wins() -> None:
    recent = RecentDecisions(5.0, clock=Clock())
    recent.remember(KEY, "p1", [decision("s1", 2.0, "newer")], 0)
    recent.remember(KEY, "p1", [decision("s1", 1.0, "older")], 0)  # a slow read
    found = recent.lookup(KEY, ["s1"])
    assert found is not None
    assert found.latest["s1"].id == "newer"


def test_a_merge_or_erasure_forgets_the_workspace_and_reads_from_before_it() -> None:
    recent = RecentDecisions(5.0, clock=Clock())
    before = recent.generation("ws")
    recent.remember(KEY, "p1", [decision("s1", 1.0)], before)
    recent.remember(("other", "ada", ()), "p9", [decision("s1", 1.0)], 0)
    recent.invalidate("ws")
    assert recent.lookup(KEY, ["s1"]) is None
    assert recent.lookup(("other", "ada", ()), ["s1"]) is not None
    # A read that began before the invalidation must not be remembered after it.
    recent.remember(KEY, "p1", [decision("s1", 1.0)], before)
    assert recent.lookup(KEY, ["s1"]) is None
    recent.remember(KEY, "p1", [decision("s1", 1.0)], recent.generation("ws"))
    assert recent.lookup(KEY, ["s1"]) is not None


def test_another_profile_replaces_what_was_remembered() -> None:
    recent = RecentDecisions(5.0, clock=Clock())
    recent.remember(KEY, "p1", [decision("s1", 1.0), decision("s2", 1.0)], 0)
    recent.remember(KEY, "p2", [decision("s1", 3.0)], 0)
    assert recent.lookup(KEY, ["s2"]) is None
    found = recent.lookup(KEY, ["s1"])
    assert found is not None
    assert found.profile_id == "p2"


def test_off_and_bounded() -> None:
    off = RecentDecisions(0.0, clock=Clock())
    off.remember(KEY, "p1", [decision("s1", 1.0)], 0)
    assert off.lookup(KEY, ["s1"]) is None
    small = RecentDecisions(5.0, max_people=2, clock=Clock())
    for name in ("a", "b", "c"):
        small.remember(("ws", name, ()), "p", [decision("s1", 1.0)], 0)
    assert small.lookup(("ws", "a", ()), ["s1"]) is None
    assert small.lookup(("ws", "c", ()), ["s1"]) is not None


def test_an_absence_is_remembered_but_never_hides_a_decision() -> None:
    recent = RecentDecisions(5.0, clock=Clock())
    recent.remember(KEY, "p1", [], 0, absent=["s1"])
    found = recent.lookup(KEY, ["s1"])
    assert found is not None
    assert found.latest == {}
    recent.remember(KEY, "p1", [decision("s1", 1.0, "made")], 0)
    recent.remember(KEY, "p1", [], 0, absent=["s1"])  # a read from before it was stored
    found = recent.lookup(KEY, ["s1"])
    assert found is not None
    assert found.latest["s1"].id == "made"
