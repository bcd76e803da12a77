"""The dashboard pages through FastAPI's TestClient: content, filters, pagination, empty states, no token."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pyarrow as pa
import pytest

from tierwise.web.charts import TIER_COLOURS
from tierwise.web.data import DashboardData, Filters
from tierwise.web.format import human_number, percent
from tierwise.web.views import OUTPUT_VIEWS


def _ids(html: str) -> list[str]:
    """The account ids of a list page's rows, in order."""
    body = html.split('<table id="accounts">', 1)[1].split("</table>", 1)[0] if 'id="accounts"' in html else ""
    return re.findall(r'<a href="/accounts/([^"]+)">', body)


def _tiers(html: str) -> list[str]:
    body = html.split('<table id="accounts">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<span class="tier"[^>]*>([^<]+)</span>', body)


class _Checker(HTMLParser):
    """Counts unbalanced tags, enough to catch a broken template."""

    VOID = {"meta", "link", "input", "br", "img", "line", "rect", "hr", "source"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def _well_formed(html: str) -> None:
    checker = _Checker()
    checker.feed(html)
    assert not checker.errors, checker.errors[:5]
    assert checker.stack == [], checker.stack


def test_overview_shows_tiers_segments_guardrails_distribution_and_changes(client, web_app):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    _well_formed(html)
    overview = web_app.state.dashboard.data.overview
    assert sum(t["accounts"] for t in overview.tiers) == overview.accounts == 300
    for t in overview.tiers:
        assert f">{t['tier']}</span>" in html
    for s in overview.segments:
        assert s["segment"] in html
    assert html.count('class="mark"') >= 10 + len(overview.tiers) + len(overview.segments)
    assert "What changed since the previous run" in html and "tier up" in html  # two recorded runs
    for v in OUTPUT_VIEWS:
        assert f'href="/views/{v.key}"' in html


def test_guardrail_warnings_name_small_and_broad_segments():
    table = pa.table({"account_id": [f"A{i}" for i in range(20)], "score": [float(i * 5) for i in range(20)],
                      "tier": ["A"] * 20, "segment": ["Big"] * 17 + ["Tiny"] * 2 + ["Other"]})
    data = DashboardData(table)
    try:
        text = " ".join(data.overview.warnings)
        assert "Big holds 85%" in text and "split it" in text
        assert "Tiny holds 10%" in text and "Other holds 5%" in text
        assert {s["segment"]: s["guardrail"] for s in data.overview.segments} == {
            "Big": "too broad", "Tiny": "too small", "Other": "too small"}
        many = DashboardData(table.set_column(3, "segment", pa.array([f"S{i % 10}" for i in range(20)])))
        assert "10 segments: more than 8" in many.overview.warnings[0]
        many.close()
    finally:
        data.close()


def test_pages_need_no_token_but_the_api_keeps_it(client):
    assert client.get("/accounts").status_code == 200
    assert client.get("/v1/accounts/A000001").status_code == 401


def test_list_is_sorted_paginated_and_filtered_server_side(client, web_app):
    data = web_app.state.dashboard.data
    first = client.get("/accounts?per_page=25").text
    second = client.get("/accounts?per_page=25&page=2").text
    ids1, ids2 = _ids(first), _ids(second)
    assert len(ids1) == len(ids2) == 25 and not set(ids1) & set(ids2)
    assert 'rel="next" href="/accounts?page=2&amp;per_page=25"' in first
    assert 'rel="prev"' in second
    expected = data.accounts(Filters(per_page=25)).rows
    assert ids1 == [r["account_id"] for r in expected]
    scores = [r["score"] for r in expected]
    assert scores == sorted(scores, reverse=True)

    tier = data.tier_names[0]
    filtered = client.get(f"/accounts?tier={tier}&per_page=100").text
    assert set(_tiers(filtered)) <= {tier}
    n = data.overview.tiers[0]["accounts"]
    assert f"{human_number(n)} of 300 accounts" in filtered

    segment = data.segment_names[0]
    page = data.accounts(Filters(segment=segment, min_score=20, max_score=70))
    assert all(r["segment"] == segment and 20 <= r["score"] <= 70 for r in page.rows)
    html = client.get("/accounts", params={"segment": segment, "min_score": "20", "max_score": "70"}).text
    assert f"{page.total} of 300 accounts" in html


def test_search_by_name_and_id_and_owner_filter(client, web_app):
    data = web_app.state.dashboard.data
    some = data.account(data.top(1)[0]["account_id"])
    by_id = _ids(client.get("/accounts", params={"q": some["account_id"].lower()}).text)
    assert some["account_id"] in by_id
    word = some["account_name"].split()[0]
    by_name = data.accounts(Filters(q=word, per_page=100))
    assert by_name.total >= 1 and all(word.lower() in r["account_name"].lower() or word.lower()
                                      in r["account_id"].lower() for r in by_name.rows)
    owner = data.owners[0]
    assert all(r["owner_id"] == owner for r in data.accounts(Filters(owner=owner, per_page=100)).rows)
    # search text is matched as text: wildcards and quotes are not patterns or SQL
    assert data.accounts(Filters(q="%")).total == 0
    assert data.accounts(Filters(q="' OR 1=1 --")).total == 0


def test_bad_filter_values_are_reported_not_fatal(client):
    r = client.get("/accounts", params={"min_score": "lots", "per_page": "7"})
    assert r.status_code == 200
    assert "minimum score &#39;lots&#39; is not a number; ignored" in r.text
    assert "300 of 300 accounts" in r.text
    assert client.get("/accounts", params={"page": "0"}).status_code == 422


def test_empty_result_says_what_to_do(client):
    html = client.get("/accounts", params={"q": "no-such-account-zzz"}).text
    assert "No account matches these filters" in html and "0 of 300 accounts" in html


def test_account_page_breakdown_reasons_history_and_contacts(client, web_app):
    data = web_app.state.dashboard.data
    account_id = data.top(1)[0]["account_id"]
    r = client.get(f"/accounts/{account_id}")
    assert r.status_code == 200
    html = r.text
    _well_formed(html)
    row = data.account(account_id)
    assert f"{row['score']:.1f}" in html
    assert "Fit (40%)" in html and "Signals (35%)" in html and "Engagement (25%)" in html
    for reason in (row["reason_1"], row["reason_2"], row["reason_3"]):
        if reason:
            assert reason.replace("'", "&#39;").replace('"', "&#34;").replace("&", "&amp;")[:10] in html or \
                reason[:10] in html
    detail = web_app.state.service.account(account_id)
    assert "Opportunities" in html and "Recent activity" in html
    if detail.get("contacts"):
        assert (detail["contacts"][0]["email"] or detail["contacts"][0]["contact_id"]) in html


def test_unknown_account_is_a_404_page(client):
    r = client.get("/accounts/NOPE-1")
    assert r.status_code == 404 and "Search for it" in r.text


VIEW_MARKERS = {  # a heading and the least number of chart marks each view draws from the workspace's outputs
    "performance": ("Win rate by segment", 8), "pipeline": ("Velocity buckets", 8), "icp": ("Win-rate lift", 3),
    "territories": ("Potential per rep", 5), "rfm": ("The RFM grid", 25), "assessment": ("The five dimensions", 4)}


@pytest.mark.parametrize("key", sorted(VIEW_MARKERS))
def test_each_view_is_a_page_with_charts_from_the_data(client, key):
    html = client.get(f"/views/{key}").text
    _well_formed(html)
    heading, marks = VIEW_MARKERS[key]
    assert heading in html and 'id="empty-state"' not in html and "<iframe" not in html
    assert html.count('class="mark"') >= marks
    assert 'aria-current="page"' in html.split(f'href="/views/{key}"', 1)[1][:30]


def test_view_pages_read_the_outputs(client, workspace):
    import json

    report = json.loads((workspace.parent / "report" / "report.json").read_text())
    html = client.get("/views/performance").text
    for row in report["performance"]["by_segment"]:
        assert row["group"] in html
    assert report["run"]["run_id"] in html
    rfm = json.loads((workspace.parent / "rfm" / "summary.json").read_text())
    page = client.get("/views/rfm").text
    assert f"{rfm['customers']:,}" in page or human_number(rfm["customers"]) in page
    assert "Segment moves since the previous run" in page and "→" in page
    radar = client.get("/views/assessment").text.split('class="chart radar"', 1)[1].split("</svg>", 1)[0]
    assert radar.count("<circle") >= 3  # the evidence's suggested scores (alignment: the data cannot say)
    assert client.get("/views/nope").status_code == 404


def test_views_without_outputs_say_what_to_run(bare_dashboard):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from tierwise.web.app import router

    app = FastAPI()
    app.include_router(router(bare_dashboard))
    bare = TestClient(app)
    base = str(bare_dashboard.base_dir)
    for key, command in (("performance", "tierwise report"), ("pipeline", "tierwise pipeline"),
                         ("icp", "tierwise icp discover"), ("territories", "tierwise territories"),
                         ("rfm", "tierwise rfm"), ("assessment", "tierwise assess --evidence")):
        html = bare.get(f"/views/{key}").text
        _well_formed(html)
        assert 'id="empty-state"' in html and f"run <code>{command} " in html and base in html
        assert 'class="mark"' not in html
    overview = bare.get("/").text
    assert overview.count("(not made yet)") == 6


def test_a_broken_output_file_is_an_empty_state_not_an_error(tmp_path):
    from tierwise.web.views import VIEWS_BY_KEY

    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "pipeline.json").write_text("{not json", encoding="utf-8")
    assert VIEWS_BY_KEY["pipeline"].find(tmp_path) == tmp_path / "pipeline"
    assert VIEWS_BY_KEY["pipeline"].load(tmp_path) is None
    (tmp_path / "tierwise-out" / "rfm").mkdir(parents=True)  # the commands' default --out is also looked at
    (tmp_path / "tierwise-out" / "rfm" / "summary.json").write_text("{}", encoding="utf-8")
    assert VIEWS_BY_KEY["rfm"].find(tmp_path) == tmp_path / "tierwise-out" / "rfm"


def _self_contained(html: str) -> None:
    _well_formed(html)
    assert "<script" not in html and "<iframe" not in html and "<link rel=\"stylesheet\"" not in html
    assert not re.search(r'(src|href|url)\s*[=(]\s*["\']?(https?:)?//', html), "a reference needs the network"
    assert "@import" not in html and "@font-face" not in html
    assert 'href="/' not in html and 'src="/' not in html  # no link needs a server


def test_static_report_holds_every_view_inline(workspace, tmp_path):
    from tierwise.web.app import write_static

    path = write_static(workspace, tmp_path / "report.html", top_n=20)
    html = path.read_text(encoding="utf-8")
    _self_contained(html)
    assert "Top 20 accounts" in html and "What changed since the previous run" in html
    for key, (heading, _) in VIEW_MARKERS.items():
        section = html.split(f'<section class="report-view" id="{key}"', 1)[1].split("</section>", 1)[0]
        assert heading in section and 'id="empty-state"' not in section, key
    assert html.count('class="mark"') > 100
    assert f'href="#{"rfm"}"' in html  # the navigation jumps within the file


def test_static_report_of_a_bare_workspace_names_each_command(bare_dashboard):
    from tierwise.web.app import render_static

    html = render_static(bare_dashboard.spec_file, bare_dashboard.data, top_n=5)
    _self_contained(html)
    assert html.count('id="empty-state"') == 6 and "then write this report again" in html


def test_cli_report_html_writes_the_dashboard_views_and_keeps_json_and_csv(workspace, tmp_path):
    from typer.testing import CliRunner

    from tierwise.cli.main import app

    out, page = tmp_path / "report", tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(workspace), "--out", str(out), "--html", str(page), "--top", "5"])
    assert result.exit_code == 0, result.output
    assert {"report.json", "segments.csv", "tiers.csv", "alerts.csv"} <= {p.name for p in out.iterdir()}
    html = page.read_text(encoding="utf-8")
    _self_contained(html)
    assert "Top 5 accounts" in html and "Win rate by segment" in html and "Velocity buckets" in html
    helped = CliRunner().invoke(app, ["report", "--help"])
    assert helped.exit_code == 0 and "self-contained" in helped.stdout
    assert CliRunner().invoke(app, ["dashboard", str(workspace)]).exit_code != 0  # folded into report --html


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


@pytest.mark.parametrize("tier", sorted(TIER_COLOURS))
def test_tier_colours_meet_wcag_aa_with_white_text(tier):
    contrast = (1.0 + 0.05) / (_luminance(TIER_COLOURS[tier]) + 0.05)
    assert contrast >= 4.5, (tier, contrast)


def test_numbers_for_people():
    assert [human_number(v) for v in (0, 999, 12_345, 1_200_000, 3_400_000_000)] == ["0", "999", "12.3k", "1.2M",
                                                                                       "3.4B"]
    assert [percent(v) for v in (0.34, 0.0, 1.0, 0.005)] == ["34%", "0%", "100%", "0.5%"]


def test_pages_follow_score_order_on_a_large_table():
    """Pages come from the stored order (no ORDER BY): they must equal an ORDER BY query, deep pages too."""
    import numpy as np

    from tierwise.web.data import TABLE

    n = 250_000  # several row groups, scanned in parallel
    rng = np.random.default_rng(5)
    table = pa.table({"account_id": [f"A{i:07d}" for i in range(n)], "score": np.round(rng.random(n) * 100, 1),
                      "tier": rng.choice(["A", "B", "C", "D"], n), "segment": rng.choice(["S1", "S2", "S3"], n),
                      "owner_id": rng.choice([f"R{i}" for i in range(40)], n)})
    data = DashboardData(table)
    try:
        for f in (Filters(page=1), Filters(page=3000), Filters(tier="C", page=400), Filters(owner="R7", page=20),
                  Filters(q="a0001", page=2, per_page=100), Filters(segment="S2", min_score=30, max_score=60, page=9)):
            where, params = f.where()
            expected = [r[0] for r in data._sql(f"SELECT account_id FROM {TABLE} {where} ORDER BY score DESC, "
                                                "account_id LIMIT ? OFFSET ?", [*params, f.per_page,
                                                                                (f.page - 1) * f.per_page])]
            got = data.accounts(f)
            assert [r["account_id"] for r in got.rows] == expected and expected, f
            assert got.total == data._sql(f"SELECT COUNT(*) FROM {TABLE} {where}", params)[0][0]
    finally:
        data.close()


def test_search_exact_id_fast_path_and_one_scan_for_few_matches():
    from tierwise.web import data as D

    ids = [f"A{i:03d}" for i in range(1, 1201)]
    t = pa.table({"account_id": ids, "account_name": [f"Acme {i}" for i in range(1, 1201)],
                  "score": [float(i % 100) for i in range(1, 1201)], "tier": ["A"] * 1200, "segment": ["S"] * 1200})
    d = DashboardData(t)
    try:
        exact = d.accounts(Filters(q="a012"))  # an exact id (any case): that account only, not A0120-A0129
        assert [r["account_id"] for r in exact.rows] == ["A012"] and exact.total == 1
        some = d.accounts(Filters(q="acme 11", per_page=25, page=2))  # 11, 110-119, 1100-1199: 111 matches
        assert some.total == 111 and len(some.rows) == 25
        scores = [r["score"] for r in d.accounts(Filters(q="acme 11", per_page=100)).rows]
        assert scores == sorted(scores, reverse=True)
        broad = d.accounts(Filters(q="acme", per_page=25, page=3))  # over SEARCH_CAP: COUNT + LIMIT/OFFSET
        assert broad.total == 1200 > D.SEARCH_CAP and len(broad.rows) == 25
    finally:
        d.close()
