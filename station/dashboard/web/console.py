"""The session console of one station: its state, counts and feed live, and its commands.

Who may do what (docs/dashboard.md, "Session console"): a therapist opens and commands the
console of a station whose current client is one of theirs, or that has none, and chooses only
among their own clients; staff see it read-only (state and counts, the feed without
observations or notes, no controls); an admin may do everything. The page updates over
server-sent events like the rooms page: every connection starts complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool

from station.contract.schemas import NAME_PATTERN, schema
from station.dashboard.accounts import Role, SignedIn
from station.dashboard.commands import CommandRefused, DeskView, TrackedCommand
from station.dashboard.feed import FeedLine, feed_lines, recent_events
from station.dashboard.reports.words import PROMPT_LEVELS, half_up
from station.dashboard.rooms import Room, room
from station.dashboard.store import StationView
from station.dashboard.store.records import StationKey
from station.dashboard.web.app import page_problems, render, templates
from station.dashboard.web.context import DashboardContext, DatabaseUnavailable
from station.dashboard.web.pages import Viewer
from station.dashboard.web.security import SESSION_COOKIE, Forbidden, address_of, context_of
from station.dashboard.web.stream import RECHECK_SIGN_IN_SECONDS, still_signed_in

router = APIRouter()

RECONNECT_MS = 2000
BANNER_CHECK_SECONDS = 2.0
KEEP_ALIVE_SECONDS = 15.0
# The commands the console offers, with the form fields each takes.
CONSOLE_COMMANDS = ("start_session", "end_session", "select_client", "select_sound_set",
                    "set_volume", "start_recording", "stop_recording", "tag_observation", "cue",
                    "cancel_cue", "start_activity", "stop_activity", "calibrate_sensor")
# How long a calibration run may last, as the sensors panel offers it (the contract: 2–30 s).
CALIBRATION_SECONDS = (3, 5, 10, 20)
# What the cue panel offers: answer windows and re-cues (the contract allows more).
CUE_WINDOWS = (3, 5, 8, 10, 15)
CUE_RECUES = (0, 1, 2, 3)
VOLUME_STEPS = ("-10", "10")
# The contract's keys as the console's fields name them, for its refusals.
FIELD_LABELS = {"sound_set": "Sound set", "client": "Client", "note": "Note", "tag": "Observation",
                "targets": "Cue", "window_seconds": "Answer within", "recues": "Cue again",
                "input": "Sensor", "seconds": "Calibrate for",
                "payload": "The command"}  # the Quieter and Louder buttons, in % of the ceiling


@dataclass(frozen=True)
class Console:
    """One station's console as `viewer` may see it."""

    station: StationKey
    view: StationView
    room: Room
    may_command: bool
    show_notes: bool
    clients: tuple[str, ...]
    """The clients this viewer may choose (of those the station has)."""
    sound_sets: tuple[str, ...]
    play_inputs: tuple[str, ...]
    """The station's play inputs: what a cue may name (from its ``choices``)."""
    ceiling_dbfs: float | None
    """The current client's volume ceiling, from the station's ``choices``."""
    engine: dict[str, Any]
    """The engine's state from the last ack ({} before any)."""
    feed: tuple[FeedLine, ...]
    commands: tuple[TrackedCommand, ...]
    activities: tuple[tuple[str, str], ...] = ()
    """The station's activities (name, description), from its ``choices``."""
    usual_activity: str = ""
    """The current client's usual activity, from the station's ``choices``."""
    sensors: tuple[tuple[str, str], ...] = ()
    """The station's variable sensors (name, kind), from its ``choices``."""

    @property
    def online(self) -> bool:
        return self.room.online

    @property
    def controls_enabled(self) -> bool:
        return self.may_command and self.online

    @property
    def volume_percent(self) -> int | None:
        volume = (self.view.state or {}).get("volume")
        return half_up(float(volume) * 100) if volume is not None else None

    @property
    def volume_words(self) -> str:
        if self.volume_percent is None:
            return "not known yet"
        ceiling = (f" ({self.ceiling_dbfs:g} dBFS)".replace("-", "−")
                   if self.ceiling_dbfs is not None else "")
        return f"{self.volume_percent} % of this client's ceiling{ceiling}"

    @property
    def recording(self) -> str:
        """"on" or "off" as the last ack said, "unknown" before one: which of Start and Stop
        recording the console offers (both while it does not know)."""
        if "recording" not in self.engine:
            return "unknown"
        return "on" if self.engine["recording"] else "off"

    @property
    def recording_words(self) -> str:
        if "recording" not in self.engine:
            return "not known yet (shown after the first command)"
        name = self.engine["recording"]
        return f"recording to {name}" if name else "not recording"

    @property
    def audio_words(self) -> str:
        audio = self.engine.get("audio")
        if audio == "lost":
            return f"lost ({self.engine.get('audio_problem') or 'no reason given'})"
        return "playing" if audio == "playing" else "not known yet"


def station_key(site: str, station: str) -> StationKey:
    for value in (site, station):
        if not re.match(NAME_PATTERN, value):
            raise Forbidden(f"{value!r} is not a station name.", status=404)
    return StationKey(site, station)


def console_of(context: DashboardContext, found: SignedIn, key: StationKey) -> Console:
    """The console of `key` for `found`, or Forbidden saying why not."""
    context.require_database()
    view = next((item for item in context.store.stations() if item.station == key), None)
    if view is None:
        raise Forbidden(f"No station {key.name} at {key.site} has been heard from. It appears "
                        "on the rooms page once it connects.", status=404)
    client = (view.state or {}).get("client", "")
    if found.role is Role.THERAPIST and client and client not in found.clients:
        raise Forbidden(f"{key.name} is in use with a client who is not assigned to you. Its "
                        "console opens for that client's therapists.")
    session = (view.state or {}).get("session", "")
    starts = context.store.session_starts([session]) if session else {}
    desk = context.commands.view if context.commands is not None else DeskView()
    choices = desk.choices.get(key, {})
    ceilings = {entry["client"]: entry["volume_ceiling_dbfs"]
                for entry in choices.get("clients", [])}
    offered = list(ceilings) or ([client] if client else [])
    if found.role is Role.THERAPIST:
        offered = [name for name in offered if name in found.clients]
    sound_sets = list(choices.get("sound_sets", []))
    current_set = (view.state or {}).get("sound_set", "")
    if not sound_sets and current_set:
        sound_sets = [current_set]
    staff = found.role is Role.STAFF
    return Console(
        key, view, room(view, context.clock(), starts, None), may_command=not staff,
        show_notes=not staff, clients=tuple(offered), sound_sets=tuple(sound_sets),
        play_inputs=tuple(choices.get("play_inputs", [])),
        activities=tuple((entry["activity"], entry.get("description", ""))
                         for entry in choices.get("activities", [])),
        usual_activity=next((entry.get("activity", "") for entry in choices.get("clients", [])
                             if entry["client"] == client), ""),
        sensors=tuple((entry["input"], entry["kind"]) for entry in choices.get("sensors", [])),
        ceiling_dbfs=ceilings.get(client), engine=dict(desk.engine_states.get(key, {})),
        feed=tuple(feed_lines(recent_events(context.store, key), show_notes=not staff,
                              clients=found.clients if found.role is Role.THERAPIST else None)),
        commands=desk.commands.get(key, ()))


def live_payload(context: DashboardContext, found: SignedIn, key: StationKey) -> dict[str, Any]:
    """One ``console`` event: the live parts as HTML, and what the controls may do now."""
    banner = templates.get_template("_banner.html").render(problems=page_problems(context))
    try:
        console = console_of(context, found, key)
    except Forbidden as refused:
        return {"allowed": False, "message": str(refused), "banner": banner}
    except (DatabaseUnavailable, OperationalError, InterfaceError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        banner = templates.get_template("_banner.html").render(problems=[
            f"The dashboard's database cannot be reached ({reason}). The console comes back "
            "by itself when it is; the station keeps playing and keeps its data."])
        return {"allowed": True, "unavailable": True, "banner": banner}
    parts: Any = templates.get_template("_console_live.html").module  # its two macros
    answer_within = context.commands.answer_within if context.commands is not None else 10.0
    return {
        "allowed": True, "banner": banner, "now": context.clock(),
        "summary": str(parts.summary(console, context.clock())),
        "feed": str(parts.feed(console)),
        "online": console.online, "controls": console.controls_enabled,
        "session": console.room.session_running,
        "recording": console.recording,
        # The controls show what the station has now, unless someone is changing them.
        "settings": {"choose-client": console.room.client,
                     "choose-sound-set": console.room.sound_set,
                     "volume": console.volume_percent},
        "commands": [{"id": tracked.id, "outcome": tracked.outcome,
                      "words": tracked.words(answer_within)} for tracked in console.commands
                     if tracked.user == found.name],  # only the viewer's own
    }


def _page(request: Request, console: Console, status: int = 200, **values: Any) -> Response:
    base = f"/rooms/{console.station.site}/{console.station.name}"
    return render(request, "console.html", status, console=console,
                  now=context_of(request).clock(), tags=list(PROMPT_LEVELS.items()),
                  cue_windows=CUE_WINDOWS, cue_recues=CUE_RECUES,
                  calibration_seconds=CALIBRATION_SECONDS,
                  stream=f"{base}/console/events", commands_url=f"{base}/commands", **values)


@router.get("/rooms/{site}/{station}/console")
async def console_page(request: Request, site: str, station: str, found: Viewer) -> Response:
    context = context_of(request)
    key = station_key(site, station)
    console = await run_in_threadpool(console_of, context, found, key)
    # Recording and audio travel only in acks: ask once, so the page can show them.
    if console.controls_enabled and not console.engine and context.commands is not None:
        with contextlib.suppress(CommandRefused):  # the broker is away: the banner says so
            await _send(request, found, console, "status", {})
    return _page(request, console)


@router.get("/rooms/{site}/{station}/console/events")
async def console_events(request: Request, site: str, station: str,
                         found: Viewer) -> StreamingResponse:
    context = context_of(request)
    key = station_key(site, station)
    await run_in_threadpool(console_of, context, found, key)
    token = request.cookies.get(SESSION_COOKIE, "")

    async def events() -> AsyncIterator[str]:
        yield f"retry: {RECONNECT_MS}\n\n"
        sent, banner = -1, None
        quiet = checked = time.monotonic()
        while not await request.is_disconnected():
            if time.monotonic() - checked > RECHECK_SIGN_IN_SECONDS:
                checked = time.monotonic()
                if not await still_signed_in(context, token):
                    yield "event: signed-out\ndata: {}\n\n"
                    return
            version = context.hub.version
            if version != sent or page_problems(context) != banner:
                banner = page_problems(context)
                payload = await run_in_threadpool(live_payload, context, found, key)
                yield f"id: {version}\nevent: console\ndata: {json.dumps(payload)}\n\n"
                sent, quiet = version, time.monotonic()
            elif time.monotonic() - quiet > KEEP_ALIVE_SECONDS:
                yield ": still here\n\n"
                quiet = time.monotonic()
            # The commands' time-outs and the status change without a committed batch too.
            await context.hub.wait_newer(sent, BANNER_CHECK_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _arguments(name: str, form: dict[str, str], found: SignedIn,
               console: Console) -> dict[str, Any]:
    """The command's keys from the form's fields, or CommandRefused in the therapist's words."""
    if name == "select_client":
        client = form.get("client", "").strip()
        if found.role is Role.THERAPIST and client and client not in found.clients:
            raise Forbidden(f"No client {client} among the clients assigned to you. An admin "
                            "can assign clients.", status=404)
        return {"client": client}
    if name == "select_sound_set":
        return {"sound_set": form.get("sound_set", "").strip()}
    if name == "set_volume":
        step = form.get("step", "")
        if step in VOLUME_STEPS:  # Quieter / Louder: from the volume the station reports
            current = console.volume_percent if console.volume_percent is not None else 100
            return {"volume": min(100, max(0, current + int(step))) / 100}
        text = form.get("volume_percent", "").strip().replace(",", ".")
        try:
            percent = float(text)
            if not math.isfinite(percent):
                raise ValueError(text)
        except ValueError:
            raise CommandRefused(f"Volume: {text or 'nothing'!r} is not a number; give a "
                                 "percentage of the client's ceiling, 0 to 100. Nothing was "
                                 "sent.") from None
        return {"volume": percent / 100}
    if name == "start_activity":
        return {"activity": form.get("activity", "").strip()}
    if name == "calibrate_sensor":
        sensor = form.get("input", "").strip()
        if sensor not in dict(console.sensors):
            raise CommandRefused(f"This station has no sensor {sensor or 'chosen'!r}. Nothing "
                                 "was sent.")
        text = form.get("seconds", "").strip()
        try:
            return {"input": sensor, "seconds": float(text)}
        except ValueError:
            raise CommandRefused(f"Calibrate for: {text or 'nothing'!r} is not a number of "
                                 "seconds. Nothing was sent.") from None
    if name == "cue":
        targets = [target for target in console.play_inputs if form.get(f"target-{target}")]
        if not targets:
            raise CommandRefused("Tick the switch (or switches) that answer the cue first. "
                                 "Nothing was sent.")
        arguments: dict[str, Any] = {"targets": targets}
        for key, kind in (("window_seconds", float), ("recues", int)):
            text = form.get(key, "").strip()
            if text:
                try:
                    arguments[key] = kind(text)
                except ValueError:
                    raise CommandRefused(f"{FIELD_LABELS[key]}: {text!r} is not a number. "
                                         "Nothing was sent.") from None
        return arguments
    if name == "tag_observation":
        arguments = {key: form[key].strip() for key in ("tag", "note")
                     if form.get(key, "").strip()}
        if not arguments:
            raise CommandRefused("Choose a prompt level (independent … full physical), or "
                                 "write a note first. Nothing was sent.")
        longest = schema("cmd/tag_observation")["properties"]["note"]["maxLength"]
        if len(arguments.get("note", "")) > longest:
            raise CommandRefused(f"Note: {len(arguments['note'])} characters; a note has at "
                                 f"most {longest}. Shorten it. Nothing was sent.")
        return arguments
    return {}


def _words_of(name: str, arguments: dict[str, Any], refused: CommandRefused) -> str:
    """The contract's refusal, said for the form the person filled in."""
    if name == "set_volume" and str(refused).startswith("volume: "):
        return (f"Volume: {half_up(arguments['volume'] * 100)} % is not possible; choose 0 to "
                "100 % of the client's ceiling (100 % is the ceiling, never louder). Nothing "
                "was sent.")
    words = str(refused)
    for key, label in FIELD_LABELS.items():
        words = words.replace(f"{key}: ", f"{label}: ")
    return words


async def _send(request: Request, found: SignedIn, console: Console, name: str,
                arguments: dict[str, Any]) -> TrackedCommand:
    context = context_of(request)
    assert context.commands is not None
    tracked = await run_in_threadpool(context.commands.send, found.name, console.station,
                                      name, arguments)
    shown = {key: (f"({len(value)} characters)" if key == "note" else value)
             for key, value in arguments.items()}
    client = arguments.get("client") or (console.view.state or {}).get("client") or None
    await run_in_threadpool(
        context.accounts.audit, found.name, "command", client=client,
        detail=f"{console.station}: {name} {json.dumps(shown)} (id {tracked.id})".replace(
            " {}", ""), address=address_of(request))
    return tracked


@router.post("/rooms/{site}/{station}/commands/{command}")
async def send_command(request: Request, site: str, station: str, command: str,
                       found: Viewer) -> Response:
    """Send one command; 202 with its id, or 400 with why nothing was sent (JSON for the
    console's script; a form sent without the script gets the page again)."""
    context = context_of(request)
    key = station_key(site, station)
    console = await run_in_threadpool(console_of, context, found, key)
    if not console.may_command:
        raise Forbidden("Staff see the console read-only. Commands are for the client's "
                        "therapist.")
    form = {name: value for name, value in (await request.form()).items()
            if isinstance(value, str)}
    arguments: dict[str, Any] = {}
    try:
        if command not in CONSOLE_COMMANDS:
            raise CommandRefused(f"The console sends no command {command!r}.")
        if context.commands is None:
            raise CommandRefused("Commands cannot be sent yet: the dashboard is still starting. "
                                 "Try again in a moment.")
        arguments = _arguments(command, form, found, console)
        tracked = await _send(request, found, console, command, arguments)
    except CommandRefused as refused:
        words = _words_of(command, arguments, refused)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"error": words}, status_code=400)
        return _page(request, console, 400, error=words)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"id": tracked.id, "outcome": tracked.outcome,
                             "words": tracked.words(context.commands.answer_within)},
                            status_code=202)
    return _page(request, console, done=f"Sent: {command.replace('_', ' ')}. Its outcome shows "
                 "in the state above once the station has answered.")
