"""The `station` command line."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomli_w

from station import __version__
from station.config import (
    LoadedStation,
    check_files,
    data_dir_of,
    effective_config,
    load_station,
)
from station.errors import ConfigError, StationError
from station.signals import on_signals

log = logging.getLogger("station")

DEFAULT_CONFIG_PATHS = (Path("/etc/sensory-station/station.toml"), Path("config/station.toml"))


def default_config() -> Path:
    """``$STATION_CONFIG``, else /etc/sensory-station/station.toml, else ./config/station.toml."""
    if os.environ.get("STATION_CONFIG"):
        return Path(os.environ["STATION_CONFIG"])
    for path in DEFAULT_CONFIG_PATHS:
        if path.exists():
            return path
    return DEFAULT_CONFIG_PATHS[-1]


def setup_logging(component: str, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=f"%(asctime)s {component}: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )


def _add_config_options(parser: argparse.ArgumentParser, *, again: bool = False) -> None:
    """--config and --set; `again` on a subcommand whose parent has them, so that they may
    stand before or after it (the subcommand's defaults must not overwrite the parent's)."""
    parser.add_argument(
        "--config", type=Path, default=argparse.SUPPRESS if again else None, metavar="PATH",
        help="station file (default: $STATION_CONFIG, /etc/sensory-station/station.toml, "
        "or ./config/station.toml)",
    )
    parser.add_argument(
        "--set", action="append", default=argparse.SUPPRESS if again else [],
        metavar="SECTION.KEY=VALUE", dest="overrides",
        help="override one setting of the station file (repeatable), e.g. --set mqtt.port=1884",
    )


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulate", action="store_true",
        help="mock GPIO: play with the keyboard (terminal) or 'press NAME' lines (pipe)",
    )
    parser.add_argument(
        "--record", type=Path, metavar="FILE.wav", help="record everything played to a WAV file"
    )


def _add_control_parser(commands: Any) -> None:
    """`station control ACTION [VALUE] [--OPTION ...]`, one action per command schema."""
    from station.contract.commands import engine_commands

    control = commands.add_parser(
        "control", help="send a command to the running engine",
        description="Send one command to the engine of this station (through the control "
        "socket in its data directory) and print the reply as JSON. Exit status 1 if the "
        "engine refused it; the engine checks every value and says what is allowed.",
    )
    _add_config_options(control)
    actions = control.add_subparsers(dest="action", required=True, metavar="ACTION")
    for spec in engine_commands().values():
        action = actions.add_parser(spec.cli_action, help=spec.title, description=spec.title)
        action.set_defaults(command_name=spec.name)
        for argument in spec.arguments:
            described = argument.description
            if argument.choices:
                described = f"{described} ({', '.join(argument.choices)})".strip()
            kind = {"number": float, "integer": int}.get(argument.kind, str)
            # A list (a cue's targets) is given as several words.
            many = argument.kind == "array"
            if argument is spec.value:
                action.add_argument(
                    argument.name, metavar=argument.name.upper(), type=kind, help=described,
                    nargs="+" if many else None if argument.required else "?",
                )
            else:
                action.add_argument(f"--{argument.name}", type=kind, help=described,
                                    nargs="+" if many else None)
        _add_config_options(action, again=True)


def _add_dashboard_parser(commands: Any) -> None:
    """`station dashboard [serve | add-user NAME --role ROLE | assign USER CLIENT | ...]`."""
    dashboard = commands.add_parser(
        "dashboard", help="the therapists' dashboard: serve it, or add users and assignments",
        description="Serve the dashboard (ingest and web pages in one process), or manage its "
        "users. --config takes a station file (its [dashboard] table) or a dashboard file.",
    )
    _add_config_options(dashboard)
    actions = dashboard.add_subparsers(dest="dashboard_action", metavar="ACTION")
    serve = actions.add_parser("serve", help="serve the dashboard (the default)")
    _add_config_options(serve, again=True)
    add_user = actions.add_parser(
        "add-user", help="add a user (the password is asked for, or read from stdin)",
        description="Add a user. The password is asked for twice at a terminal, or read as "
        "one line from standard input; never give it on the command line.")
    add_user.add_argument("name", help="user name: lower-case letters, digits, '.', '_', '-'")
    add_user.add_argument("--role", required=True, choices=["admin", "therapist", "staff"],
                          help="admin: users, assignments, audit; therapist: their clients; "
                          "staff: rooms and live counts")
    _add_config_options(add_user, again=True)
    for name, verb in (("assign", "assign a client to a therapist"),
                       ("unassign", "take a client from a therapist")):
        action = actions.add_parser(name, help=verb, description=verb.capitalize() + ".")
        action.add_argument("user", help="the therapist's user name")
        action.add_argument("client", help="the client's pseudonym, e.g. C-7F3K")
        _add_config_options(action, again=True)
    users = actions.add_parser("users", help="list the users, their roles and clients")
    _add_config_options(users, again=True)
    copy = actions.add_parser(
        "copy-database", help="copy all the dashboard's data to another (empty) database",
        description="Copy every table of the dashboard's database (the SQLite file, or the "
        "database_url in use) to another, empty database, e.g. a clinic's PostgreSQL. Stop "
        "the dashboard first; the source is only read. Then set database_url to the target.")
    copy.add_argument("target_url", metavar="URL",
                      help="postgresql+psycopg://user:password@host/dbname or sqlite:///path")
    _add_config_options(copy, again=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station",
        description="Sensory Music Station: adaptive switches in, music out, engagement data "
        "over MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the station: engine and telemetry agent, supervised",
        description="Start the engine and the telemetry agent as separate processes (and the "
        "embedded MQTT broker when the config names none); restart any that crashes; "
        "Ctrl-C or SIGTERM stops them all.",
    )
    _add_config_options(run)
    _add_engine_options(run)

    demo = commands.add_parser(
        "demo", help="a self-contained demo with simulated switches",
        description="With a terminal: play with the keyboard and watch the per-input counts "
        "that come back from the broker. Without one: a scripted session of simulated "
        "presses, recorded to a WAV file, then the counts received over MQTT.",
    )
    _add_config_options(demo)
    demo.add_argument("--seconds", type=float, default=20.0,
                      help="length of the scripted session, seconds (default 20)")
    demo.add_argument("--record", type=Path, default=Path("demo.wav"), metavar="FILE.wav",
                      help="where the scripted session is recorded (default demo.wav)")
    demo.add_argument("--report", type=Path, default=Path("demo-report.pdf"),
                      metavar="FILE.pdf", help="where the scripted session's report from the "
                      "dashboard is saved (default demo-report.pdf)")

    engine = commands.add_parser(
        "engine", help="run only the engine process (inputs and sound)",
        description="Inputs and sound only; events go to the local event log. Normally "
        "started by 'station run' or systemd.",
    )
    _add_config_options(engine)
    _add_engine_options(engine)

    agent = commands.add_parser(
        "agent", help="run only the telemetry agent (event log to MQTT)",
        description="Delivers the event log to the MQTT broker. Normally started by "
        "'station run' or systemd.",
    )
    _add_config_options(agent)

    broker = commands.add_parser(
        "broker", help="run only the embedded MQTT broker (localhost)",
        description="An MQTT broker on 127.0.0.1 at mqtt.port, for stations whose config "
        "names no broker.",
    )
    _add_config_options(broker)

    bench = commands.add_parser(
        "bench", help="run a benchmark and print its result as JSON",
        description="Run one of the benchmarks in station/bench and print JSON.",
    )
    bench_commands = bench.add_subparsers(dest="bench_name", required=True, metavar="NAME")
    from station import bench as benchmarks

    for name in benchmarks.available():
        module = benchmarks.load(name)
        bench_parser = bench_commands.add_parser(
            name, help=(module.__doc__ or name).strip().splitlines()[0],
            description=(module.__doc__ or name).strip(),
        )
        if hasattr(module, "add_arguments"):
            module.add_arguments(bench_parser)

    _add_control_parser(commands)

    watch = commands.add_parser(
        "watch", help="live view of one or all stations, from the MQTT broker",
        description="Show every station under the topic root (or one) as the broker reports "
        "it: online or offline, client, sound set, volume, session, presses per input, "
        "presses per minute, rejected presses, undelivered backlog. Uses the broker, TLS and "
        "login of the station file; --username logs in as someone else (the password comes "
        "from $STATION_WATCH_PASSWORD or is asked for).",
    )
    _add_config_options(watch)
    watch.add_argument("--site", default="+", help="only this site (default: all)")
    watch.add_argument("--station", default="+", help="only this station id (default: all)")
    watch.add_argument("--username", default="", help="log in as this user, e.g. dashboard")
    watch.add_argument("--once", type=float, default=None, metavar="SECONDS",
                       help="collect for SECONDS, print the table once and exit")

    _add_dashboard_parser(commands)

    config = commands.add_parser("config", help="check or show configuration files",
                                 description="Check or show configuration files.")
    config_commands = config.add_subparsers(dest="config_command", required=True,
                                            metavar="ACTION")
    check = config_commands.add_parser(
        "check", help="check station, sound-set and client files",
        description="Check each file (a station file also checks the sound sets and clients "
        "it uses). Prints every problem as 'file: section.key: message'; exit status 1 if any.",
    )
    check.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    show = config_commands.add_parser(
        "show", help="print the effective station config (secrets masked)",
        description="Print the station config with every default filled in; passwords print "
        "as ********.",
    )
    _add_config_options(show)
    return parser


def _load(arguments: argparse.Namespace) -> LoadedStation:
    return load_station(arguments.config or default_config(), arguments.overrides)


def _stop_on_signals(stop: threading.Event) -> None:
    on_signals((signal.SIGINT, signal.SIGTERM), stop.set)


def _run_engine(arguments: argparse.Namespace) -> int:
    from station.engine.build import build_engine

    engine = build_engine(
        _load(arguments), simulate=arguments.simulate, record=arguments.record,
        overrides=arguments.overrides,
    )
    _stop_on_signals(engine.stopping)
    # SIGHUP (systemctl reload) re-reads the config; a broken file keeps the running settings.
    on_signals((signal.SIGHUP,), engine.control.reload)
    return engine.run()


def _run_agent(arguments: argparse.Namespace) -> int:
    from station.telemetry.agent import TelemetryAgent

    agent = TelemetryAgent(_load(arguments), arguments.overrides)
    _stop_on_signals(agent.stopping)
    return agent.run()


def _run_broker(arguments: argparse.Namespace) -> int:
    from station.telemetry.broker import run_broker

    return run_broker(_load(arguments).config.mqtt.port)


def _run_station(arguments: argparse.Namespace) -> int:
    from station.supervisor import Supervisor, station_children

    station = _load(arguments)
    supervisor = Supervisor(
        station_children(station, arguments.config or default_config(), arguments.overrides,
                         simulate=arguments.simulate, record=arguments.record)
    )
    supervisor.start()
    supervisor.run_until_stopped()
    return 0


def _run_demo(arguments: argparse.Namespace) -> int:
    from station.demo import run_demo

    return run_demo(
        arguments.config or default_config(), arguments.overrides, arguments.seconds,
        arguments.record, arguments.report,
    )


def _run_bench(arguments: argparse.Namespace) -> int:
    import json

    from station import bench

    result = {"benchmark": arguments.bench_name, "environment": bench.environment()}
    result.update(bench.load(arguments.bench_name).run(arguments))
    print(json.dumps(result, indent=2))
    return 0


def _run_control(arguments: argparse.Namespace) -> int:
    import json

    from station.contract.commands import command_specs
    from station.engine.control_socket import ControlError, send_command

    spec = command_specs()[arguments.command_name]
    command: dict[str, object] = {"command": spec.name}
    for argument in spec.arguments:
        value = getattr(arguments, argument.name)
        if value is not None:
            command[argument.name] = value
    try:
        reply = send_command(
            data_dir_of(arguments.config or default_config(), arguments.overrides), command
        )
    except ControlError as error:
        print(f"station: {error}; is the station running with this config?", file=sys.stderr)
        return 1
    print(json.dumps(reply, indent=2))
    return 0 if reply.get("ok") else 1


def _run_watch(arguments: argparse.Namespace) -> int:
    import getpass
    import threading

    from rich.console import Console

    from station.telemetry.watch import StationBoard, connect, run_watch

    station = _load(arguments)
    password = ""
    if arguments.username:
        password = os.environ.get("STATION_WATCH_PASSWORD") or getpass.getpass(
            f"MQTT password for {arguments.username}: ")
    board = StationBoard(station.config.mqtt.topic_root)
    client = connect(board, station, board.subscriptions(arguments.site, arguments.station),
                     arguments.username, password)
    stop = threading.Event()
    _stop_on_signals(stop)
    return run_watch(board, client, Console(), arguments.once, stop)


def _run_dashboard(arguments: argparse.Namespace) -> int:
    from station.config import load_dashboard

    config = load_dashboard(arguments.config or default_config(), arguments.overrides)
    action = arguments.dashboard_action or "serve"
    if action == "serve":
        from station.dashboard.process import DashboardProcess

        return DashboardProcess(config).run()
    if action == "copy-database":
        from station.dashboard.database_copy import run_copy

        return run_copy(config, arguments.target_url)
    from station.dashboard.users import run_user_action

    return run_user_action(config, action, arguments)


def _config_check(arguments: argparse.Namespace) -> int:
    problems = check_files(arguments.paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"station: {len(problems)} problem(s); fix them and check again", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(str(path) for path in arguments.paths)}")
    return 0


def _config_show(arguments: argparse.Namespace) -> int:
    station = _load(arguments)
    print(f"# effective config of {station.path}")
    print(tomli_w.dumps(effective_config(station)), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    component = arguments.command if arguments.command != "config" else "station"
    setup_logging(component, arguments.verbose)
    # A crash in C code (pyo, libjack, a driver) prints every thread's Python stack to stderr,
    # which systemd keeps in the journal: what the process was doing when it died.
    faulthandler.enable(file=2)  # the descriptor: sys.stderr may be replaced (tests, wrappers)
    handlers = {
        "run": _run_station,
        "demo": _run_demo,
        "engine": _run_engine,
        "agent": _run_agent,
        "broker": _run_broker,
        "bench": _run_bench,
        "control": _run_control,
        "watch": _run_watch,
        "dashboard": _run_dashboard,
    }
    try:
        if arguments.command == "config":
            if arguments.config_command == "check":
                return _config_check(arguments)
            return _config_show(arguments)
        return handlers[arguments.command](arguments)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("station: the configuration has problems (above); fix them and run again",
              file=sys.stderr)
        return 1
    except StationError as error:
        print(f"station: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
