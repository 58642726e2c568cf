"""`station dashboard copy-database`: the SQLite file copied to a real PostgreSQL, whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from station.dashboard.accounts import Accounts
from station.dashboard.store import Store
from station.dashboard.store.copying import copied_tables
from station.dashboard.store.people import LoginSession, SessionNote, User
from tests.dashboard.helpers import snapshot
from tests.dashboard.report_events import PART, example_session, write


def filled_sqlite(path: Path) -> tuple[str, Store]:
    """A dashboard database with a session's events and summary, users, an assignment, a
    sign-in, audit entries and a note."""
    url = f"sqlite:///{path}"
    store = Store.open(url)
    script = example_session().end()
    write(store, script.events, summary={"session": PART.session_id, "accepted": 84})
    accounts = Accounts(store, b"k" * 32)
    accounts.add_user("mara", "therapist", "a long enough password")
    accounts.assign("mara", "C-7F3K")
    accounts.sign_in("mara", "127.0.0.1")
    accounts.audit("mara", "viewed_client", client="C-7F3K")
    with store.transaction() as db, db.begin():
        db.add(SessionNote(session_id=PART.session_id, client="C-7F3K", author="mara",
                           version=1, text="Responded well.", created=1.0))
    return url, store


def dashboard_file(folder: Path, url: str) -> Path:
    path = folder / "dashboard.toml"
    path.write_text(f'[dashboard]\ndata_dir = "{folder}"\ndatabase_url = "{url}"\n')
    return path


def copy(config: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "station", "dashboard", "--config", str(config),
         "copy-database", target], capture_output=True, text=True, timeout=120, check=False)


def typed_rows(store: Store) -> dict[str, list[str]]:
    """Every copied table's rows as the models read them (JSON parsed, its keys in order:
    PostgreSQL's jsonb keeps them in an order of its own)."""
    with store.engine.connect() as connection:
        return {table.name: sorted(json.dumps(list(row), sort_keys=True)
                                   for row in connection.execute(select(table)))
                for table in copied_tables()}


def test_everything_but_sign_ins_arrives_in_postgresql(tmp_path: Path, postgres: Any) -> None:
    url, source = filled_sqlite(tmp_path / "dashboard.sqlite3")
    before = snapshot(source)
    target_url = postgres.create_database()

    result = copy(dashboard_file(tmp_path, url), target_url)

    assert result.returncode == 0, result.stderr
    assert "events: " in result.stdout and "the source is unchanged" in result.stdout
    target = Store.open(target_url)
    try:
        assert snapshot(target)[LoginSession.__tablename__] == []
        copied = typed_rows(target)
        assert copied == typed_rows(source)
        assert len(copied["events"]) == len(script_events()) and copied["audit_log"]
        # New rows get new ids: the sequences moved past the copied ones.
        accounts = Accounts(target, b"k" * 32)
        accounts.add_user("noor", "staff", "another long password")
        with target.transaction() as db:
            ids = sorted(db.scalars(select(User.id)))
        assert len(set(ids)) == 2
        # The people copied can sign in on the new database.
        assert accounts.verify("mara", "a long enough password")
    finally:
        target.close()
    assert snapshot(source) == before
    source.close()


def script_events() -> list[Any]:
    return example_session().end().events


def test_a_target_with_data_is_refused_and_left_alone(tmp_path: Path, postgres: Any) -> None:
    url, source = filled_sqlite(tmp_path / "dashboard.sqlite3")
    source.close()
    target_url = postgres.create_database()
    occupied = Store.open(target_url)
    Accounts(occupied, b"k" * 32).add_user("someone", "admin", "a long enough password")
    before = snapshot(occupied)

    result = copy(dashboard_file(tmp_path, url), target_url)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "station: the target database already holds data: users (1 rows); copy into a new, "
        "empty database, so that nothing in it is overwritten or mixed")
    assert snapshot(occupied) == before
    occupied.close()


def test_the_database_in_use_is_not_a_target(tmp_path: Path) -> None:
    url, source = filled_sqlite(tmp_path / "dashboard.sqlite3")
    source.close()

    result = copy(dashboard_file(tmp_path, url), url)

    assert result.returncode == 1
    assert result.stderr.strip() == ("station: the target is the database the dashboard "
                                     "already uses; name another one")
