"""The REST API: auth, validation errors with field paths, parity with the batch, idempotent routing."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.jobs.test_lead_scores import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    LEAD_ACTIVITIES,
    LEAD_SCORING,
    LEADS,
    REPS,
    ROUTING,
    SPEC,
)
from tierwise.jobs.lead_scores import score_leads
from tierwise.jobs.score import score

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tierwise.api.app import create_app, field_path

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALL_INACTIVE = """\
    - {name: night, when: "lead_source == 'list'", to: pool, target: night_shift, pool: [R4], fallback: triage}
"""
ACCOUNT_SPEC = """\
signals: {weight: 35, events: {intent_surge: 40}}
engagement: {weight: 25, events: {pricing_page_visit: 20}}
segments:
  rules: [{name: hot, when: "event_count('pricing_page_visit', 30) >= 2", motion: sdr}]
  default: {name: rest}
"""


@pytest.fixture
def spec(write_file) -> Path:
    for name, text in (("accounts", ACCOUNTS), ("contacts", CONTACTS), ("activities", ACTIVITIES),
                       ("leads", LEADS), ("lead_activities", LEAD_ACTIVITIES),
                       ("reps", REPS + "R4,Dee,sdr,false\n")):
        write_file(f"data/{name}.csv", text)
    routing = ROUTING.replace("  default:", ALL_INACTIVE + "  default:")
    return write_file("spec.yaml", SPEC + ACCOUNT_SPEC + LEAD_SCORING.replace("{MQL}", "{threshold: 40}") + routing)


@pytest.fixture
def client(spec):
    with TestClient(create_app(spec, token=TOKEN)) as c:
        yield c


def _lead_body(lead: dict, events: list[dict], **extra) -> dict:
    return {"lead": lead, "events": events, "as_of": "2026-11-01", "now": "2026-11-01T09:00:00Z", **extra}


def _workspace_leads() -> tuple[dict, dict]:
    from io import StringIO

    leads = pd.read_csv(StringIO(LEADS), dtype=str, keep_default_na=False)
    events = pd.read_csv(StringIO(LEAD_ACTIVITIES), dtype=str)
    bodies = {}
    for row in leads.to_dict("records"):
        lead = {k: (v if v != "" else None) for k, v in row.items()}
        lead["employees"] = int(lead["employees"]) if lead["employees"] else None
        evs = [{"event_type": e["event_type"], "occurred_at": e["occurred_at"]}
               for e in events[events.lead_id == row["lead_id"]].to_dict("records")]
        bodies[row["lead_id"]] = _lead_body(lead, evs)
    return bodies, {}


def test_healthz_needs_no_token_and_says_what_is_loaded(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["accounts"] == 3
    assert body["lead_scoring"] and body["routing"] and body["mql_threshold"] == 40.0


@pytest.mark.parametrize("headers, message", [
    ({}, "missing bearer token"),
    ({"Authorization": "Bearer nope"}, "invalid bearer token"),
    ({"Authorization": "Basic dGVzdA=="}, "missing bearer token"),
])
def test_every_route_needs_the_token(client, headers, message):
    for method, url in (("post", "/v1/leads/score-and-route"), ("post", "/v1/accounts/score"),
                        ("get", "/v1/accounts/A1")):
        r = client.request(method.upper(), url, headers=headers, json={} if method == "post" else None)
        assert r.status_code == 401, url
        assert message in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"


def test_validation_errors_name_the_field(client):
    r = client.post("/v1/leads/score-and-route", headers=AUTH, json={
        "lead": {"email": 3, "employees": -1, "shoe_size": 9},
        "events": [{"event_type": "demo_request", "occurred_at": "last tuesday"}, {"occurred_at": "2026-10-01"}],
    })
    assert r.status_code == 422
    got = {(p["path"], p["type"]) for p in r.json()["detail"]}
    assert got == {("lead.lead_id", "missing"), ("lead.email", "string_type"),
                   ("lead.employees", "greater_than_equal"), ("lead.shoe_size", "extra_forbidden"),
                   ("events[0].occurred_at", "datetime_from_date_parsing"), ("events[1].event_type", "missing")}
    r = client.post("/v1/leads/score-and-route", headers={**AUTH, "Content-Type": "application/json"},
                    content=b"{not json")
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    assert field_path(("body",)) == "body"


def test_api_scores_every_lead_like_the_batch(client, spec, tmp_path):
    score_leads(spec, tmp_path / "batch")
    batch = {r["lead_id"]: r for r in pd.read_csv(tmp_path / "batch" / "leads.csv").to_dict("records")}
    bodies, _ = _workspace_leads()
    for lead_id, body in bodies.items():
        got = client.post("/v1/leads/score-and-route", headers=AUTH, json=body).json()["score"]
        b = batch[lead_id]
        assert (got["lead_score"], got["is_mql"], got["segment"], got["explanation"]) == (
            b["lead_score"], b["is_mql"], b["lead_segment"], b["breakdown"]), lead_id
        assert got["fit_points"] == b["fit_points"] and got["negative_points"] == b["negative_points"]
        assert got["breakdown"]["penalty"] == {k.split("__")[1]: b[k] for k in b if k.startswith("penalty__") and b[k]}


def test_api_scores_every_account_like_tierwise_score(client, spec, tmp_path):
    score(spec, tmp_path / "scores")
    batch = pd.read_csv(tmp_path / "scores" / "scores.csv", keep_default_na=False).to_dict("records")
    from io import StringIO

    accounts = pd.read_csv(StringIO(ACCOUNTS), dtype=str, keep_default_na=False).to_dict("records")
    activities = pd.read_csv(StringIO(ACTIVITIES), dtype=str, keep_default_na=False)
    for row, expected in zip(accounts, batch, strict=True):
        account = {k: (v or None) for k, v in row.items()}
        account["employees"] = int(account["employees"])
        events = [{"event_type": e["event_type"], "occurred_at": e["occurred_at"], "contact_id": e["contact_id"] or None}
                  for e in activities[activities.account_id == row["account_id"]].to_dict("records")]
        got = client.post("/v1/accounts/score", headers=AUTH, json={"account": account, "events": events}).json()
        for field in ("score", "fit_score", "signal_score", "engagement_score", "tier", "segment", "motion",
                      "reason_1", "reason_2", "reason_3"):
            assert (got[field] if got[field] is not None else "") == expected[field], (row["account_id"], field)
    assert any(r["segment"] == "hot" for r in batch) and any(r["signal_score"] > 0 for r in batch)


def test_a_lead_sent_twice_is_assigned_once(client, spec):
    body = _lead_body({"lead_id": "N1", "email": "new@acme.com", "title": "VP Sales", "employees": 5000},
                      [{"event_type": "Pricing_Page_Visit", "occurred_at": "2026-10-31T10:00:00"},
                       {"event_type": "demo_request", "occurred_at": "2026-10-31T11:00:00"}])
    first = client.post("/v1/leads/score-and-route", headers=AUTH, json=body).json()
    second = client.post("/v1/leads/score-and-route", headers=AUTH, json=body).json()
    assert first["route"]["rule"] == "hot" and first["route"]["target"] in ("R2", "R3")
    assert first["match"] == {"account_id": "A1", "status": "matched", "method": "email_domain", "confidence": 100.0,
                              "reason": "email domain acme.com is account A1's domain"}
    assert not first["route"]["replay"] and second["route"]["replay"]
    assert second["route"]["target"] == first["route"]["target"]
    log = spec.parent / "routing" / "audit.jsonl"
    decisions = [json.loads(line) for line in log.read_text().splitlines() if '"lead_id"' in line]
    assert [d["lead_id"] for d in decisions] == ["N1"]
    third = client.post("/v1/leads/score-and-route", headers=AUTH, json={**body, "lead": {**body["lead"], "lead_id": "N2"}})
    assert third.json()["route"]["target"] != first["route"]["target"]  # round-robin moved on


def test_bad_input_gets_an_explicit_fallback(client):
    r = client.post("/v1/leads/score-and-route", headers=AUTH, json=_lead_body(
        {"lead_id": "B1", "email": "not-an-email", "lead_source": "list"},
        [{"event_type": "podcast_listen", "occurred_at": "2026-10-30T00:00:00"}])).json()
    assert r["score"]["lead_score"] == 0.0 and r["score"]["explanation"] == "malformed email"
    assert r["warnings"] == ["event types the spec does not score (activity only): podcast_listen",
                             "malformed email 'not-an-email': not used for matching"]
    assert r["match"]["status"] == "unmatched" and "malformed email" in r["match"]["reason"]
    # the only rep of the pool is inactive: the lead goes to the rule's fallback queue, and why is logged
    assert (r["route"]["rule"], r["route"]["target_kind"], r["route"]["target"]) == ("night", "queue", "triage")
    assert r["route"]["fallback_used"] and "triage" in r["route"]["why"]


def test_get_account_has_history_and_contacts(client):
    r = client.get("/v1/accounts/A1", headers=AUTH).json()
    assert r["tier"] and r["reason_1"] and r["owner_id"] == "R1"
    assert [a["event_type"] for a in r["history"]["recent_activities"]][:1] == ["intent_surge"]
    assert [c["contact_id"] for c in r["contacts"]] == ["C1", "C2"]
    missing = client.get("/v1/accounts/NOPE", headers=AUTH)
    assert missing.status_code == 404 and "not in the workspace" in missing.json()["detail"]


def test_openapi_documents_the_spec_fields(client):
    doc = client.get("/openapi.json").json()
    assert {"/v1/leads/score-and-route", "/v1/accounts/score", "/v1/accounts/{account_id}", "/healthz"} <= set(doc["paths"])
    lead = doc["components"]["schemas"]["LeadsRecord"]
    assert lead["required"] == ["lead_id"] and "employees" in lead["properties"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_cli_serve_reads_the_token(tmp_path, monkeypatch):
    from tierwise.cli.serve import TOKEN_ENV, read_token
    from tierwise.errors import TierwiseError

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert read_token(None)[1] == "generated" and len(read_token(None)[0]) >= 24
    monkeypatch.setenv(TOKEN_ENV, " abc ")
    assert read_token(None) == ("abc", f"${TOKEN_ENV}")
    (tmp_path / "t").write_text("xyz\n")
    assert read_token(tmp_path / "t") == ("xyz", str(tmp_path / "t"))
    (tmp_path / "empty").write_text("")
    with pytest.raises(TierwiseError, match="is empty"):
        read_token(tmp_path / "empty")
    with pytest.raises(ValueError, match="token is required"):
        create_app("spec.yaml", token="")


def test_concurrent_leads_are_assigned_once_and_logged_before_the_answer(spec):
    from concurrent.futures import ThreadPoolExecutor

    hot = [{"event_type": "demo_request", "occurred_at": "2026-10-31T11:00:00"},
           {"event_type": "pricing_page_visit", "occurred_at": "2026-10-31T10:00:00"}]
    bodies = [_lead_body({"lead_id": f"C{i}", "email": f"p{i}@acme.com", "title": "VP Sales", "employees": 5000},
                         hot if i % 3 else []) for i in range(24)]
    log = spec.parent / "routing" / "audit.jsonl"

    def send(client, body):
        answer = client.post("/v1/leads/score-and-route", headers=AUTH, json=body)
        assert answer.status_code == 200, answer.text
        route = answer.json()["route"]
        assert route["idempotency_key"].encode() in log.read_bytes()  # on disk before the answer
        return body["lead"]["lead_id"], route

    with TestClient(create_app(spec, token=TOKEN)) as client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: send(client, b), bodies * 2))  # every lead twice, concurrently
    first: dict[str, dict] = {}
    for lead_id, route in answers:
        seen = first.setdefault(lead_id, route)
        assert {k: v for k, v in route.items() if k != "replay"} == {k: v for k, v in seen.items() if k != "replay"}
    assert sum(not route["replay"] for _, route in answers) == len(bodies)  # each lead routed once
    logged = [json.loads(line) for line in log.read_text().splitlines() if '"lead_id"' in line]
    assert sorted(d["lead_id"] for d in logged) == sorted(first)
    targets = [r["target"] for r in first.values() if r["rule"] == "hot"]
    assert len(targets) == 16 and set(Counter(targets).values()) == {8}  # round-robin over R2, R3
    with TestClient(create_app(spec, token=TOKEN)) as client:  # a restart reads the log: replays only
        again = [send(client, b) for b in bodies]
    assert all(route["replay"] and route["target"] == first[lead_id]["target"] for lead_id, route in again)


def test_answer_bytes_are_what_json_response_sends(client):
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse

    from tierwise.api.app import json_body

    body = _lead_body({"lead_id": "J1", "email": "zoë@acme.com", "company": "Acmé", "title": "VP Sales"},
                      [{"event_type": "demo_request", "occurred_at": "2026-10-31T11:00:00+02:00"}])
    service = client.app.state.service
    result = service.score_and_route(body["lead"], [], as_of=date(2026, 11, 1), now=datetime(2026, 11, 1, 9))
    assert json_body(result) == JSONResponse(jsonable_encoder(result)).body
    answer = client.post("/v1/leads/score-and-route", headers=AUTH, json=body)
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == JSONResponse(answer.json()).body
