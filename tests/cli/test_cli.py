"""The command line: exit codes, one-line errors without tracebacks, and the files it writes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tierwise import __version__
from tierwise.cli.main import app
from tierwise.spec import load_spec
from tierwise.spec.loader import SpecError

SPEC = """\
as_of: 2026-11-01
fit:
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 10}, {min: 100, max: 1000, points: 5}]}
segments:
  rules:
    - {name: Big, when: "employees >= 1000", priority: P1, motion: field_sales}
  default: {name: Rest, priority: P5}
"""
ACCOUNTS = "account_id,name,employees\nA1,Acme,5000\nA2,Beta,150\nA3,Gamma,many\n"
ACTIVITIES = "account_id,event_type,occurred_at\nA1,demo,2026-10-30\n"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def spec_path(make_workspace):
    return make_workspace(SPEC, {"accounts.csv": ACCOUNTS, "activities.csv": ACTIVITIES})


def assert_clean_error(result, *fragments: str) -> str:
    """Exit 1, an ``error:`` message on stderr, and no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    return result.stderr


@pytest.mark.parametrize("command", ["init", "schema", "validate", "score", "demo", "assess", "report", "pipeline"])
def test_every_command_help_has_an_example(runner, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and "tierwise " + command in result.stdout


def test_every_registered_command_is_covered():
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    # serve: tests/api; rfm: tests/cli/test_rfm_cli.py; compile, export: their own tests; report, pipeline (and the
    # history group): tests/cli/test_governance_cli.py; territories: tests/cli/test_territories_cli.py;
    # report --html (the dashboard's views in one file): tests/web/test_pages.py
    assert names == {"init", "schema", "validate", "score", "demo", "assess", "serve", "rfm", "compile", "export",
                     "report", "pipeline", "territories"}


def test_version(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"tierwise {__version__}"


def test_init_writes_a_spec_that_loads(runner, tmp_path):
    target = tmp_path / "ws"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    spec = load_spec(target / "spec.yaml").spec
    assert spec.name == "starter" and len(spec.fit.criteria) == 5
    assert result.stdout.startswith("wrote") and "validate" in result.stdout


def test_init_refuses_to_overwrite_without_force(runner, tmp_path):
    (tmp_path / "spec.yaml").write_text("mine\n")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert_clean_error(result, "spec.yaml already exists; pass --force to overwrite it")
    assert (tmp_path / "spec.yaml").read_text() == "mine\n"
    result = runner.invoke(app, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0
    assert (tmp_path / "spec.yaml").read_text().startswith("# tierwise spec")


def test_schema_prints_json(runner, tmp_path):
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Spec" and schema["additionalProperties"] is False
    out = tmp_path / "schema.json"
    assert runner.invoke(app, ["schema", "--out", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == schema


def test_score(runner, spec_path, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(spec_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"scores.parquet", "scores.csv", "summary.json", "quarantine"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["as_of"] == "2026-11-01" and summary["accounts"] == 2
    assert "Tiers" in result.stdout and "Top accounts" in result.stdout and "scores written to" in result.stdout
    assert "Acme" in result.stdout


def test_score_as_of_option(runner, spec_path, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["score", str(spec_path), "--out", str(out), "--as-of", "2025-01-31"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["as_of"] == "2025-01-31"


@pytest.mark.parametrize("bad", ["2026-13-01", "01/11/2026", "tomorrow"])
def test_bad_as_of(runner, spec_path, tmp_path, bad):
    result = runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "o"), "--as-of", bad])
    assert_clean_error(result, f"--as-of must be a date like 2026-11-01, got '{bad}'")
    assert not (tmp_path / "o").exists()


def test_spec_error_prints_every_located_problem(runner, make_workspace, tmp_path):
    spec_path = make_workspace(SPEC.replace("criteria:", "weigth: 40\n  criteria:").replace(
        "employees >= 1000", "employes >= 1000"), {"accounts.csv": ACCOUNTS})
    result = runner.invoke(app, ["score", str(spec_path), "--out", str(tmp_path / "o")])
    message = assert_clean_error(result, "has 2 problems:")
    assert f"{spec_path}:5: fit.weigth: unknown key 'weigth' (did you mean 'weight'?)" in message
    assert f"{spec_path}:10: segments.rules[0].when: unknown column 'employes' (did you mean 'employees'?)" in message


def test_missing_spec_file(runner, tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert_clean_error(result, "spec file not found", "tierwise init")


def test_validate(runner, spec_path, tmp_path):
    out = tmp_path / "v"
    result = runner.invoke(app, ["validate", str(spec_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Inputs" in result.stdout and "unparsable int in employees (1)" in result.stdout
    assert (out / "quarantine" / "accounts.csv").exists()
    assert json.loads((out / "load_summary.json").read_text())["accounts"]["quarantined"] == 1


def test_validate_missing_required_column_is_one_line(runner, make_workspace, tmp_path):
    spec_path = make_workspace(SPEC, {"accounts.csv": "id,name,employees\n1,Acme,5\n"})
    result = runner.invoke(app, ["validate", str(spec_path), "--out", str(tmp_path / "o")])
    message = assert_clean_error(result, "accounts.csv", "required column 'account_id' not found",
                                 "columns present: id, name, employees")
    assert len(message.strip().splitlines()) == 1


def test_debug_shows_the_exception(runner, make_workspace, tmp_path):
    spec_path = make_workspace("fit: {weigth: 1}\n", {"accounts.csv": ACCOUNTS})
    result = runner.invoke(app, ["--debug", "score", str(spec_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SpecError)


def test_located_errors_print_line_numbers_verbatim(tmp_path):
    """Rich must not turn ':100:' into an emoji in 'spec.yaml:100: ...'."""
    from tierwise.cli.main import app as cli_app

    lines = ["data: {accounts: {path: a.csv}}", "fit: {criteria: [{name: s, field: employees, at_least: 1, points: 1}]}"]
    lines += [f"# filler {i}" for i in range(96)]
    lines += ["segments:", "  rules: [{name: X, when: \"teir == 'A'\"}]", "  default: {name: D}"]
    spec = tmp_path / "spec.yaml"
    spec.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli_app, ["score", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "spec.yaml:100: segments.rules[0].when: unknown column 'teir' (did you mean 'tier'?)" in result.output
