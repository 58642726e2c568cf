"""`station dashboard add-user | assign | unassign | users`: the dashboard's people, from the
shell. Runs beside a serving dashboard (the database takes both)."""

from __future__ import annotations

import argparse
import getpass
import sys

from station.config import DashboardConfig
from station.dashboard.accounts import AccountError, Accounts, check_password
from station.dashboard.process import secret_key
from station.dashboard.store import Store
from station.errors import StationError


def read_password(name: str) -> str:
    """Asked for twice at a terminal; one line of standard input otherwise (a script)."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        check_password(password)
        if getpass.getpass("the same password again: ") != password:
            raise AccountError("the two passwords differ; nothing was changed")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def run_user_action(config: DashboardConfig, action: str, arguments: argparse.Namespace) -> int:
    """Do `action` and print what was done; StationError says what went wrong."""
    try:
        store = Store.open(config.database_url)
    except Exception as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StationError(f"the dashboard's database cannot be opened: {reason}") from None
    try:
        accounts = Accounts(store, secret_key(config.secret_key_file))
        if action == "add-user":
            accounts.add_user(arguments.name, arguments.role, read_password(arguments.name))
            accounts.audit("(shell)", "user_added", detail=f"{arguments.name} as "
                           f"{arguments.role}")
            print(f"added {arguments.name} ({arguments.role})")
        elif action in ("assign", "unassign"):
            accounts.assign(arguments.user, arguments.client, action == "assign")
            accounts.audit("(shell)", f"{action}ed", client=arguments.client,
                           detail=f"to {arguments.user}")
            word = "assigned to" if action == "assign" else "no longer assigned to"
            print(f"{arguments.client} {word} {arguments.user}")
        else:
            for user in accounts.users():
                clients = ", ".join(user.clients) or "-"
                print(f"{user.name}\t{user.role}\t{clients}")
    finally:
        store.close()
    return 0
