"""``fabserver connectors [--json]``: the connectors installed and the machines using them.

Each machine's connector settings are checked as ``connector_for`` would, so a
missing host or an unset API key variable shows here, before a job is dispatched.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import FabError
from . import connector_for, discover_connectors


def _machine_rows(profiles: Any, lang: str) -> list[dict[str, Any]]:
    rows = []
    for machine in profiles.machines.values():
        if machine.abstract:
            continue
        kind = machine.connector.get("type", "download")
        try:
            connector_for(machine)
            problem = ""
        except FabError as error:
            problem = error.message.get(lang)
        except ValueError as error:
            problem = str(error)
        rows.append({"machine": machine.id, "type": kind, "problem": problem})
    return rows


def connector_rows(profiles: Any, lang: str = "fr") -> list[dict[str, Any]]:
    """One row per connector type, with the machines that use it and their problems."""
    machines = _machine_rows(profiles, lang)
    entries = discover_connectors()
    rows = []
    for name, entry in entries.items():
        users = [m for m in machines if m["type"] == name]
        rows.append(
            {
                "type": name,
                "description": entry.cls.description.get(lang) if entry.cls else "",
                "origin": entry.origin,
                "status": "ok" if entry.cls else "broken",
                "error": entry.error,
                "machines": [m["machine"] for m in users],
                "problems": {m["machine"]: m["problem"] for m in users if m["problem"]},
            }
        )
    for missing in sorted({m["type"] for m in machines} - set(entries)):
        users = [m for m in machines if m["type"] == missing]
        rows.append(
            {
                "type": missing,
                "description": "",
                "origin": "",
                "status": "missing",
                "error": "no such connector installed",
                "machines": [m["machine"] for m in users],
                "problems": {m["machine"]: m["problem"] for m in users},
            }
        )
    return rows


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def connectors(ctx: click.Context, as_json: bool) -> None:
    """List installed connectors and the machines that use them."""
    from ..profiles import load_profiles

    obj = ctx.obj or {}
    lang = obj.get("lang", "fr")
    try:
        profiles = load_profiles(obj.get("profiles"))
    except FabError as error:
        click.echo(error.message.get(lang), err=True)
        ctx.exit(2)
    rows = connector_rows(profiles, lang)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    headers = (
        ("connecteur", "description", "origine", "état", "machines")
        if lang == "fr"
        else ("connector", "description", "origin", "status", "machines")
    )
    table = Table(*headers)
    for row in rows:
        status = row["status"] if not row["error"] else f"{row['status']}: {row['error']}"
        table.add_row(
            row["type"], row["description"], row["origin"], status, ", ".join(row["machines"])
        )
    console = Console()
    console.print(table)
    for row in rows:
        for machine, problem in row["problems"].items():
            console.print(f"[yellow]! {machine}[/yellow]: {problem}", highlight=False)
