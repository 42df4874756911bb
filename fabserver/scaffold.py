"""``fabserver plugin new NAME``: a plugin author's start.

Writes a working plugin package — code, an example machine and material
profile, tests that import the new package and plan on the new machine, a
README and its ``pyproject.toml`` — shaped like the smallest complete plugin
(the vinyl cutter's): settings models for the profiles' ``[settings]``, the
declaration, a ``plan`` that builds the shared Toolpath, and a machine file from
a core writer (HPGL, here for a pen plotter). The new package's tests pass as
generated; the author then changes what the machine really does.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import click

NAME = re.compile(r"[a-z][a-z0-9_]{1,30}")

TEMPLATE = Path(__file__).resolve().parent / "plugin_template"
"""The package's files, each ``PATH.tmpl`` with ``$name``, ``$cls`` and ``$title`` to fill in."""


def write_plugin(name: str, dest: Path) -> Path:
    """Write the package ``fabserver-NAME`` under ``dest``; return its folder."""
    if not NAME.fullmatch(name):
        raise click.BadParameter(
            "lower-case letters, digits and '_', starting with a letter (e.g. pen_plotter)",
            param_hint="NAME",
        )
    root = dest / f"fabserver-{name}"
    if root.exists():
        raise click.BadParameter(f"{root} already exists", param_hint="NAME")
    words = {
        "name": name,
        "cls": "".join(part.capitalize() for part in name.split("_")) + "Plugin",
        "title": name.replace("_", " ").capitalize(),
    }
    for template in sorted(TEMPLATE.rglob("*.tmpl")):
        path = template.relative_to(TEMPLATE).with_suffix("").as_posix()
        target = root / Template(path).substitute(words)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = template.read_text(encoding="utf-8")
        target.write_text(Template(text).substitute(words), encoding="utf-8")
    return root


@click.group("plugin")
def plugin() -> None:
    """Plugin authors' tools."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to write the package in.",
)
def new(name: str, dest: Path) -> None:
    """Write a working plugin package NAME (code, profiles, tests, README) to start from."""
    root = write_plugin(name, dest)
    click.echo(f"→ {root}")
    click.echo(f"  pip install -e {root} && python -m pytest {root / 'tests'}")
