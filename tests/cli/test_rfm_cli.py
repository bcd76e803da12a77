"""``tierwise rfm``: the spec form, the quick look, and one-line errors with exit code 1."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tierwise.cli.main import app

TX = """\
customer,day,total,order
A,2026-10-01,100,o1
A,2026-10-20,50,o2
B,2026-10-05,80,o3
C,2026-09-30,"$1,200.50",o4
D,2026-10-02,n/a,o5
"""


@pytest.fixture
def runner():
    return CliRunner()


def assert_clean_error(result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in " ".join(result.stderr.split()), (fragment, result.stderr)
    return result.stderr


def test_quick_look_writes_the_outputs_and_prints_the_segments(runner, tmp_path):
    (tmp_path / "tx.csv").write_text(TX)
    out = tmp_path / "out"
    result = runner.invoke(app, ["rfm", "--transactions", str(tmp_path / "tx.csv"), "--customer", "customer",
                                 "--date", "day", "--amount", "total", "--order", "order", "--as-of", "2026-11-01",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "transactions: 5 read, 1 quarantined, 4 used" in text
    assert "RFM segments — 3 customers" in text and "Champions" in text
    assert "lifetime value: skipped" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["customers"] == 3 and summary["as_of"] == "2026-11-01"
    assert {p.name for p in out.iterdir()} == {"rfm.csv", "rfm.parquet", "summary.json", "quarantine"}


def test_spec_form(runner, make_workspace, tmp_path):
    spec = make_workspace("as_of: 2026-11-01\nfit: {weight: 0}\nsignals: {weight: 60}\nengagement: {weight: 40}\n",
                          {"accounts.csv": "account_id\nA\nB\nC\n",
                           "transactions.csv": "account_id,occurred_at,amount\nA,2026-10-01,10\nB,2026-09-01,20\n"})
    result = runner.invoke(app, ["rfm", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "RFM segments — 2 customers" in text and "frequency counts transactions" in text
    assert "tasks start with the next run" in text
    assert (tmp_path / "out" / "tasks.csv").exists() and (spec.parent / ".tierwise" / "rfm").is_dir()


@pytest.mark.parametrize(("args", "message"), [
    ([], "give a spec (tierwise rfm spec.yaml) or a transactions file"),
    (["spec.yaml", "--transactions", "tx.csv"], "give a spec or --transactions (the quick look), not both"),
    (["--transactions", "tx.csv", "--customer", "customer"], "the quick look needs --date, --amount"),
    (["spec.yaml", "--order", "o"], "--order only apply to the quick look (--transactions)"),
    (["--transactions", "missing.csv", "--customer", "a", "--date", "b", "--amount", "c"],
     "--transactions: file not found: missing.csv"),
    (["--transactions", "tx.csv", "--customer", "customer", "--date", "when", "--amount", "total"],
     "--date: column 'when' not found"),
    (["--transactions", "tx.csv", "--customer", "customer", "--date", "day", "--amount", "total",
      "--as-of", "2020-01-01"], "as_of 2020-01-01 is before every transaction (the first is on 2026-09-30)"),
    (["--transactions", "tx.csv", "--customer", "customer", "--date", "day", "--amount", "total",
      "--as-of", "yesterday"], "--as-of must be a date like 2026-11-01"),
    (["missing.yaml"], "spec file not found: missing.yaml"),
])
def test_bad_input_is_one_line_and_exit_1(runner, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tx.csv").write_text(TX)
    assert_clean_error(runner.invoke(app, ["rfm", *args, "--out", "out"]), message)


def test_help_has_an_example(runner):
    result = runner.invoke(app, ["rfm", "--help"])
    assert result.exit_code == 0 and "tierwise rfm spec.yaml --out out/rfm" in result.output
