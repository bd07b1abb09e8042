"""The schema is built by Alembic, matches the models, and every revision is reversible."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import service.models  # noqa: F401
from service.db import alembic_config, make_engine, migrate
from tests.conftest import new_database


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_every_revision_downgrades_and_upgrades_again(backend: str, tmp_path) -> None:
    with new_database(backend, tmp_path, "migrate") as url:
        config = alembic_config(url)
        revisions = list(ScriptDirectory.from_config(config).walk_revisions())
        migrate(url)
        for _ in revisions:
            command.downgrade(config, "-1")
        engine = create_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        migrate(url)
        engine = create_engine(url)
        assert {"source", "file", "text", "job", "site", "user_account", "token"} <= set(
            inspect(engine).get_table_names()
        )
        engine.dispose()


def test_revision_files_are_named_by_date() -> None:
    import re
    from pathlib import Path

    import migrations

    names = [p.name for p in (Path(migrations.__file__).parent / "versions").glob("*.py")]
    assert names
    for name in names:
        assert re.match(r"^\d{4}-\d{2}-\d{2}-\d{4}_[a-z0-9_]+\.py$", name), name


def test_migrations_seed_the_default_vocabulary(backend: str, tmp_path) -> None:
    """The revision that made the allow list wrote the defaults that the code records."""
    from sqlalchemy import text

    from service.deid.service import normalise
    from service.deid.vocabulary import DEFAULT_VOCABULARY

    with new_database(backend, tmp_path, "vocabulary") as url:
        migrate(url)
        engine = create_engine(url)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT text, key FROM deid_allow_term")).all()
        engine.dispose()
    assert sorted(t for t, _ in rows) == sorted(DEFAULT_VOCABULARY)
    assert all(key == normalise(t) for t, key in rows)


def test_the_vocabulary_revision_downgrades_to_the_earlier_defaults(backend: str, tmp_path) -> None:
    """Revision 'more vocabulary' removes, going down, only the rows it wrote."""
    from sqlalchemy import text

    from service.deid.vocabulary import DEFAULT_VOCABULARY

    with new_database(backend, tmp_path, "vocabulary_down") as url:
        config = alembic_config(url)
        script = next(
            s
            for s in ScriptDirectory.from_config(config).walk_revisions()
            if s.path.endswith("_more_vocabulary.py")
        )
        migrate(url)
        engine = create_engine(url)
        command.downgrade(config, str(script.down_revision))
        with engine.connect() as connection:
            rows = {t for (t,) in connection.execute(text("SELECT text FROM deid_allow_term"))}
        assert "EPR" in rows and "go-live" in rows
        assert not rows & {"NEWS2", "ReSPECT", "dm+d", "SBAR"}
        migrate(url)
        with engine.connect() as connection:
            rows = {t for (t,) in connection.execute(text("SELECT text FROM deid_allow_term"))}
        engine.dispose()
    assert rows == set(DEFAULT_VOCABULARY)
