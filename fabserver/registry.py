"""Find plugins through the ``fabserver.plugins`` entry-point group.

A plugin that fails to import or whose declaration is wrong becomes a visible
:class:`BrokenPlugin` with its error, and the rest keeps working: one bad
package must not take the counter down.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points
from typing import Any

from .errors import ProfileError
from .plugin import MachinePlugin, check_plugin_class
from .profiles import ProfileSet

GROUP = "fabserver.plugins"


@dataclass(frozen=True)
class BrokenPlugin:
    id: str
    source: str
    error: str


@dataclass
class Registry:
    plugins: dict[str, MachinePlugin] = field(default_factory=dict)
    broken: dict[str, BrokenPlugin] = field(default_factory=dict)

    def get(self, plugin_id: str) -> MachinePlugin:
        if plugin_id in self.plugins:
            return self.plugins[plugin_id]
        if plugin_id in self.broken:
            raise LookupError(f"plugin '{plugin_id}' is broken: {self.broken[plugin_id].error}")
        raise LookupError(f"no plugin '{plugin_id}' installed")

    def register(self, cls: type[MachinePlugin], source: str = "") -> None:
        """Add a plugin class after checking its declaration (used by tests and embedders)."""
        problems = check_plugin_class(cls)
        name = getattr(cls, "id", None) or source or repr(cls)
        if problems:
            self.broken[name] = BrokenPlugin(name, source or repr(cls), "; ".join(problems))
            return
        self.plugins[cls.id] = cls()

    def accepting(self, design_kind: str) -> list[MachinePlugin]:
        return [p for p in self.plugins.values() if design_kind in p.accepts]


def load_registry(only: str | None = None) -> Registry:
    """Load every installed plugin (or only the one named ``only``); never raises.

    ``only`` spares a one-machine command (``fabserver plan``) the imports of
    every other plugin.
    """
    registry = Registry()
    for ep in _entry_points(only):
        if only is not None and ep.name != only:
            continue
        source = f"{ep.name} = {ep.value}"
        try:
            cls = ep.load()
        except Exception:
            registry.broken[ep.name] = BrokenPlugin(ep.name, source, traceback.format_exc())
            continue
        if getattr(cls, "id", ep.name) != ep.name:
            registry.broken[ep.name] = BrokenPlugin(
                ep.name, source, f"entry point name '{ep.name}' differs from id '{cls.id}'"
            )
            continue
        registry.register(cls, source)
    return registry


def _entry_points(only: str | None) -> tuple[EntryPoint, ...]:
    """The group's entry points; for one plugin, those of its own distribution when it has one.

    A plugin ``x`` is published as ``fabserver-x`` (``fabserver plugin new`` names
    it so): reading that distribution's entry points spares a one-machine command
    the reading of every installed distribution's (a few milliseconds of each
    ``fabserver plan``). Any other packaging is found by the full scan.
    """
    if only is not None:
        try:
            own = distribution(f"fabserver-{only}").entry_points.select(group=GROUP, name=only)
        except PackageNotFoundError:
            own = ()
        if own:
            return tuple(own)
    return tuple(entry_points(group=GROUP))


def profile_problems(registry: Registry, profiles: ProfileSet) -> list[ProfileError]:
    """Where the profiles break their plugins' contracts, each naming the file and key.

    A machine's and a material's ``[settings]`` are checked by the plugin's
    ``check_machine`` / ``check_material``; a material's ``kind`` must be one the
    plugin uses (``material_kinds``). Profiles of a plugin that is not installed
    or is broken are not checked here: ``fabserver plugins`` shows those, and the
    other machines keep working.
    """
    problems = []
    for machine in profiles.machines.values():
        plugin = registry.plugins.get(machine.plugin)
        if plugin is not None:
            problem = _settings_problem(
                f"machines/{machine.id}.toml", plugin.check_machine, machine
            )
            problems += [problem] if problem else []
    for material in profiles.materials.values():
        file = f"materials/{material.id}.toml"
        for plugin_id in material.plugins:
            plugin = registry.plugins.get(plugin_id)
            if plugin is None:
                continue
            if material.kind not in plugin.material_kinds:
                kinds = ", ".join(sorted(plugin.material_kinds))
                problems.append(
                    ProfileError(
                        file,
                        "kind",
                        f"plugin '{plugin_id}' uses materials of kind {kinds}, not '{material.kind}'",
                    )
                )
            problem = _settings_problem(file, plugin.check_material, material)
            problems += [problem] if problem else []
    return problems


def check_profiles(registry: Registry, profiles: ProfileSet) -> None:
    """Raise the first :func:`profile_problems` entry: a server does not start on a bad profile."""
    problems = profile_problems(registry, profiles)
    if problems:
        raise problems[0]


def _settings_problem(
    file: str, check: Callable[[Any], None], profile: object
) -> ProfileError | None:
    """``check(profile)``'s ``ValueError("settings.key: problem")`` as a :class:`ProfileError`."""
    try:
        check(profile)
    except ValueError as exc:
        key, _, problem = str(exc).partition(": ")
        return ProfileError(file, key, problem) if problem else ProfileError(file, "settings", key)
    return None
