"""ICP report: deterministic Markdown/HTML, escaping, the no-signal verdict, the attribute CSV."""

from __future__ import annotations

import csv
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import yaml

from tierwise.models.discovery import ICPDiscovery
from tierwise.reports.icp import CSV_COLUMNS, render_html, render_markdown, write_attributes_csv
from tierwise.spec.model import FitSpec

EVIL = "<script>alert('x')</script> & | co"


def signal_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    industry = rng.choice([EVIL, "retail", "energy"], n)
    employees = rng.integers(10, 10_000, n).astype(float)
    return pd.DataFrame({
        "won": rng.random(n) < np.where(industry == EVIL, 0.5, 0.2) + 0.1 * (employees > 5000),
        "amount": np.where(industry == EVIL, 40_000.0, 8_000.0) * rng.uniform(0.5, 1.5, n),
        "industry": industry, "employees": employees,
        "tech": [list(rng.choice(["aws", "gcp"], rng.integers(0, 2), replace=False)) for _ in range(n)],
    })


@pytest.fixture(scope="module")
def signal() -> ICPDiscovery:
    return ICPDiscovery().fit(signal_frame())


@pytest.fixture(scope="module")
def null() -> ICPDiscovery:
    rng = np.random.default_rng(2)
    return ICPDiscovery().fit(pd.DataFrame({"won": rng.random(2000) < 0.4,
                                            "region": rng.choice(["north", "south", "east"], 2000),
                                            "size": rng.normal(size=2000)}))


def test_markdown_sections_and_values(signal):
    md = render_markdown(signal, title="ICP discovery", source="deals.csv")
    lines = md.splitlines()
    assert lines[:3] == ["# ICP discovery", "", "Source: deals.csv"]
    for section in ("## Summary", "## Validated attributes", "## Every attribute", "## Best customers",
                    "## Micro-segments", "## Suggested fit criteria", "## How to read this"):
        assert section in lines
    assert "- Closed deals: 3,000 (" in md
    assert "**Verdict: 2 validated attribute(s) separate won from lost deals" in md
    assert "<script>alert('x')</script> & \\| co" in md  # table pipes escaped, text kept as text
    assert "Holm" in md and "docs/icp.md" in md


def test_markdown_fit_yaml_round_trips(signal):
    md = render_markdown(signal, title="t", source="s")
    block = md.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = yaml.safe_load(block)
    assert loaded == {"fit": signal.suggest_fit()}
    FitSpec.model_validate(loaded["fit"])


def test_no_signal_verdict_is_unmistakable(null):
    md = render_markdown(null, title="t", source="s")
    assert "**Verdict: No significant attribute: none of the" in md
    assert "None. No attribute is validated: do not build fit criteria from this data." in md
    assert "criteria: []" in md
    page = render_html(null, title="t", source="s")
    assert "<p class='verdict none'><b>Verdict:</b> No significant attribute" in page


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_every_data_value_and_is_self_contained(signal):
    page = render_html(signal, title="ICP <b>&</b>", source="s<x>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<title>ICP &lt;b&gt;&amp;&lt;/b&gt;</title>" in page
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags and "link" not in parser.tags
    assert not any(name in ("src", "href") for name, _ in parser.attrs)
    assert "http" not in page
    assert any(EVIL in t for t in parser.text)  # shows as text
    assert parser.tags.count("svg") >= 3  # lift per validated attribute, segments, best customers


def test_reports_are_deterministic():
    a, b = ICPDiscovery().fit(signal_frame()), ICPDiscovery().fit(signal_frame())
    assert render_markdown(a, title="t", source="s") == render_markdown(b, title="t", source="s")
    assert render_html(a, title="t", source="s") == render_html(b, title="t", source="s")


def test_attributes_csv(signal, tmp_path):
    path = write_attributes_csv(signal, tmp_path / "out" / "attributes.csv")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:8] == CSV_COLUMNS == ["attribute", "value", "support", "win_rate", "ci_low", "ci_high", "lift",
                                         "significant"]
    assert len(rows) == len(signal.attributes_)
    evil = next(r for r in rows if r["value"] == EVIL)
    assert evil["significant"] == "True" and float(evil["lift"]) > 1
    first = path.read_bytes()
    write_attributes_csv(signal, path)
    assert path.read_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == ["attributes.csv"]  # no temp file left behind
