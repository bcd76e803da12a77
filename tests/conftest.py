"""Shared small fixtures: an engine, file writers and a one-call scoring workspace.

Everything is built inside ``tmp_path``; no test reads a workspace it did not write.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tierwise.engine import connect

#: The scoring date used by the hand-computed cases.
AS_OF = date(2026, 11, 1)

REPO_ROOT = Path(__file__).resolve().parents[1]


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def engine():
    """An in-memory DuckDB engine, closed after the test."""
    with connect("duckdb://") as eng:
        yield eng


@pytest.fixture
def write_file(tmp_path):
    """``write_file("data/accounts.csv", text)`` writes dedented text under tmp_path."""

    def write(relative: str, text: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def rows_of(engine):
    """Run an Ibis table on the test engine and return its rows as dicts."""

    def run(expr) -> list[dict]:
        return engine.to_arrow(expr).to_pylist()

    return run


@pytest.fixture
def make_workspace(tmp_path):
    """Write a spec plus data files into a fresh folder and return the spec path.

    ``spec`` is the YAML below ``data:``; the ``data:`` section is generated
    from the file names (``accounts.csv`` -> ``data.accounts``).
    """
    counter = {"n": 0}

    def make(spec: str, files: dict[str, str], *, data: str | None = None) -> Path:
        counter["n"] += 1
        ws = tmp_path / f"ws{counter['n']}"
        ws.mkdir()
        for name, text in files.items():
            (ws / name).write_text(dedent(text), encoding="utf-8")
        if data is None:
            data = "data:\n" + "".join(f"  {Path(n).stem}: {{path: {n}}}\n" for n in files)
        (ws / "spec.yaml").write_text(dedent(data) + dedent(spec), encoding="utf-8")
        return ws / "spec.yaml"

    return make


@pytest.fixture
def score_rows(make_workspace):
    """Score a small workspace and return ``{account_id: output row}``.

    ``score_rows(spec, accounts_csv, activities_csv=None, as_of=AS_OF)``
    """
    from tierwise.jobs.score import score

    def run(spec: str, accounts: str, activities: str | None = None, *, as_of: date = AS_OF) -> dict[str, dict]:
        files = {"accounts.csv": accounts}
        if activities is not None:
            files["activities.csv"] = activities
        spec_path = make_workspace(spec, files)
        result = score(spec_path, spec_path.parent / "out", as_of=as_of)
        rows = pq.read_table(result.files["parquet"]).to_pylist()
        return {r["account_id"]: r for r in rows}

    return run


# --------------------------------------------------------------------------- a real PostgreSQL server


def _postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: $TIERWISE_PG_BIN, Debian's newest /usr/lib/postgresql/*/bin, or PATH."""
    import glob
    import os
    import shutil

    candidates = [os.environ["TIERWISE_PG_BIN"]] if os.environ.get("TIERWISE_PG_BIN") else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                         reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


class PostgresServer:
    """A throw-away PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 on a free port.

    initdb refuses to run as root, so as root the cluster belongs to an unprivileged account
    ($TIERWISE_PG_OS_USER, else ``postgres``, else ``nobody``) and every server command runs
    through ``runuser`` (or ``su``).
    """

    USER = "tierwise"

    def __init__(self, bin_dir: Path):
        import os
        import pwd
        import socket
        import tempfile

        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="tierwise-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.os_user = None
        if os.geteuid() == 0:
            for name in (os.environ.get("TIERWISE_PG_OS_USER"), "postgres", "nobody"):
                if not name:
                    continue
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    continue
                self.os_user = name
                os.chown(self.folder, entry.pw_uid, entry.pw_gid)
                break
            else:
                raise RuntimeError("running as root and no unprivileged account (postgres, nobody) to own the "
                                   "test cluster; set TIERWISE_PG_OS_USER")

    def _run(self, *args: str) -> None:
        import shutil
        import subprocess

        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.os_user:
            if shutil.which("runuser"):
                cmd = ["runuser", "-u", self.os_user, "--", *cmd]
            else:
                import shlex

                cmd = ["su", self.os_user, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{log}")

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", self.USER, "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
        return self

    def stop(self) -> None:
        import shutil

        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import uuid

        import psycopg

        name = f"tw_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (skipped only when the server binaries are not installed)."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package "
                    "'postgresql' or set TIERWISE_PG_BIN")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    server = PostgresServer(bin_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """A connection URL to a fresh, empty database on the session's server (dropped afterwards)."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


# --------------------------------------------------------------------------- a local Spark session


@pytest.fixture(scope="session")
def spark_session():
    """One small local Spark session for the whole test session (skipped when pyspark or Java is missing).

    local[2], two shuffle partitions and no UI: starting Spark is the slow part, so every Spark test
    shares it; engines under test run in child sessions of it (``SparkEngine.from_session``). The
    driver JVM compiles with C1 only: the tests' many small queries never repay C2's optimisation
    (the parity test runs about twice as fast); C1 alone gets a 48 MB code cache by default, which
    Spark fills (and the JVM then stops compiling), hence the larger one.
    """
    import shutil

    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[test]'")
    if not shutil.which("java") and not __import__("os").environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed (Spark needs Java 17+): apt-get install openjdk-17-jre-headless")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("tierwise-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2").config("spark.default.parallelism", "2")
               .config("spark.driver.memory", "1g")
               .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m "
                       "-XX:+UseSerialGC").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
