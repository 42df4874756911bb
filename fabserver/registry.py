"""Find plugins through the ``fabserver.plugins`` entry-point group.

A plugin that fails to import or whose declaration is wrong becomes a visible
:class:`BrokenPlugin` with its error, and the rest keeps working: one bad
package must not take the counter down.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from .plugin import MachinePlugin, check_plugin_class

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
    for ep in entry_points(group=GROUP):
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
