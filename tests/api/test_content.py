"""The Content API over real HTTP: decisions, stickiness, holdout, feedback, learning."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from rapport.core.db import Database
from rapport.core.keys import KeyKind
from rapport.decide import storage
from rapport.decide.catalog import Catalog
from rapport.decide.feedback import Feedback
from rapport.decide.grouping import GroupFitter
from rapport.decide.model import Policy
from tests.api.test_surfaces import surface_body
from tests.conftest import Ingest, ThreadedServer, Workspace, access_token, management_headers

NOW = time.time


def four_tones(**control: Any) -> dict[str, Any]:
    """A surface whose variants differ only in tone."""
    body = surface_body(
        control={"min_gap_days": 0, "holdout_percent": 0, "sticky_seconds": 0, **control}
    )
    body["variants"] = [
        {
            "name": tone,
            "payload": {"tone": tone},
            "labels": {"tone": tone},
            "default": tone == "calm",
        }
        for tone in ("calm", "urgent", "playful", "formal")
    ]
    return body


class Content:
    """The Content API of one workspace."""

    def __init__(self, http: httpx.Client, workspace: Workspace) -> None:
        self.http = http
        self.key = workspace.keys[KeyKind.SURFACES]

    def get(self, contact_id: str, *surface_ids: str, **params: Any) -> httpx.Response:
        query: list[tuple[str, str]] = [("contact_id", contact_id)]
        query += [("surface_id", s) for s in surface_ids]
        query += [(k, str(v).lower()) for k, v in params.items()]
        return self.http.get("/v1/surface/content", params=query, headers={"X-API-Key": self.key})

    def one(self, contact_id: str, surface_id: str, **params: Any) -> dict[str, Any]:
        response = self.get(contact_id, surface_id, **params)
        assert response.status_code == 200, response.text
        [item] = response.json()
        return dict(item)


@pytest.fixture
def content(http: httpx.Client, workspace: Workspace) -> Content:
    return Content(http, workspace)


def feedback(ingest: Ingest, contact_id: str, item: dict[str, Any], converted: bool) -> None:
    """What an app sends after showing content: an impression, and maybe a purchase."""
    now = NOW()
    events = [
        {
            "contact_id": contact_id,
            "event_name": "surface_impression",
            "timestamp": now,
            "metadata": {"assignment_id": item["assignment_id"]},
        }
    ]
    if converted:
        events.append({"contact_id": contact_id, "event_name": "purchase", "timestamp": now + 1})
    assert ingest.aampe("/v1/events", events).status_code == 202


def test_the_contract_of_one_answer(admin: httpx.Client, content: Content) -> None:
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    item = content.one("u1", surface["id"])
    assert set(item) == {
        "surface_id", "assignment_id", "n_alternates", "control", "alternates", "variant", "policy"
    }  # fmt: skip
    assert item["surface_id"] == surface["id"]
    assert item["policy"] == "agent"
    assert item["n_alternates"] == 3 == len(item["alternates"])
    assert item["control"] == {"min_gap_days": 0.0}
    assert [a["alternate_assignment_id"] for a in item["alternates"]] == [
        f"{item['assignment_id']}.{n}" for n in (1, 2, 3)
    ]
    variant_ids = {v["id"] for v in surface["variants"]}
    assert item["variant"]["id"] in variant_ids
    assert item["variant"]["payload"] == {"tone": item["variant"]["labels"]["tone"]}


def test_decisions_are_sticky_for_the_configured_time(
    admin: httpx.Client, content: Content
) -> None:
    sticky = admin.post("/api/surfaces", json=four_tones(sticky_seconds=3600)).json()
    first = content.one("u1", sticky["id"])
    again = content.one("u1", sticky["id"])
    assert again["assignment_id"] == first["assignment_id"]
    assert again["variant"] == first["variant"]
    fresh = admin.post("/api/surfaces", json=four_tones(sticky_seconds=0)).json()
    ids = {content.one("u1", fresh["id"])["assignment_id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_sticky_decision_shows_its_variants_latest_payload(
    admin: httpx.Client, content: Content
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones(sticky_seconds=3600)).json()
    first = content.one("u1", surface["id"])
    assert content.one("u1", surface["id"]) == first  # answered again from memory
    variant_id = first["variant"]["id"]
    edited = admin.patch(
        f"/api/surfaces/{surface['id']}/variants/{variant_id}",
        json={"payload": {"tone": "edited"}},
    )
    assert edited.status_code == 200, edited.text
    again = content.one("u1", surface["id"])
    assert again["assignment_id"] == first["assignment_id"]
    assert again["variant"]["payload"] == {"tone": "edited"}


def test_several_surfaces_in_one_request_and_unknown_ones(
    admin: httpx.Client, content: Content
) -> None:
    a = admin.post("/api/surfaces", json=four_tones()).json()
    b = admin.post("/api/surfaces", json=four_tones()).json()
    unknown = str(uuid.uuid4())
    response = content.get("u1", a["id"], unknown, b["id"])
    assert response.status_code == 200
    assert [i["surface_id"] for i in response.json()] == [a["id"], b["id"]]
    nothing = content.get("u1", unknown)
    assert nothing.status_code == 404
    assert nothing.json()["error"]["code"] == "no_content"


def test_bad_requests_get_their_documented_errors(
    admin: httpx.Client, content: Content, http: httpx.Client, workspace: Workspace
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    bad_uuid = content.get("u1", "not-a-uuid")
    assert bad_uuid.status_code == 422
    assert bad_uuid.json()["detail"][0]["loc"] == ["query", "surface_id", 0]
    no_contact = http.get(
        "/v1/surface/content",
        params={"surface_id": surface["id"]},
        headers={"X-API-Key": content.key},
    )
    assert no_contact.status_code == 422
    assert no_contact.json()["detail"][0]["loc"] == ["query", "contact_id"]
    no_surface = http.get(
        "/v1/surface/content", params={"contact_id": "u"}, headers={"X-API-Key": content.key}
    )
    assert no_surface.status_code == 422
    bad_flag = content.get("u1", surface["id"], allow_unassigned="maybe")
    assert bad_flag.status_code == 422
    params = {"contact_id": "u1", "surface_id": surface["id"]}
    assert http.get("/v1/surface/content", params=params).status_code == 401
    wrong_kind = http.get(
        "/v1/surface/content",
        params=params,
        headers={"X-API-Key": workspace.keys[KeyKind.INGEST]},
    )
    assert wrong_kind.status_code == 403
    assert wrong_kind.json()["error"]["code"] == "wrong_key_kind"
    assert http.get("/health", headers={"X-API-Key": content.key}).status_code == 200


def test_another_workspaces_surfaces_are_not_found(
    admin: httpx.Client, http: httpx.Client, workspace_factory: Any
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    other = Content(http, workspace_factory())
    response = other.get("u1", surface["id"], allow_unassigned="true")
    assert response.status_code == 404


def test_holdout_users_always_get_the_default_and_stay_held_out(
    admin: httpx.Client, content: Content
) -> None:
    everyone = admin.post("/api/surfaces", json=four_tones(holdout_percent=100)).json()
    skipped = content.get("u1", everyone["id"])
    assert skipped.status_code == 404  # nothing personalized, and not asked for the default
    for _ in range(3):
        item = content.one("u1", everyone["id"], allow_unassigned=True)
        assert item["policy"] == "holdout"
        assert item["variant"]["id"] == everyone["default_variant_id"]
        assert item["n_alternates"] == 0
    half = admin.post("/api/surfaces", json=four_tones(holdout_percent=50)).json()
    users = [f"user-{n}" for n in range(60)]
    first = {u: content.one(u, half["id"], allow_unassigned=True)["policy"] for u in users}
    assert 10 < sum(p == "holdout" for p in first.values()) < 50
    for user in users[:20]:
        assert content.one(user, half["id"], allow_unassigned=True)["policy"] == first[user]


def test_a_users_preference_moves_their_agent(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    # The user buys whenever they are shown urgent copy, never otherwise.
    tones: Counter[str] = Counter()
    for round_ in range(80):
        item = content.one("fan", surface["id"])
        tone = item["variant"]["labels"]["tone"]
        feedback(ingest, "fan", item, converted=tone == "urgent")
        ingest.processed()
        if round_ >= 40:
            tones[tone] += 1
    # Random choice would show urgent a quarter of the time.
    assert tones["urgent"] >= 24, tones
    profile = admin.get("/api/profiles", params={"identity": "fan"}).json()["data"][0]
    agent = admin.get(f"/api/profiles/{profile['id']}/agent").json()
    [tone] = [d for d in agent["dimensions"] if d["dimension"] == "tone"]
    best = tone["labels"][0]
    assert best["label"] == "urgent"
    assert best["successes"] > 0
    # (A Beta this skewed can have its mean below its 2.5% quantile: no order check.)
    assert 0.0 <= best["low"] < best["high"] <= 1.0
    others = [label for label in tone["labels"] if label["label"] != "urgent"]
    assert all(label["mean"] < best["mean"] for label in others)


def test_a_new_user_starts_from_the_population(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    # Everybody likes playful copy.
    for _ in range(6):
        for n in range(15):
            user = f"pop-{n}"
            item = content.one(user, surface["id"])
            liked = item["variant"]["labels"]["tone"] == "playful"
            feedback(ingest, user, item, converted=liked)
        ingest.processed()
    newcomer = Counter(
        content.one(f"new-{n}", surface["id"])["variant"]["labels"]["tone"] for n in range(40)
    )
    assert newcomer["playful"] >= 20, newcomer
    report = admin.get(f"/api/surfaces/{surface['id']}/report").json()
    assert report["personalized"]["assignments"] >= 90 + 40
    assert report["personalized"]["conversions"] >= 1
    by_tone = {v["labels"]["tone"]: v["personalized"] for v in report["variants"]}
    assert by_tone["playful"]["conversions"] == report["personalized"]["conversions"]
    others = [rate["rate"] for tone, rate in by_tone.items() if tone != "playful"]
    assert all(by_tone["playful"]["rate"] > rate for rate in others)


def two_kinds_of_users(
    admin: httpx.Client, ingest: Ingest, db: Database, workspace: Workspace
) -> tuple[dict[str, Any], dict[str, str]]:
    """Urgent fans buy on urgent copy, the others on playful copy: their records are
    written as feedback would write them; the surface, and each user's liked tone."""
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    fans = {f"{tone}-fan-{n}": tone for tone in ("urgent", "playful") for n in range(8)}
    events = [{"contact_id": user, "event_name": "visit", "timestamp": NOW()} for user in fans]
    assert ingest.aampe("/v1/events", events).status_code == 202
    ingest.processed()
    increments: dict[tuple[str, str, str], tuple[float, float]] = {}
    for user, liked in fans.items():
        profile = admin.get("/api/profiles", params={"identity": user}).json()["data"][0]
        for variant in surface["variants"]:
            tone = variant["labels"]["tone"]
            wins = 3.0 if tone == liked else 0.0
            for scope in (profile["id"], storage.POPULATION):
                for key in (("_variant", variant["id"]), ("tone", tone)):
                    before = increments.get((scope, *key), (0.0, 0.0))
                    increments[(scope, *key)] = (before[0] + 6.0, before[1] + wins)
    with db.begin() as conn:
        storage.add_stats(conn, workspace.id, increments, NOW())
    return surface, fans


def test_periodic_fits_run_in_a_child_process(
    admin: httpx.Client, ingest: Ingest, db: Database, workspace: Workspace
) -> None:
    """The background fit works on the database from a process of its own (it would
    otherwise hold the interpreter lock against requests), and this process sees it."""
    two_kinds_of_users(admin, ingest, db, workspace)
    feedback, catalog = Feedback(Catalog()), Catalog()
    with db.read_rows() as reader:
        catalog.population(reader, workspace.id)  # cached here: the fit must refresh it
    fitter = GroupFitter(db, feedback, catalog, Policy(groups=2))
    feedback._unfitted.add(workspace.id)  # as processing marks a workspace that learned
    fitter.start(interval=0.1)
    try:
        deadline = time.monotonic() + 60
        while True:
            with db.read() as conn:
                groups = storage.groups_of(storage.population_stats(conn, workspace.id))
            if groups or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(groups) == 2
        pool = fitter._pool
        assert pool is not None
        assert all(pid != os.getpid() for pid in pool._processes)
        assert workspace.id not in catalog._population  # forgotten: read afresh
    finally:
        fitter.stop()
    assert fitter._pool is None


def test_taste_groups_are_fitted_stored_and_explained(
    admin: httpx.Client, content: Content, ingest: Ingest, db: Database, workspace: Workspace
) -> None:
    """Two kinds of users (urgent fans buy on urgent copy, the others on playful copy);
    a fitter working on the database alone, as another worker would, finds the kinds;
    the server reads them from there. The users' records are written as feedback would
    write them, so what they hold does not depend on what the agents chose to show."""
    surface, fans = two_kinds_of_users(admin, ingest, db, workspace)
    fitter = GroupFitter(db, Feedback(Catalog()), Catalog(), Policy(groups=2))
    assert fitter.fit(workspace.id)
    with db.read() as conn:
        groups = storage.groups_of(storage.population_stats(conn, workspace.id))
    assert len(groups) == 2
    time.sleep(1.1)  # the server's population cache lives a second
    placed: dict[str, Counter[int]] = {"urgent": Counter(), "playful": Counter()}
    for user, tone in fans.items():
        profile = admin.get("/api/profiles", params={"identity": user}).json()["data"][0]
        agent = admin.get(f"/api/profiles/{profile['id']}/agent").json()
        group = agent["taste_group"]
        assert group is not None
        assert 0.5 <= group["probability"] <= 1.0
        assert group["users"] > 0
        placed[tone][group["index"]] += 1
        [dimension] = [d for d in agent["dimensions"] if d["dimension"] == "tone"]
        assert all(0.0 <= label["low"] <= label["high"] <= 1.0 for label in dimension["labels"])
    assert placed["urgent"].most_common(1)[0][0] != placed["playful"].most_common(1)[0][0]
    # Decisions go on with the groups in place.
    assert content.one("urgent-fan-0", surface["id"])["policy"] == "agent"


def test_cold_start_spreads_choices(admin: httpx.Client, content: Content) -> None:
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    tones = Counter(
        content.one(f"cold-{n}", surface["id"])["variant"]["labels"]["tone"] for n in range(80)
    )
    assert len(tones) == 4, tones
    assert min(tones.values()) >= 5, tones


def test_assignments_survive_an_alias_merge(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones(sticky_seconds=3600)).json()
    assert ingest.client("identify", {"anonymous_id": "anon-7"}).status_code == 204
    assert ingest.client("identify", {"external_id": "ada"}).status_code == 204
    ingest.processed()
    before = content.one("anon-7", surface["id"])
    assert (
        ingest.client("alias", {"anonymous_id": "anon-7", "external_id": "ada"}).status_code == 204
    )
    ingest.processed()
    after = content.one("ada", surface["id"])
    assert after["assignment_id"] == before["assignment_id"]
    assert after["variant"] == before["variant"]


def test_conversions_credit_only_inside_the_attribution_window(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    body = four_tones(sticky_seconds=0)
    body["reward"] = {"categories": ["conversion"], "attribution_window_hours": 1}
    surface = admin.post("/api/surfaces", json=body).json()
    late = content.one("late", surface["id"])
    on_time = content.one("prompt", surface["id"])
    now = NOW()
    events = [
        {"contact_id": "late", "event_name": "surface_impression", "timestamp": now,
         "metadata": {"assignment_id": late["assignment_id"]}},
        {"contact_id": "late", "event_name": "purchase", "timestamp": now + 2 * 3600},
        {"contact_id": "prompt", "event_name": "surface_impression", "timestamp": now,
         "metadata": {"assignment_id": on_time["assignment_id"]}},
        {"contact_id": "prompt", "event_name": "purchase", "timestamp": now + 600},
    ]  # fmt: skip
    assert ingest.aampe("/v1/events", events).status_code == 202
    ingest.processed()
    report = admin.get(f"/api/surfaces/{surface['id']}/report").json()
    assert report["personalized"]["assignments"] == 2
    assert report["personalized"]["exposed"] == 2
    assert report["personalized"]["conversions"] == 1
    converted = [v for v in report["variants"] if v["personalized"]["conversions"]]
    assert [v["variant_id"] for v in converted] == [on_time["variant"]["id"]]


def test_a_conversion_carrying_the_assignment_id_and_an_alternate(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    item = content.one("alt", surface["id"])
    alternate = item["alternates"][0]["alternate_assignment_id"]
    events = [
        {"contact_id": "alt", "event_name": "banner_click", "timestamp": NOW(),
         "metadata": {"alternate_assignment_id": alternate}},
        {"contact_id": "alt", "event_name": "order_completed", "timestamp": NOW() + 5,
         "metadata": {"assignment_id": item["assignment_id"]}},
    ]  # fmt: skip
    assert ingest.aampe("/v1/events", events).status_code == 202
    ingest.processed()
    report = admin.get(f"/api/surfaces/{surface['id']}/report").json()
    assert report["personalized"]["clicked"] == 1
    assert report["personalized"]["conversions"] == 1
    [converted] = [v for v in report["variants"] if v["personalized"]["conversions"]]
    # The alternate was shown, so the alternate gets the credit.
    assert converted["variant_id"] != item["variant"]["id"]


def test_uplift_over_the_holdout_is_reported(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones(holdout_percent=50)).json()
    for n in range(40):
        user = f"up-{n}"
        item = content.one(user, surface["id"], allow_unassigned=True)
        feedback(ingest, user, item, converted=item["policy"] == "agent")
    ingest.processed()
    report = admin.get(f"/api/surfaces/{surface['id']}/report").json()
    assert report["holdout"]["assignments"] > 0
    assert report["holdout"]["conversions"] == 0
    assert report["personalized"]["conversions"] == report["personalized"]["assignments"]
    uplift = report["uplift"]
    assert uplift["low"] < uplift["difference"] <= uplift["high"]
    assert uplift["difference"] > 0.5


def test_two_workspaces_never_share_learning(
    admin: httpx.Client,
    content: Content,
    ingest: Ingest,
    server: ThreadedServer,
    http: httpx.Client,
    workspace_factory: Any,
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones()).json()
    for n in range(30):
        item = content.one(f"a-{n}", surface["id"])
        feedback(ingest, f"a-{n}", item, converted=item["variant"]["labels"]["tone"] == "formal")
    ingest.processed()
    other: Workspace = workspace_factory()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.headers.update(
            management_headers(access_token(client, other.keys[KeyKind.ADMIN]), other.id)
        )
        theirs = client.post("/api/surfaces", json=four_tones()).json()
        # Same labels, same user ids: none of the first workspace's learning shows.
        other_ingest = Ingest(http, other, ingest.database)
        assert other_ingest.client("identify", {"external_id": "b-1"}).status_code == 204
        other_ingest.processed()
        [b1] = client.get("/api/profiles", params={"identity": "b-1"}).json()["data"]
        agent = client.get(f"/api/profiles/{b1['id']}/agent").json()
        [tone] = [d for d in agent["dimensions"] if d["dimension"] == "tone"]
        # Their population has learned nothing: every tone has the same prior mean.
        assert len({label["population_mean"] for label in tone["labels"]}) == 1
        assert all(label["trials"] == 0 for label in tone["labels"])
        Content(http, other).one("a-1", theirs["id"])
        assert client.get("/api/profiles", params={"identity": "a-1"}).json()["data"] == []
        report = client.get(f"/api/surfaces/{theirs['id']}/report").json()
        assert report["personalized"]["conversions"] == 0
        assert report["personalized"]["assignments"] == 1
    # While the first workspace's population did learn that formal copy sells.
    [a1] = admin.get("/api/profiles", params={"identity": "a-1"}).json()["data"]
    mine = admin.get(f"/api/profiles/{a1['id']}/agent").json()
    [tone] = [d for d in mine["dimensions"] if d["dimension"] == "tone"]
    population = {label["label"]: label["population_mean"] for label in tone["labels"]}
    assert population["formal"] == max(population.values())


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def test_only_the_audience_gets_personalized_content(
    admin: httpx.Client, content: Content, ingest: Ingest, http: httpx.Client
) -> None:
    rule = {
        "all": [
            {"attribute": "profile.tier", "op": "eq", "value": "gold"},
            {"attribute": "session.utm_medium", "op": "eq", "value": "email"},
            {"event": "purchase", "within_days": 30},
        ]
    }
    audience = admin.post("/api/audiences", json={"name": "gold buyers", "rule": rule}).json()
    surface = admin.post("/api/surfaces", json=four_tones() | {"audience_id": audience["id"]})
    assert surface.status_code == 201, surface.text
    surface_id = surface.json()["id"]
    assert surface.json()["audience_id"] == audience["id"]
    now = NOW()
    people = [
        {"contact_id": "gold", "timestamp": now, "user_properties": {"tier": "gold"}},
        {"contact_id": "lapsed", "timestamp": now, "user_properties": {"tier": "gold"}},
    ]
    assert ingest.aampe("/v1/properties", people).status_code == 202
    purchases = [
        {"contact_id": "gold", "event_name": "purchase", "timestamp": now - 86400},
        {"contact_id": "lapsed", "event_name": "purchase", "timestamp": now - 90 * 86400},
    ]
    assert ingest.aampe("/v1/events", purchases).status_code == 202
    ingest.processed()
    assert content.one("gold", surface_id, utm_medium="email")["policy"] == "agent"
    # Not from the email: not in the audience, so nothing personalized...
    assert content.get("gold", surface_id).status_code == 404
    # ...unless the default is asked for.
    fallback = content.one("gold", surface_id, allow_unassigned=True)
    assert fallback["policy"] == "ineligible"
    assert fallback["variant"]["id"] == surface.json()["default_variant_id"]
    assert content.get("lapsed", surface_id, utm_medium="email").status_code == 404
    assert content.get("stranger", surface_id, utm_medium="email").status_code == 404
    # The audience cannot go while the surface uses it.
    refused = admin.delete(f"/api/audiences/{audience['id']}")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "audience_in_use"
    cleared = admin.patch(f"/api/surfaces/{surface_id}", json={"audience_id": None})
    assert cleared.json()["audience_id"] is None
    assert content.one("stranger", surface_id)["policy"] == "agent"
    assert admin.delete(f"/api/audiences/{audience['id']}").status_code == 204


def test_eligibility_on_the_device_from_the_user_agent(
    admin: httpx.Client, content: Content, http: httpx.Client
) -> None:
    phones = {"attribute": "device.type", "op": "eq", "value": "mobile"}
    audience = admin.post("/api/audiences", json={"name": "phones", "rule": phones}).json()
    surface = admin.post(
        "/api/surfaces", json=four_tones() | {"audience_id": audience["id"]}
    ).json()
    params = {"contact_id": "u", "surface_id": surface["id"]}
    on_phone = http.get(
        "/v1/surface/content",
        params=params,
        headers={"X-API-Key": content.key, "User-Agent": IPHONE},
    )
    assert on_phone.status_code == 200
    assert on_phone.json()[0]["policy"] == "agent"
    desktop = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
    )
    on_desktop = http.get(
        "/v1/surface/content",
        params=params,
        headers={"X-API-Key": content.key, "User-Agent": desktop},
    )
    assert on_desktop.status_code == 404


def test_a_surface_cannot_name_an_unknown_audience(admin: httpx.Client) -> None:
    response = admin.post("/api/surfaces", json=four_tones() | {"audience_id": "nope"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "audience_id"]


def test_erasing_a_person_removes_their_decisions_and_learning(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones(sticky_seconds=3600)).json()
    # A decision made before the person had a profile, then one after.
    early = content.one("gone", surface["id"])
    feedback(ingest, "gone", early, converted=True)
    ingest.processed()
    [person] = admin.get("/api/profiles", params={"identity": "gone"}).json()["data"]
    agent = admin.get(f"/api/profiles/{person['id']}/agent").json()
    assert agent["recent_assignments"]
    assert admin.delete(f"/api/profiles/{person['id']}").status_code == 204
    report = admin.get(f"/api/surfaces/{surface['id']}/report").json()
    assert report["personalized"]["assignments"] == 0
    assert admin.get(f"/api/profiles/{person['id']}/agent").status_code == 404
    # A new decision for the same identifier starts afresh (no sticky leftover).
    again = content.one("gone", surface["id"])
    assert again["assignment_id"] != early["assignment_id"]


def test_a_remembered_decision_is_forgotten_when_the_person_is_erased(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    surface = admin.post("/api/surfaces", json=four_tones(sticky_seconds=3600)).json()
    assert ingest.client("identify", {"external_id": "eve"}).status_code == 204
    ingest.processed()
    first = content.one("eve", surface["id"])  # made (and remembered) for a known person
    assert content.one("eve", surface["id"])["assignment_id"] == first["assignment_id"]
    [person] = admin.get("/api/profiles", params={"identity": "eve"}).json()["data"]
    assert admin.delete(f"/api/profiles/{person['id']}").status_code == 204
    again = content.one("eve", surface["id"])
    assert again["assignment_id"] != first["assignment_id"]


def test_after_a_merge_the_survivors_newest_decision_wins(
    admin: httpx.Client, content: Content, ingest: Ingest
) -> None:
    """``ada`` is decided for (and remembered) first, her anonymous self later; once
    they are one person, both identifiers get the newer decision, as the database says."""
    surface = admin.post("/api/surfaces", json=four_tones(sticky_seconds=3600)).json()
    assert ingest.client("identify", {"external_id": "ada"}).status_code == 204
    assert ingest.client("identify", {"anonymous_id": "anon-9"}).status_code == 204
    ingest.processed()
    older = content.one("ada", surface["id"])
    assert content.one("ada", surface["id"])["assignment_id"] == older["assignment_id"]
    time.sleep(0.01)  # a strictly later decision time
    newer = content.one("anon-9", surface["id"])
    assert newer["assignment_id"] != older["assignment_id"]
    assert (
        ingest.client("alias", {"anonymous_id": "anon-9", "external_id": "ada"}).status_code == 204
    )
    ingest.processed()
    assert content.one("ada", surface["id"])["assignment_id"] == newer["assignment_id"]
    assert content.one("anon-9", surface["id"])["assignment_id"] == newer["assignment_id"]
