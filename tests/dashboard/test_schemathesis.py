"""schemathesis against the dashboard's own OpenAPI description: no request it can make, valid
or not, gets a server error. The app serves no API description (`openapi_url=None`), but
`app.openapi()` lists every route; the app runs in-process on a real SQLite store, each case
signed in afresh (so `/logout` ends only its own sign-in) with the CSRF token sent as
web/security.py expects it (the ``X-CSRF-Token`` header; for ``/login``, the sign-in form's own
cookie)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from station.dashboard.store import EventRecord, LiveRecord, StateRecord, StatusRecord, Store
from station.dashboard.store.records import StationKey
from station.dashboard.web.app import create_app
from station.dashboard.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from tests.dashboard.helpers import event
from tests.dashboard.web_helpers import PASSWORD, Web, make_web

ROOM = StationKey("demo-site", "room-1")
# An endless server-sent event stream: a request to it never ends by itself. It takes no
# parameters; the browser tests and test_web.py read it.
STREAM = "/rooms/events"
EXAMPLES_PER_OPERATION = 40
# The stored session's path parameters: cases with these reach the pages' own code (random
# ones mostly meet "no such client/session").
STORED = {"client": "C-7F3K", "session_id": "3fa9c1d2e4b5"}


@pytest.fixture
def web(tmp_path: Path, mosquitto: Any, ingest_factory: Any) -> Iterator[Web]:
    """The app on a real SQLite store with a real ingest on a real broker (so that `/health`
    is well, and answers 200)."""
    store = Store.open(f"sqlite:///{tmp_path / 'dashboard.sqlite3'}")
    made = make_web(store)
    ingest = ingest_factory(store)
    made.context.ingest_status = ingest.status
    made.context.broker = f"127.0.0.1:{mosquitto.port}"
    made.accounts.add_user("root", "admin", PASSWORD)
    made.accounts.add_user("anna", "therapist", PASSWORD)
    made.accounts.assign("anna", "C-7F3K")
    # A room with a session of anna's client, so the pages have something to show.
    store.write([EventRecord(ROOM, message, 100.0) for message in (
        event(1, "session_start"), event(2, "press"), event(3, "release"),
        event(4, "rejected"), event(5, "observation", detail={"tag": "independent"}),
        event(6, "press"), event(7, "session_end"))])
    store.write([
        StatusRecord(ROOM, "online", 100.0),
        StateRecord(ROOM, {"client": "C-7F3K", "sound_set": "calm-bells", "volume": 0.6,
                           "session": "3fa9c1d2e4b5"}, 101.0),
        LiveRecord(ROOM, "counts", {"session": "3fa9c1d2e4b5", "client": "C-7F3K",
                                    "counts": {"big-red": 2}}, 102.0),
    ])
    yield made
    store.close()


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, from the app's own description (no request is
    served by this app)."""
    app = create_app(None)  # type: ignore[arg-type]
    return [(method.upper(), path) for path, methods in app.openapi()["paths"].items()
            for method in methods]


def test_only_the_endless_stream_is_left_out(web: Web) -> None:
    paths = web.app.openapi()["paths"]
    assert paths[STREAM].keys() == {"get"}
    assert not paths[STREAM]["get"].get("parameters")
    assert len(operations()) >= 12


# schemathesis's own pytest plugin (`schema.parametrize()`) does not run under pytest 9: the
# operations are parametrized here and each runs as a Hypothesis test of its own.
@pytest.mark.parametrize("user", ["root", "anna"])
@pytest.mark.parametrize(("method", "path"),
                         [operation for operation in operations() if operation[1] != STREAM])
def test_no_request_gets_a_server_error(web: Web, user: str, method: str, path: str) -> None:
    """As an admin, and as a therapist (who reaches the client routes' own code)."""
    schema = schemathesis.openapi.from_dict(web.app.openapi())
    schema.app = web.app
    operation = schema[path][method]
    stored = {name: value for name, value in STORED.items() if "{" + name + "}" in path}
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE),
                      *([operation.as_strategy(GenerationMode.POSITIVE, path_parameters=stored)]
                        if stored else []))

    @given(case=cases)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def no_server_error(case: Any) -> None:
        token = web.accounts.sign_in(user, "testclient")
        signed_in = web.accounts.signed_in(token, 3600)
        assert signed_in is not None
        csrf = signed_in.csrf_token
        response = case.call(headers={"X-CSRF-Token": csrf},
                             cookies={SESSION_COOKIE: token, LOGIN_CSRF_COOKIE: csrf})
        case.validate_response(response, checks=[not_a_server_error])

    no_server_error()
