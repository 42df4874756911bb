"""Options and preview roles declared as data: ``options.toml`` and ``roles.toml`` beside a
plugin's code, checked when they are read."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from fabserver.i18n import Text
from fabserver.plugin import DeclarationError, Option, options_from_toml, roles_from_toml
from fabserver.preview_data import RoleStyle
from fabserver.registry import load_registry

_names = itertools.count()


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write ``options.toml`` into a fresh importable package; return the package's name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(toml: str, file: str = "options.toml") -> str:
        name = f"fab_optdecl_{next(_names)}"
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / file).write_text(toml, encoding="utf-8")
        return name

    return write


GOOD = """
[layer_height]
type = "float"
default = 0
label = { fr = "Hauteur de couche", en = "Layer height" }
help.fr = "Plus fin = plus beau."
help.en = "Thinner = finer."
unit = "mm"
min = 0
max = 0.35
advanced = true
zero_label = { fr = "celle du profil", en = "the profile's" }

[pattern]
type = "choice"
default = "grid"
label = { fr = "Motif", en = "Pattern" }
choices.rectilinear = { fr = "Rectiligne", en = "Rectilinear" }
choices.grid = { fr = "Grille", en = "Grid" }
choices."rough+fine" = { fr = "Les deux", en = "Both" }

[mirror]
type = "bool"
default = false
label = { fr = "Miroir", en = "Mirror" }
"""


def test_a_declaration_builds_the_options_code_would_in_file_order(package):
    options = options_from_toml(package(GOOD))
    assert options == (
        Option(
            "layer_height",
            "float",
            0.0,
            Text("Hauteur de couche", "Layer height"),
            Text("Plus fin = plus beau.", "Thinner = finer."),
            unit="mm",
            min=0,
            max=0.35,
            advanced=True,
            zero_label=Text("celle du profil", "the profile's"),
        ),
        Option.choice(
            "pattern",
            "grid",
            Text("Motif", "Pattern"),
            {
                "rectilinear": Text("Rectiligne", "Rectilinear"),
                "grid": Text("Grille", "Grid"),
                "rough+fine": Text("Les deux", "Both"),
            },
        ),
        Option("mirror", "bool", False, Text("Miroir", "Mirror")),
    )
    # A float option's whole-number default is read as the float the form shows.
    assert isinstance(options[0].default, float)
    assert options[1].parse("rough+fine") == "rough+fine"


BASE = '[speed]\nlabel = { fr = "Vitesse", en = "Speed" }\n'


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        (BASE + 'type = "decimal"\ndefault = 1.0\n', "unknown type 'decimal'"),
        (BASE + 'type = "float"\ndefault = 1.0\ncolour = "red"\n', "unknown key colour"),
        (BASE + 'type = "float"\n', "missing default"),
        (
            '[speed]\ntype = "float"\ndefault = 1.0\nlabel = { fr = "Vitesse" }\n',
            "label must be { fr",
        ),
        (
            '[speed]\ntype = "float"\ndefault = 1.0\nlabel = "Speed"\n',
            "label must be { fr",
        ),
        (
            BASE + 'type = "float"\ndefault = 1.0\nhelp = { en = "How fast." }\n',
            "help must be { fr",
        ),
        (BASE + 'type = "float"\ndefault = 200.0\nmin = 1\nmax = 100\n', "outside [1, 100]"),
        (BASE + 'type = "int"\ndefault = 0\nmin = 1\n', "outside [1, None]"),
        (BASE + 'type = "int"\ndefault = 2.5\n', "default 2.5 is not a int value"),
        (BASE + 'type = "bool"\ndefault = "yes"\n', "default 'yes' is not a bool value"),
        (BASE + 'type = "str"\ndefault = ""\nmax = 3\n', "max needs a number"),
        (
            BASE
            + 'type = "choice"\ndefault = "fast"\nchoices.slow = { fr = "lent", en = "slow" }\n',
            "default 'fast' is not among the choices (slow)",
        ),
        (BASE + 'type = "choice"\ndefault = "fast"\n', "lists its choices"),
        (
            BASE + 'type = "choice"\ndefault = "slow"\nchoices.slow = { fr = "lent" }\n',
            "choice 'slow' must be { fr",
        ),
        (BASE + 'type = "float"\ndefault = 1.0\nadvanced = "yes"\n', "advanced must be true"),
        (BASE + 'type = "float"\ndefault = 1.0\nunit = 3\n', "unit must be a string"),
        (BASE + 'type = "str"\ndefault = ""\nchoices = ["a"]\n', "lists its choices"),
    ],
)
def test_a_declaration_error_names_the_file_the_option_and_the_problem(package, toml, problem):
    name = package(toml)
    with pytest.raises(DeclarationError) as caught:
        options_from_toml(name)
    message = str(caught.value)
    assert message.startswith(f"{name}/options.toml: option 'speed': ")
    assert problem in message


def test_an_option_name_a_form_or_set_cannot_carry_is_refused(package):
    name = package('["Speed!"]\ntype = "int"\ndefault = 1\nlabel = { fr = "V", en = "S" }\n')
    with pytest.raises(DeclarationError, match="option 'Speed!': names are lower-case"):
        options_from_toml(name)


def test_a_file_that_is_not_toml_or_is_missing_is_named(package, tmp_path: Path):
    name = package("[speed\ntype = 'float'\n")
    with pytest.raises(DeclarationError, match=rf"{name}/options.toml: not valid TOML"):
        options_from_toml(name)
    (tmp_path / name / "options.toml").unlink()
    with pytest.raises(DeclarationError, match=rf"{name}/options.toml: file not found"):
        options_from_toml(name)


def test_every_installed_plugin_declares_its_options_in_a_shipped_file():
    """The five plugins read theirs from ``options.toml``; the file's options are theirs, in
    the same order (computed ones, like the FDM ``engine``, come after)."""
    registry = load_registry()
    for plugin_id in ("fdm", "laser", "vinyl", "mill", "embroidery"):
        plugin = registry.plugins[plugin_id]
        package = re.sub(r"\..*", "", type(plugin).__module__)
        declared = options_from_toml(package)
        assert declared, plugin_id
        assert tuple(plugin.options[: len(declared)]) == declared, plugin_id


def test_roles_are_read_in_legend_order_with_both_languages(package):
    name = package(
        '[cut]\ncolour = "#d62728"\nlabel = { fr = "Découpe", en = "Cut" }\n\n'
        '[weed]\ncolour = "#1f77b4"\nlabel = { fr = "Échenillage", en = "Weeding" }\n',
        "roles.toml",
    )
    roles = roles_from_toml(name)
    assert list(roles) == ["cut", "weed"]
    assert roles["cut"] == RoleStyle("#d62728", Text("Découpe", "Cut"))
    assert roles["weed"].label.en == "Weeding"


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('colour = "red"\nlabel = { fr = "Découpe", en = "Cut" }\n', 'colour must be "#rrggbb"'),
        ('colour = "#D62728"\nlabel = { fr = "Découpe", en = "Cut" }\n', "lower-case hex"),
        ('colour = "#d62728"\nlabel = { fr = "Découpe" }\n', "label must be { fr"),
        ('colour = "#d62728"\n', "must be a table with colour"),
        ('colour = "#d62728"\nlabel = { fr = "D", en = "C" }\nwidth = 2\n', "with colour"),
    ],
)
def test_a_role_declaration_error_names_the_file_the_role_and_the_problem(package, table, problem):
    name = package("[cut]\n" + table, "roles.toml")
    with pytest.raises(DeclarationError) as caught:
        roles_from_toml(name)
    message = str(caught.value)
    assert message.startswith(f"{name}/roles.toml: role 'cut'")
    assert problem in message


def test_every_installed_plugin_reads_its_roles_from_a_shipped_file():
    """The five plugins' legends come from their ``roles.toml``, not from Python tables."""
    registry = load_registry()
    for plugin_id in ("fdm", "laser", "vinyl", "mill", "embroidery"):
        plugin = registry.plugins[plugin_id]
        package = re.sub(r"\..*", "", type(plugin).__module__)
        assert dict(plugin.roles) == roles_from_toml(package), plugin_id
        assert plugin.roles, plugin_id
