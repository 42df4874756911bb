"""The modules of ``fabserver`` import each other without a circle.

Every import counts, at the top of a module or inside a function (a lazy import
still makes the two modules depend on each other); only imports under
``if TYPE_CHECKING:`` are left out, as they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fabserver

ROOT = Path(fabserver.__file__).parent


def _modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in root.rglob("*.py"):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run: all but those under ``if TYPE_CHECKING``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.extend(_imports(ast.Module(body=node.orelse, type_ignores=[])))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        found.extend(_imports(node))
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the package at ``root`` it imports (``__init__`` included)."""
    modules = _modules(root)

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                bases = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                # ``from pkg import mod`` imports pkg.mod; ``from mod import name`` imports mod.
                bases = [f"{base}.{alias.name}" for alias in node.names]
                bases = [b if b in modules else base for b in bases]
            for base in bases:
                target = known(base)
                if target is None:
                    continue
                targets.add(target)
                # Importing a.b.c runs a.b's __init__ too (a module inside a.b needs it
                # loaded already: that edge is implied, not a choice of the module).
                parts = target.split(".")
                for i in range(2, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent in modules and not name.startswith(parent + "."):
                        targets.add(parent)
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of the graph (its modules, the first repeated at the end), or []."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_find_cycle_finds_a_circle_and_only_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_graph_sees_relative_lazy_and_package_imports():
    graph = import_graph()
    assert "fabserver.jobs.context" in graph["fabserver.jobs.tasks"]  # from .context import
    assert "fabserver.jobs.tasks" in graph["fabserver.jobs.runtime"]  # from . import tasks
    assert "fabserver.dispatch" in graph["fabserver.jobs.tasks"]  # from ..dispatch import


def test_a_lazy_import_of_a_package_s_own_module_closes_a_circle(tmp_path):
    """``pkg/__init__`` importing ``pkg.views`` in a function, and ``pkg.views`` taking a
    helper from ``pkg``: a circle, even though Python loads it."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "def helper():\n    pass\n\ndef build():\n    from . import views\n"
    )
    (package / "views.py").write_text("from . import helper\n")
    assert find_cycle(import_graph(package)) == ["pkg", "pkg.views", "pkg"]
    (package / "views.py").write_text("from .tools import helper\n")
    (package / "tools.py").write_text("def helper():\n    pass\n")
    assert find_cycle(import_graph(package)) == []


def test_fabserver_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert not cycle, "import circle: " + " -> ".join(cycle)


PLUGINS = ROOT.parent / "plugins"
FORBIDDEN = ["fabserver", "preview"]


def test_no_plugin_imports_the_preview_drawing():
    """Plugins say what to show (``fabserver.preview_data``); only the core draws it."""
    packages = sorted(PLUGINS.glob("*/fabserver_*/"))
    assert len(packages) >= 5, f"the plugins' packages under {PLUGINS}"
    drawing = []
    for package in packages:
        for path in package.rglob("*.py"):
            for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:  # ``from fabserver import preview`` too
                    names = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
                drawing += [f"{path}: {n}" for n in names if n.split(".")[:2] == FORBIDDEN]
    assert not drawing, drawing
