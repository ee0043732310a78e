"""Shared fixtures: a fresh store per test on SQLite and on PostgreSQL, config, CLI, clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from needs import need

# pytest finds hooks by their name in a conftest; this one reads @pytest.mark.needs.
from needs import pytest_runtest_setup as pytest_runtest_setup
from sqlalchemy import text
from typer.testing import CliRunner

from mailhub import config, db
from mailhub.cli import app as cli_app
from mailhub.clock import FrozenClock
from mailhub.communities import seed_from_settings
from mailhub.context import Context

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
SECRET = "test-secret-0123456789abcdef"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

CONFIG_TEMPLATE = """
[instance]
secret = "{secret}"
data_dir = "{data_dir}"
domain = "lists.example.org"

[database]
url = "{url}"

[outbound]
retry_base_seconds = 60.0

[[themes]]
slug = "skills"
name = "Skills"

[[themes]]
slug = "green-jobs"
name = "Green jobs"

[[communities]]
slug = "irnet"
name = "IRNet"
timezone = "Africa/Nairobi"
"""


def corpus(*parts: str) -> Path:
    """A path in the shared corpora; the test needs the corpora beside the repo."""
    path = CORPORA.joinpath(*parts)
    need(path.exists(), f"corpus {path} not found (../shared/corpora beside the repository)")
    return path


def _postgres_schema_url(base: str, schema: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private schema on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = os.environ.get("MAILHUB_TEST_DATABASE_URL", "")
    need(bool(base), "MAILHUB_TEST_DATABASE_URL is not set (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def write_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        CONFIG_TEMPLATE.format(secret=SECRET, data_dir=tmp_path / "data", url=url) + extra
    )
    return path


@pytest.fixture
def config_path(tmp_path: Path, database_url: str) -> Path:
    return write_config(tmp_path, database_url)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def make_context(path: Path, clock: FrozenClock) -> Context:
    ctx = Context.from_settings(config.load(path), clock=clock)
    db.upgrade(ctx.engine)
    with ctx.session() as session:
        seed_from_settings(session, ctx.settings, clock.now())
    return ctx


@pytest.fixture
def ctx(config_path: Path, clock: FrozenClock) -> Iterator[Context]:
    """An initialised instance (store migrated, communities seeded) on each database."""
    context = make_context(config_path, clock)
    yield context
    context.engine.dispose()


@pytest.fixture
def run_cli(config_path: Path, ctx: Context) -> Callable[..., Any]:
    """Run the real CLI against this test's instance; returns the click result."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(
            cli_app, list(args), input=input, env={"MAILHUB_CONFIG": str(config_path)}
        )

    return run


def derive(ctx: Context, **sections: dict[str, Any]) -> Context:
    """The same instance (store, clock) with some settings sections changed."""
    data = ctx.settings.model_dump(exclude={"source"})
    for name, values in sections.items():
        data[name] = {**data[name], **values}
    return Context(config.from_mapping(data), ctx.engine, ctx.clock)


@pytest.fixture
def sqlite_ctx(tmp_path: Path, clock: FrozenClock) -> Iterator[Context]:
    """An initialised instance on SQLite only, for tests whose subject is not the database."""
    context = make_context(write_config(tmp_path, f"sqlite:///{tmp_path / 'store.db'}"), clock)
    yield context
    context.engine.dispose()


@pytest.fixture
def run_cli_sqlite(tmp_path: Path, sqlite_ctx: Context) -> Callable[..., Any]:
    """The real CLI against this test's SQLite-only instance (see sqlite_ctx)."""
    runner = CliRunner()
    config = tmp_path / "config.toml"

    def run(*args: str) -> Any:
        return runner.invoke(cli_app, list(args), env={"MAILHUB_CONFIG": str(config)})

    return run
