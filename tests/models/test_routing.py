"""Routing: first match, targets, fallbacks, round-robin fairness and caps, replay, SLAs."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from tierwise.errors import DataError
from tierwise.models.routing import (
    Decision,
    Rep,
    Route,
    Router,
    decisions_frame,
    idempotency_key,
    sla_breaches,
)
from tierwise.store.audit import AuditLog

NOW = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
CREATED = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
SEVEN = [f"R{i}" for i in range(1, 8)]


def tier_is(value):
    return Route(f"tier_{value.lower()}", lambda lead: lead.get("tier") == value, "pool", target="ae",
                 pool=SEVEN, sla_minutes=60, fallback="triage", condition=f"tier = {value}", reads=("tier",))


def leads(n, tier="A", **extra):
    return [{"lead_id": f"L{i:05d}", "tier": tier, "created_at": CREATED, **extra} for i in range(n)]


def reps(ids=SEVEN, **changes):
    return {rid: Rep(rid, **changes.get(rid, {})) for rid in ids}


def test_first_match_wins_and_default_catches_the_rest():
    routes = [
        Route("vip", lambda lead: lead["employees"] >= 1000, "owner", target="R1", sla_minutes=30,
              fallback="triage", condition="employees >= 1000", reads=("employees",)),
        Route("big", lambda lead: lead["employees"] >= 100, "queue", target="mid_market", sla_minutes=240,
              condition="employees >= 100", reads=("employees",)),
        Route("default", None, "queue", target="nurture"),
    ]
    batch = [{"lead_id": "a", "employees": 5000, "created_at": CREATED},  # matches vip and big: vip first
             {"lead_id": "b", "employees": 300, "created_at": CREATED},
             {"lead_id": "c", "employees": 3, "created_at": CREATED}]
    out = Router(routes, reps(["R1"])).route(batch, NOW)
    assert [(d.rule, d.target_kind, d.target) for d in out] == [
        ("vip", "owner", "R1"), ("big", "queue", "mid_market"), ("default", "queue", "nurture")]
    assert out[0].why == "rule 'vip' matched: employees >= 1000; owner R1"
    assert out[2].why == "no earlier rule matched; default rule 'default'; queue 'nurture'"
    assert [d.sla_due for d in out] == [CREATED + timedelta(minutes=30), CREATED + timedelta(hours=4), None]
    assert {d.decided_at for d in out} == {NOW}
    assert not any(d.replay or d.fallback_used for d in out)


def test_account_owner_target_and_its_fallbacks():
    routes = [Route("owned", lambda lead: True, "account_owner", sla_minutes=60, fallback="triage",
                    condition="always"),
              Route("default", None, "queue", target="nurture")]
    team = reps(["R1", "R2", "R3"], R2={"active": False}, R3={"out_of_office": True})
    batch = [{"lead_id": "a", "account_owner_id": "R1"}, {"lead_id": "b", "account_owner_id": "R2"},
             {"lead_id": "c", "account_owner_id": "R3"}, {"lead_id": "d", "account_owner_id": None},
             {"lead_id": "e", "account_owner_id": "R404"}]
    out = Router(routes, team).route(batch, NOW)
    assert [(d.target_kind, d.target, d.fallback_used) for d in out] == [
        ("account_owner", "R1", None), ("queue", "triage", "owner_inactive"),
        ("queue", "triage", "owner_out_of_office"), ("queue", "triage", "no_owner"),
        ("queue", "triage", "owner_unknown")]
    assert out[1].why == ("rule 'owned' matched: always; account owner R2 is inactive, "
                          "so it went to fallback queue 'triage'")
    assert out[3].why == "rule 'owned' matched: always; the lead has no account owner, so it went to fallback queue 'triage'"
    assert all(d.rule == "owned" for d in out)
    # SLAs still count from now (no created_at) on the matched rule's clock
    assert {d.sla_due for d in out} == {NOW + timedelta(hours=1)}


def test_rule_without_fallback_lets_the_lead_go_on_to_later_rules():
    routes = [Route("owned", lambda lead: True, "account_owner", condition="always"),
              Route("sdr", lambda lead: True, "owner", target="R2", sla_minutes=15, fallback="q", condition="always"),
              Route("default", None, "queue", target="nurture")]
    out = Router(routes, reps(["R1", "R2"], R1={"active": False})).route(
        [{"lead_id": "a", "account_owner_id": "R1", "created_at": CREATED}], NOW)
    d, = out
    assert (d.rule, d.target_kind, d.target, d.fallback_used) == ("sdr", "owner", "R2", "owner_inactive")
    assert d.why == ("rule 'owned' matched: always; account owner R1 is inactive, and the rule has no fallback; "
                     "rule 'sdr' matched: always; owner R2")
    assert d.sla_due == CREATED + timedelta(minutes=15)


def test_round_robin_is_fair_under_a_bulk_batch():
    router = Router([tier_is("A"), Route("default", None, "queue", target="nurture")], reps())
    out = router.route(leads(10_000), NOW)
    spread = Counter(d.target for d in out)
    assert sorted(spread.values()) == [1428, 1428, 1428, 1429, 1429, 1429, 1429]
    assert max(spread.values()) - min(spread.values()) == 1
    assert [d.target for d in out[:8]] == SEVEN + ["R1"]
    assert router.state_["cursor"] == {"ae": "R4"}  # 10,000 = 7 * 1428 + 4
    assert router.state_["assigned"] == {r: 1429 if r in ("R1", "R2", "R3", "R4") else 1428 for r in SEVEN}


def test_round_robin_skips_inactive_and_out_of_office_reps():
    team = reps(R2={"active": False}, R5={"out_of_office": True})
    out = Router([tier_is("A"), Route("default", None, "queue", target="nurture")], team).route(leads(10), NOW)
    assert [d.target for d in out] == ["R1", "R3", "R4", "R6", "R7", "R1", "R3", "R4", "R6", "R7"]


def test_caps_are_respected_and_overflow_goes_to_the_fallback(caplog):
    team = {"R1": Rep("R1", cap=2), "R2": Rep("R2", cap=3, assigned=2), "R3": Rep("R3", cap=2)}
    route = Route("pool", lambda lead: True, "pool", target="p", pool=["R1", "R2", "R3"], fallback="overflow",
                  condition="always")
    router = Router([route, Route("default", None, "queue", target="nurture")], team)
    with caplog.at_level(logging.WARNING, logger="tierwise.models.routing"):
        out = router.route(leads(7), NOW)
    assert [d.target for d in out] == ["R1", "R2", "R3", "R1", "R3", "overflow", "overflow"]
    assert router.state_["assigned"] == {"R1": 2, "R2": 3, "R3": 2}
    assert [d.fallback_used for d in out[-2:]] == ["pool_unavailable"] * 2
    assert out[-1].why == ("rule 'pool' matched: always; no rep in pool 'p' is available (inactive, out of office "
                           "or at cap), so it went to fallback queue 'overflow'")
    assert "pool 'p': 2 lead(s) went to a fallback queue" in caplog.text


def test_capped_rep_shared_by_two_pools_fills_in_lead_order():
    team = {"A": Rep("A"), "B": Rep("B", cap=2), "C": Rep("C")}
    routes = [Route("one", lambda lead: lead["p"] == 1, "pool", pool=["A", "B"], fallback="q", condition="p = 1"),
              Route("two", lambda lead: lead["p"] == 2, "pool", pool=["B", "C"], fallback="q", condition="p = 2"),
              Route("default", None, "queue", target="nurture")]
    out = Router(routes, team).route([{"lead_id": f"L{i}", "p": 1 + i % 2} for i in range(7)], NOW)
    # one: A, B(1st), A, ... two: B(2nd), C, then B is full -> C
    assert [d.target for d in out] == ["A", "B", "B", "C", "A", "C", "A"]


def test_pool_with_every_rep_unavailable_falls_back_and_logs(caplog):
    team = reps(["R1", "R2"], R1={"active": False}, R2={"out_of_office": True})
    route = Route("pool", lambda lead: True, "pool", target="p", pool=["R1", "R2", "R9"], fallback="triage")
    with caplog.at_level(logging.WARNING, logger="tierwise.models.routing"):
        router = Router([route, Route("default", None, "queue", target="nurture")], team)
        out = router.route(leads(3), NOW)
    assert {(d.target_kind, d.target, d.fallback_used) for d in out} == {("queue", "triage", "pool_unavailable")}
    assert "lists reps not in the reps table (never assigned): R9" in caplog.text
    assert "pool 'p': 3 lead(s) went to a fallback queue" in caplog.text
    assert router.state_["assigned"] == {"R1": 0, "R2": 0}


def test_deterministic_given_state_and_batches_continue_the_rotation():
    routes = [tier_is("A"), Route("default", None, "queue", target="nurture")]
    whole = Router(routes, reps()).route(leads(20), NOW)
    first = Router(routes, reps())
    part1 = first.route(leads(20)[:9], NOW)
    saved = json.loads(json.dumps(first.state_))  # persisted and read back
    part2 = Router(routes, reps(), state=saved).route(leads(20)[9:], NOW)
    assert [d.target for d in part1 + part2] == [d.target for d in whole]
    again = Router(routes, reps(), state=saved).route(leads(20)[9:], NOW)
    assert again == part2


def test_frame_input_with_vectorised_conditions_matches_dict_input():
    def route_a(vectorised):
        return Route("tier_a", lambda lead: lead["tier"] == "A", "pool", target="ae", pool=SEVEN, sla_minutes=60,
                     fallback="triage", condition="tier = A", reads=("tier",),
                     when_frame=(lambda f: f["tier"] == "A") if vectorised else None)

    owned = Route("owned", lambda lead: lead["tier"] == "B" and lead["account_owner_id"] is not None,
                  "account_owner", fallback="triage", reads=("tier",),
                  when_frame=lambda f: (f["tier"] == "B") & f["account_owner_id"].notna())
    rows = [{"lead_id": f"L{i}", "tier": "ABC"[i % 3], "account_owner_id": [None, "R1", "R2", "R8"][i % 4],
             "created_at": CREATED + timedelta(minutes=i)} for i in range(50)]
    frame = pd.DataFrame(rows)
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    team = reps(SEVEN, R2={"active": False})
    default = Route("default", None, "queue", target="nurture")
    from_frame = Router([owned, route_a(True), default], team).route(frame, NOW)
    from_dicts = Router([owned, route_a(False), default], team).route(rows, NOW)
    assert from_frame == from_dicts
    assert Counter(d.fallback_used for d in from_frame) == Counter({None: 42, "owner_inactive": 4, "owner_unknown": 4})


def test_same_lead_twice_is_not_assigned_twice(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    routes = [tier_is("A"), Route("default", None, "queue", target="nurture")]
    router = Router(routes, reps())
    first = router.route(leads(5), NOW, audit=log)
    state = json.loads(json.dumps(router.state_))
    second = router.route(leads(5), NOW + timedelta(hours=1), audit=log)
    assert all(d.replay for d in second) and not any(d.replay for d in first)
    assert [d._replace(replay=False) for d in second] == first  # same target, time and key
    assert router.state_ == state  # no cursor or count moved
    assert len(log) == 5
    # a fresh process reading the log replays too, and picks up the saved state
    reloaded = AuditLog(tmp_path / "audit.jsonl")
    assert reloaded.state == state
    third = Router(routes, reps(), state=reloaded.state).route(leads(6), NOW, audit=reloaded)
    assert [d.replay for d in third] == [True] * 5 + [False]
    assert third[5].target == "R6"


def test_duplicates_within_a_batch_and_changed_fields():
    router = Router([tier_is("A"), Route("default", None, "queue", target="nurture")], reps())
    batch = leads(2) + leads(1) + leads(1, tier="B")
    out = router.route(batch, NOW)
    assert [(d.target, d.replay) for d in out] == [("R1", False), ("R2", False), ("R1", True), ("nurture", False)]
    assert out[0].idempotency_key == out[2].idempotency_key != out[3].idempotency_key
    assert router.state_["assigned"]["R1"] == 1
    assert out[0].idempotency_key == idempotency_key(batch[0], router.key_fields_)
    assert router.key_fields_ == ("account_owner_id", "tier")


def test_idempotency_key_is_the_same_for_dict_and_frame_cells():
    frame = pd.DataFrame({"lead_id": ["L1", "L2"], "score": [5.0, None], "owner": ["R1", None]})
    rows = [{"lead_id": "L1", "score": 5, "owner": "R1"}, {"lead_id": "L2", "score": None, "owner": None}]
    routes = [Route("default", None, "queue", target="q", reads=("score", "owner"))]
    assert [d.idempotency_key for d in Router(routes, {}).route(frame, NOW)] == \
           [d.idempotency_key for d in Router(routes, {}).route(rows, NOW)]


def test_sla_breaches():
    def decision(lead, due):
        return Decision(lead, "tier_a", "...", "owner", "R1", due, CREATED, f"k-{lead}")

    due = CREATED + timedelta(hours=1)
    decisions = [decision("untouched", due), decision("late", due), decision("on_time", due),
                 decision("no_sla", None), decision("not_due", NOW + timedelta(minutes=5))]
    touches = {"late": due + timedelta(minutes=25), "on_time": due - timedelta(minutes=1), "no_sla": NOW}
    out = sla_breaches(decisions + [decisions[0]._replace(replay=True)], touches, NOW)
    assert [(b.lead_id, b.status, b.late_by, b.first_touch) for b in out] == [
        ("untouched", "untouched", timedelta(hours=2), None),
        ("late", "late", timedelta(minutes=25), due + timedelta(minutes=25))]
    with pytest.raises(DataError, match="all with a time zone or all without"):
        sla_breaches(decisions, None, NOW.replace(tzinfo=None))


def test_decisions_frame():
    out = Router([Route("default", None, "queue", target="q")], {}).route(leads(2), NOW)
    frame = decisions_frame(out)
    assert list(frame.columns) == list(Decision._fields)
    assert frame["target"].tolist() == ["q", "q"]


@pytest.mark.parametrize("routes, message", [
    ([], "non-empty list of Route"),
    ([Route("a", lambda lead: True, "queue", target="q")], "must end with a default route"),
    ([Route("a", None, "queue", target="q"), Route("b", None, "queue", target="q")], "but the last a condition"),
    ([Route("a", None, "pool", pool=["R1"])], "default route a fallback queue"),
    ([Route("a", lambda lead: True, "queue", target="q"), Route("a", None, "queue", target="q")], "unique names"),
])
def test_router_rejects_bad_rules(routes, message):
    with pytest.raises(ValueError, match=message):
        Router(routes, {})


def test_route_rejects_bad_parameters_and_leads():
    with pytest.raises(ValueError, match="'target_kind' parameter of Route must be one of"):
        Route("a", None, "person")
    with pytest.raises(ValueError, match="'pool' parameter of Route"):
        Route("a", None, "pool")
    with pytest.raises(ValueError, match="'sla_minutes' parameter of Route"):
        Route("a", None, "queue", target="q", sla_minutes=-5)
    router = Router([Route("default", None, "queue", target="q")], {})
    with pytest.raises(DataError, match="lead #2 to route has no lead_id"):
        router.route([{"lead_id": "a"}, {"name": "x"}], NOW)
    with pytest.raises(DataError, match="not an ISO date-time"):
        Router([Route("default", None, "queue", target="q", sla_minutes=5)], {}).route(
            [{"lead_id": "a", "created_at": "yesterday"}], NOW)
    broken = Router([Route("r", lambda lead: lead["tier"] == "A", "queue", target="q"),
                     Route("default", None, "queue", target="q")], {})
    with pytest.raises(DataError, match="rule 'r' could not be evaluated for lead 'a': KeyError"):
        broken.route([{"lead_id": "a"}], NOW)


@pytest.mark.parametrize("tz", [None, timezone.utc])
def test_big_frame_batch_is_logged_framed_and_replayed_like_a_small_one(tmp_path, monkeypatch, tz):
    import tierwise.models.routing as routing
    import tierwise.store.audit as audit

    n = 700
    created = pd.Series(pd.date_range("2026-03-01 08:00", periods=n, freq="37min", tz=tz))
    created[::50] = pd.NaT
    frame = pd.DataFrame({"lead_id": [f"L{i:04d}" for i in range(n)], "tier": list("ABCD" * (n // 4)),
                          "account_owner_id": [[None, "R1", "R2", "R404"][i // 4 % 4] for i in range(n)],
                          "created_at": created})
    owned = Route("owned", lambda lead: lead["tier"] == "B", "account_owner", sla_minutes=30, fallback="triage",
                  when_frame=lambda f: f["tier"] == "B", reads=("tier",))
    routes = [owned, tier_is("A"), Route("default", None, "queue", target="nurture")]
    now = NOW if tz else NOW.replace(tzinfo=None)
    log = AuditLog(tmp_path / "audit.jsonl")
    with monkeypatch.context() as columns_only:  # a batch this big is written a column at a time
        columns_only.setattr(audit, "_encode_lines", None)
        out = Router(routes, reps(SEVEN, R2={"active": False})).route(frame, now, audit=log)
    assert (tmp_path / "audit.jsonl").read_bytes().startswith(audit._encode_lines(out))
    assert set(Counter(d.fallback_used for d in out)) == {None, "no_owner", "owner_inactive", "owner_unknown"}
    with monkeypatch.context() as small:  # the row-by-row paths give the same frame and breaches
        small.setattr(routing, "_MANY", 10**9)
        slow_frame = decisions_frame(out)
        slow_breaches = sla_breaches(out, None, now + timedelta(days=1))
    pd.testing.assert_frame_equal(decisions_frame(out), slow_frame, check_exact=True)
    assert sla_breaches(out, None, now + timedelta(days=1)) == slow_breaches and slow_breaches
    monkeypatch.setattr(audit, "_BIG", 10)
    reloaded = AuditLog(tmp_path / "audit.jsonl")
    again = Router(routes, reps(SEVEN, R2={"active": False}), state=reloaded.state).route(frame, now, audit=reloaded)
    assert again == [d._replace(replay=True) for d in out]


# --------------------------------------------------------------------------- one lead at a time (the API)


def _random_router(rng):
    """Reps that may be inactive, away or near their cap; rules of every kind, with and without fallbacks."""
    import random

    assert isinstance(rng, random.Random)
    team = {f"R{i}": Rep(f"R{i}", active=rng.random() > 0.15, out_of_office=rng.random() < 0.15,
                         cap=rng.choice([None, None, 2, 4, 8]), assigned=rng.randrange(3)) for i in range(1, 9)}
    pools = {name: [rng.choice([*team, "R404"]) for _ in range(rng.randrange(1, 5))] for name in ("p", "q")}
    routes = []
    for i in range(rng.randrange(1, 6)):
        kind = rng.choice(["owner", "queue", "account_owner", "pool", "pool"])
        pool = rng.choice(list(pools)) if kind == "pool" else None
        k, j = rng.randrange(2, 5), rng.randrange(2)
        routes.append(Route(
            f"r{i}", lambda lead, k=k, j=j: lead.get("x", 0) % k == j, kind,
            target={"owner": rng.choice([*team, "R404"]), "queue": f"q{i}", "pool": pool}.get(kind),
            pool=pools[pool] if pool else None, sla_minutes=rng.choice([None, 0, 30, 240]),
            fallback=rng.choice([None, "triage"]), condition=f"x % {k} = {j}" if rng.random() < 0.8 else None,
            reads=("x",)))
    kind = rng.choice(["queue", "account_owner", "pool", "owner"])
    pool = "p" if kind == "pool" else None
    routes.append(Route("default", None, kind, target={"queue": "nurture", "owner": "R1", "pool": pool}.get(kind),
                        pool=pools[pool] if pool else None, sla_minutes=rng.choice([None, 60]),
                        fallback=None if kind == "queue" else "catch_all"))
    return routes, team, {"cursor": {"p": rng.choice(pools["p"])}, "assigned": {"R3": rng.randrange(4)}}


def _random_lead(rng, i):
    lead = {"lead_id": rng.choice([f"L{i}", i, float(i)]), "x": rng.randrange(12)}
    if rng.random() < 0.9:
        lead["account_owner_id"] = rng.choice(["R1", "R2", "R5", "R8", "R404", None, float("nan"), 7])
    if rng.random() < 0.9:
        lead["created_at"] = rng.choice([CREATED, None, "2026-03-01T08:00:00+00:00", datetime(2026, 3, 1).date()])
    return lead


@pytest.mark.parametrize("seed", range(40))
def test_route_one_gives_what_a_one_lead_batch_gives(seed, tmp_path, caplog):
    import copy
    import random

    import tierwise.store.audit as audit

    rng = random.Random(seed)
    routes, team, state = _random_router(rng)
    one, batch = Router(routes, team, state=state), Router(routes, team, state=state)
    logs = AuditLog(tmp_path / "one.jsonl"), AuditLog(tmp_path / "batch.jsonl")
    sent = [_random_lead(rng, i) for i in range(30)]
    sent += [copy.deepcopy(rng.choice(sent)) for _ in range(10)]  # sent again: replays
    for lead in sent:
        now = NOW + timedelta(minutes=rng.randrange(100))
        caplog.clear()
        got = one.route_one(lead, now, audit=logs[0])
        warned = [r.getMessage() for r in caplog.records]
        caplog.clear()
        expected = batch.route([lead], now, audit=logs[1])[0]
        assert got == expected, lead
        assert one.state_ == batch.state_ and warned == [r.getMessage() for r in caplog.records]
    assert len(logs[0]) == len(logs[1]) < len(sent)
    written = [(tmp_path / name).read_bytes() for name in ("one.jsonl", "batch.jsonl")]
    drop_time = [re.sub(rb'"written_at":"[^"]*"', b"", text) for text in written]
    assert drop_time[0] == drop_time[1]
    assert audit._COMMIT in written[0]
    # without a log: the same decisions and state
    bare = Router(routes, team, state=state), Router(routes, team, state=state)
    for lead in sent[:30]:
        assert bare[0].route_one(lead, NOW) == bare[1].route([lead], NOW)[0]
    assert bare[0].state_ == bare[1].state_


def test_route_one_checks_the_lead():
    router = Router([Route("default", None, "queue", target="nurture")], {})
    with pytest.raises(DataError, match="has no lead_id"):
        router.route_one({"email": "x@y.com"}, NOW)
    with pytest.raises(DataError, match="could not be evaluated"):
        Router([Route("a", lambda lead: lead["missing"] > 1, "queue", target="q"),
                Route("default", None, "queue", target="nurture")], {}).route_one({"lead_id": "L1"}, NOW)
