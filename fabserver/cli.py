"""The ``fabserver`` command: serve, worker, and offline tools over the core.

Every listing has ``--json`` for scripts; messages for people come in the
language of ``--lang`` (French by default, or ``FABSERVER_LANG``).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import click

from .errors import FabError
from .i18n import Text, french_number

LANG_ENV = "FABSERVER_LANG"


def _lang(ctx: click.Context) -> str:
    return ctx.obj.get("lang", "fr") if ctx.obj else "fr"


def _say(ctx: click.Context, message: Text) -> str:
    return message.get(_lang(ctx))


def _profiles(ctx: click.Context):
    from .profiles import load_profiles

    return load_profiles(ctx.obj.get("profiles"))


def _fail(ctx: click.Context, error: FabError, as_json: bool = False, status: int = 2) -> NoReturn:
    if as_json:
        click.echo(json.dumps({"error": error.message.to_dict()}, ensure_ascii=False))
    else:
        click.echo(_say(ctx, error.message), err=True)
    ctx.exit(status)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console().print(table)


def data_option(function):
    """``--data``: the data directory, for every command that opens the lab's store."""
    return click.option(
        "--data",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="FABSERVER_DATA",
        default=Path("data"),
        show_default=True,
        help="Data directory (or FABSERVER_DATA).",
    )(function)


class _LazyGroup(click.Group):
    """A group whose server-side commands are imported only when run or listed.

    ``fabserver plan`` needs neither the web app nor the printer connectors;
    importing them for every command cost a tenth of a second and 20 MB.
    A command whose module is absent (a slim install) is simply not offered.
    """

    lazy_commands: ClassVar[dict[str, tuple[str, str]]] = {
        "add-staff": ("fabserver.web.commands", "add_staff"),
        "staff-password": ("fabserver.web.commands", "staff_password"),
        "connectors": ("fabserver.dispatch.commands", "connectors"),
        "plugin": ("fabserver.scaffold", "plugin"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in self.lazy_commands:
            self._load(name)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._load(cmd_name)

    def _load(self, name: str) -> click.Command | None:
        if name in self.commands or name not in self.lazy_commands:
            return self.commands.get(name)
        module, attribute = self.lazy_commands[name]
        try:
            command = getattr(importlib.import_module(module), attribute, None)
        except ImportError:
            return None
        if command is not None:
            self.add_command(command)
        return command


@click.group(cls=_LazyGroup)
@click.option(
    "--profiles",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FABSERVER_PROFILES",
    help="Profile folder (default: the lab's).",
)
@click.option(
    "--lang", type=click.Choice(["fr", "en"]), envvar=LANG_ENV, default="fr", show_default=True
)
@click.pass_context
def main(ctx: click.Context, profiles: Path | None, lang: str) -> None:
    """fabserver: CAM/slicing job server for a fablab."""
    ctx.ensure_object(dict)
    ctx.obj["profiles"] = profiles
    ctx.obj["lang"] = lang


def _require_writable(ctx: click.Context, data: Path) -> None:
    """Stop with a message (exit status 2) when the data directory cannot be written."""
    from .jobs.settings import Settings
    from .store.faults import DataDirError, check_data_dir

    try:
        check_data_dir(Settings.from_env(data).data_dir)
    except DataDirError as exc:
        _fail(ctx, exc)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@data_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, data: Path) -> None:
    """Start the web server and its planning processes (FABSERVER_WORKERS of them)."""
    from .web.server import serve as run_server

    _require_writable(ctx, data)
    try:
        run_server(host=host, port=port, data_dir=data, profile_dir=ctx.obj.get("profiles"))
    except FabError as exc:  # a bad profile: named, not a stack trace
        _fail(ctx, exc)


@main.command()
@data_option
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="planning processes at once [default: FABSERVER_WORKERS, else 2]",
)
@click.option(
    "--site",
    "sites",
    multiple=True,
    metavar="ID",
    help="Also send this site's jobs to its machines (repeatable; see `fabserver sites`).",
)
@click.pass_context
def worker(ctx: click.Context, data: Path, workers: int | None, sites: tuple[str, ...]) -> None:
    """Plan and dispatch queued jobs, without the web (other hosts, with FABSERVER_REDIS_URL)."""
    from .jobs.worker import run_worker

    _require_writable(ctx, data)
    try:
        run_worker(
            data_dir=data,
            workers=workers,
            profile_dir=ctx.obj.get("profiles"),
            sites=list(sites) or None,
        )
    except FabError as exc:
        _fail(ctx, exc)
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0])) from None


@main.command("gc")
@data_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def collect_garbage_command(ctx: click.Context, data: Path, as_json: bool) -> None:
    """Remove stored files past their retention (job rows and audit stay)."""
    from .jobs.retention import collect_garbage
    from .jobs.runtime import build_runtime
    from .jobs.settings import Settings

    runtime = build_runtime(Settings.from_env(data, profile_dir=ctx.obj.get("profiles")))
    try:
        report = collect_garbage(runtime)
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps(asdict(report)))
        return
    fr = _lang(ctx) == "fr"
    freed = report.bytes_freed / 1e6
    click.echo(
        f"{report.uploads_removed} envoi(s) sans demande supprimé(s), "
        f"{report.jobs_cleared} demande(s) terminée(s) allégée(s), "
        f"{report.files_removed} fichier(s), {french_number(freed, '.1f')} Mo libérés"
        if fr
        else f"{report.uploads_removed} upload(s) without a job removed, "
        f"files of {report.jobs_cleared} finished job(s) removed, "
        f"{report.files_removed} file(s), {freed:.1f} MB freed"
    )


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed machine plugins (and broken ones, with their error)."""
    from .registry import load_registry

    reg = load_registry()
    rows = [
        {
            "id": p.id,
            "name": _say(ctx, p.name),
            "accepts": sorted(p.accepts),
            "formats": [f.suffix for f in p.formats],
            "options": [o.name for o in p.option_schema()],
            "status": "ok",
        }
        for p in reg.plugins.values()
    ] + [
        {
            "id": b.id,
            "name": b.id,
            "accepts": [],
            "formats": [],
            "options": [],
            "status": "broken",
            "error": b.error,
        }
        for b in reg.broken.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _table(rows, ["id", "name", "accepts", "formats", "status"])


def _profile_listing(ctx: click.Context, as_json: bool, rows_of, columns: list[str]) -> None:
    """Rows built from the profiles, as JSON or as a table; a bad profile is reported."""
    try:
        ps = _profiles(ctx)
    except FabError as exc:
        _fail(ctx, exc, as_json)
        return
    rows = rows_of(ps, _lang(ctx))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _table(rows, columns)


def _listing(columns: list[str]):
    """A ``fabserver`` command listing what the profiles hold: the decorated function
    gives the rows (from the profiles and the language), its docstring the help."""

    def register(rows_of):
        @main.command(name=rows_of.__name__, help=rows_of.__doc__)
        @click.option("--json", "as_json", is_flag=True)
        @click.pass_context
        def command(ctx: click.Context, as_json: bool) -> None:
            _profile_listing(ctx, as_json, rows_of, columns)

        return command

    return register


@_listing(["id", "name", "site", "plugin", "work_area_mm", "materials"])
def machines(ps, lang: str) -> list[dict[str, Any]]:
    """List the lab's machines."""
    return [
        {
            "id": m.id,
            "name": m.name.get(lang),
            "plugin": m.plugin,
            "model": m.model,
            "site": m.site,
            "work_area_mm": [m.work_area.x, m.work_area.y, m.work_area.z],
            "materials": [mat.id for mat in ps.materials_for(m)],
            "connector": m.connector.get("type", "download"),
        }
        for m in ps.machines.values()
    ]


@_listing(["id", "name", "address", "machines"])
def sites(ps, lang: str) -> list[dict[str, Any]]:
    """List the lab's sites and the machines at each."""
    return [
        {
            "id": site.id,
            "name": site.name.get(lang),
            "address": site.address,
            "machines": [m.id for m in ps.machines_at(site.id)],
        }
        for site in ps.sites.values()
    ]


@_listing(["id", "name", "kind", "machines", "prices_eur"])
def materials(ps, lang: str) -> list[dict[str, Any]]:
    """List the materials and the machines that take them."""
    return [
        {
            "id": m.id,
            "name": m.name.get(lang),
            "kind": m.kind,
            "machines": [mach.id for mach in ps.machines_for(m)],
            "prices_eur": m.prices,
        }
        for m in ps.materials.values()
    ]


@main.group()
def profiles() -> None:
    """Profile tools."""


@profiles.command("check")
@click.pass_context
def profiles_check(ctx: click.Context) -> None:
    """Validate every profile, and each machine's settings against its plugin."""
    from .registry import load_registry, profile_problems

    parent = ctx.find_root()
    try:
        ps = _profiles(parent)
    except FabError as exc:
        _fail(parent, exc)
        return
    reg = load_registry()
    problems = [f"{p.file}: {p.key}: {p.problem}" for p in profile_problems(reg, ps)]
    for m in ps.machines.values():
        if m.plugin not in reg.plugins:
            problems.append(f"machines/{m.id}.toml: plugin: no plugin '{m.plugin}' installed")
        elif not ps.materials_for(m):
            problems.append(f"machines/{m.id}.toml: no material fits this machine")
    for line in problems:
        click.echo(line, err=True)
    if problems:
        ctx.exit(1)
    click.echo(
        f"OK: {len(ps.machines)} machines, {len(ps.materials)} materials, policy ({ps.root})"
    )


def _read_design(ctx: click.Context, file: Path, as_json: bool):
    """The design in FILE; a file that cannot be read ends the command with its message."""
    from .designs import load_design

    try:
        return load_design(file.read_bytes(), file.name)
    except FabError as exc:
        _fail(ctx, exc, as_json)


def _number(lang: str, value: float, digits: int) -> str:
    """A figure as people of ``lang`` write it (a decimal comma in French)."""
    return french_number(value, f".{digits}f") if lang == "fr" else f"{value:.{digits}f}"


def _design_summary(design) -> dict[str, Any]:
    import numpy as np

    from .designs.types import colour_hex

    b = np.asarray(design.bounds, dtype=float)
    info: dict[str, Any] = {
        "kind": design.kind,
        "format": design.facts.format,
        "units": design.facts.units,
        "scale_to_mm": design.facts.scale_to_mm,
        "bounds_mm": (np.round(b, 4) + 0.0).tolist(),  # + 0.0 turns -0.0 into 0.0
        "size_mm": (np.round(b[1] - b[0], 4) + 0.0).tolist(),
        "repairs": [r.to_dict() for r in design.facts.repairs],
        "warnings": [w.to_dict() for w in design.facts.warnings],
    }
    if design.kind == "mesh":
        info.update(
            triangles=design.face_count,
            watertight=design.watertight,
            volume_mm3=round(design.volume_mm3, 3),
            bodies=int(design.facts.details.get("bodies", 1)),
        )
    elif design.kind == "gcode":
        info.update(design.facts.details)
    else:
        info.update(
            paths=len(design.paths),
            closed_paths=sum(p.closed for p in design.paths),
            colours=[colour_hex(c) for c in design.colours()],
            layers=design.layers(),
        )
    return info


def _design_command(show):
    """A ``fabserver`` command on one design FILE (``--json`` for a program): the decorated
    function gets the root context, the design read and ``as_json``; its docstring is
    the help."""

    @main.command(name=show.__name__, help=show.__doc__)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def command(ctx: click.Context, file: Path, as_json: bool) -> None:
        parent = ctx.find_root()
        show(parent, _read_design(parent, file, as_json), as_json)

    return command


@_design_command
def inspect(parent: click.Context, design, as_json: bool) -> None:
    """Show what the server sees in a design file."""
    info = _design_summary(design)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    lang = _lang(parent)
    for key, value in info.items():
        if key in ("warnings", "repairs"):
            for item in value:
                click.echo(f"{key[:-1]}: {item[lang]}")
        else:
            click.echo(f"{key}: {value}")


@_design_command
def quote(parent: click.Context, design, as_json: bool) -> None:
    """Plan FILE on every machine that takes it, on its default material (the quote's table)."""
    from . import quote as core
    from .registry import load_registry

    rows = core.plan_offline(design, _profiles(parent), load_registry().plugins)
    if as_json:
        click.echo(
            json.dumps(
                {"design": _design_summary(design), "plans": rows}, ensure_ascii=False, indent=2
            )
        )
        return
    lang = _lang(parent)

    number = partial(_number, lang)
    table = []
    for row in rows:
        done = row["state"] == "done"
        line = next((m for m in row.get("materials", []) if m.get("cost_eur") is not None), None)
        table.append(
            {
                "machine": row["machine"],
                "material": row["material"],
                "time": f"{number(row['machine_time_s'] / 60, 1)} min" if done else "—",
                "quantity": f"{number(line['quantity'], 3)} {line['unit']}" if line else "",
                "cost": f"{number(row['cost_eur'], 2)} €" if done else "",
                "verdict": row["verdict"]["kind"]
                if done
                else Text.from_dict(row["error"]).get(lang),
            }
        )
    _table(table, ["machine", "material", "time", "quantity", "cost", "verdict"])
    for row in rows:
        for notice in row["notices"]:
            click.echo(f"{row['machine']}: {Text.from_dict(notice).get(lang)}")


def _parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint="--set")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


class _Bar:
    """A rich progress bar when stdout is a terminal, nothing otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import Progress

            self._progress = Progress(transient=True)
            self._progress.__enter__()
            self._task = self._progress.add_task("plan", total=1.0)
        return self

    def __call__(self, done: float, stage: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, description=stage or "plan")

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--machine", "machine_id", required=True)
@click.option("--material", "material_id", required=True)
@click.option("--copies", default=None, type=int, help="Number of copies (default 1).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Plugin option.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the preview SVG here.",
)
@click.option("--json", "as_json", is_flag=True)
@click.option("--debug", is_flag=True, help="Show the full trace of an unexpected error.")
@click.pass_context
def plan(ctx, file, machine_id, material_id, copies, sets, output, preview, as_json, debug) -> None:
    """Plan FILE on a machine offline: write the machine file, print estimate and verdict."""
    global _teardown_needed
    _teardown_needed = False  # see run()
    try:
        _plan(ctx, file, machine_id, material_id, copies, sets, output, preview, as_json)
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except Exception as exc:
        if debug:
            raise
        _fail(ctx.find_root(), _unexpected(exc), as_json, status=1)


def _unexpected(exc: Exception) -> FabError:
    """A message for an error no check foresaw: what happened, and how to see more."""
    if isinstance(exc, OSError) and exc.filename:
        what = Text(
            f"Impossible d'écrire ou de lire {exc.filename} : {exc.strerror}.",
            f"Cannot write or read {exc.filename}: {exc.strerror}.",
        )
    else:
        what = Text(
            f"Erreur inattendue pendant le calcul ({type(exc).__name__} : {exc}).",
            f"Unexpected error while planning ({type(exc).__name__}: {exc}).",
        )
    hint = Text(
        " Relancez avec --debug pour voir la trace complète, et signalez-la si le fichier "
        "est correct.",
        " Run again with --debug to see the full trace, and report it if the file is sound.",
    )
    return FabError(Text(what.fr + hint.fr, what.en + hint.en), detail=repr(exc))


@contextmanager
def _loading_for_good() -> Iterator[None]:
    """Loading what a one-shot command keeps until exit, without the cyclic collector.

    What is loaded in here (the core, the profiles' models, the plugin, shapely:
    several hundred thousand objects) lives until exit and leaves next to no
    garbage: the collector's passes over it during the imports (40-80 ms of the
    M3 screw's plan) found a few hundred objects. At the end it is frozen, out
    of the collector's reach: not walked by every full collection of the plan
    nor at exit (0.15 s of a 3DBenchy plan). Used by a command, not a plugin,
    so a long-running server keeps its ordinary collector.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _plan(ctx, file, machine_id, material_id, copies, sets, output, preview, as_json) -> None:
    parent = ctx.find_root()
    lang = _lang(parent)
    try:
        with _loading_for_good():
            from .designs.ahead import DesignAhead

            data = file.read_bytes()
            ahead = DesignAhead(data, file.name)  # read on the other core during the imports
            from .planning import load_accepted, run_plan, write_outputs
            from .registry import load_registry

            ps = _profiles(parent)
            try:
                machine = ps.machine(machine_id)
                material = ps.priced_for(ps.material(material_id), machine.site)
            except KeyError as exc:
                raise FabError(Text(str(exc.args[0]), str(exc.args[0]))) from None
            reg = load_registry(only=machine.plugin)
        try:
            plugin = reg.get(machine.plugin)
        except LookupError as exc:
            raise FabError(Text(str(exc), str(exc))) from None
        design = load_accepted(data, file.name, plugin, machine, ahead)
        del data, ahead
        options: dict[str, Any] = _parse_sets(sets)
        if copies is not None:
            if "copies" in options and str(options["copies"]) != str(copies):
                raise click.BadParameter(
                    f"--copies {copies} and --set copies={options['copies']} disagree",
                    param_hint="--copies",
                )
            options["copies"] = copies
        with _Bar(sys.stdout.isatty() and not as_json) as bar:
            result = run_plan(
                plugin,
                design,
                machine,
                material,
                options,
                ps.policy_for(machine.site),
                {**ps.materials, material.id: material},  # with the site's prices
                progress=bar,
                draw=preview is not None,
            )
        output.parent.mkdir(parents=True, exist_ok=True)
        written = write_outputs(result.plan, output)
        if preview and result.preview:
            preview.write_text(result.preview.svg, encoding="utf-8")
            written.append(preview)
    except FabError as exc:
        _fail(parent, exc, as_json)
        return
    est = result.estimate
    warnings = [*design.warnings, *result.warnings]
    if as_json:
        out = {
            **est.to_dict(),
            "verdict": result.verdict.to_dict(),
            "warnings": [w.to_dict() for w in warnings],
            "outputs": [str(p) for p in written],
            "options": result.options,
            "facts": result.plan.facts,
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
        return
    minutes = est.machine_time_s / 60
    click.echo(
        f"{'Temps machine' if lang == 'fr' else 'Machine time'}: {_number(lang, minutes, 1)} min"
    )
    for line in est.materials:
        cost = "" if line.cost_eur is None else f"  {_number(lang, line.cost_eur, 2)} €"
        quantity = _number(lang, line.quantity, 2)
        click.echo(f"  {line.label.get(lang)}: {quantity} {line.unit}{cost}")
    total = _number(lang, est.cost_eur, 2)
    click.echo(f"{'Coût matière' if lang == 'fr' else 'Material cost'}: {total} €")
    click.echo(f"{result.verdict.label.get(lang)}")
    for reason in result.verdict.reasons:
        click.echo(f"  - {reason.get(lang)}")
    for w in warnings:
        click.echo(f"! {w.get(lang)}")
    for p in written:
        click.echo(f"→ {p}")


_teardown_needed = True
"""False once a one-shot command (``plan``) runs: see :func:`run`."""


def run() -> None:
    """The ``fabserver`` program (its console script): :data:`main`, ended quickly after a plan.

    A plan leaves hundreds of thousands of objects behind (numpy, shapely,
    the profiles, the plugin); the interpreter's teardown frees them one by one
    before the process ends, 0.04-0.08 s of CPU after the M3 screw's plan.
    After ``plan`` the exit handlers run and the output streams are flushed, as
    at any exit, then the process ends without that teardown: every file the
    plan wrote is closed by then. The other commands (a server has threads to
    join) end as usual, and so does ``main`` called in a process that goes on.

    OpenBLAS runs on one thread unless the environment says otherwise: its pool
    of one thread per core starts with numpy and spins while it waits (0.08 s of
    CPU of the M3 screw's plan, 15 ms of its wall time), and fabserver's numpy
    work is element-wise or ``(n, 3)`` products that OpenBLAS does not split.
    The planning processes a server starts inherit the setting.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        main()
    except SystemExit as end:
        if _teardown_needed or not isinstance(end.code, int | None):
            raise
        status = end.code or 0
    else:  # pragma: no cover (standalone click always ends by SystemExit)
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what the interpreter would report
            status = status or 120
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault(LANG_ENV, "fr")
    run()
