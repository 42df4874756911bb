"""The plugin API: what a machine plugin declares and what it returns.

A plugin is a :class:`MachinePlugin` subclass registered under the entry-point
group ``fabserver.plugins``. It declares, as data, the designs it accepts, the
material kinds it uses, the files it writes, the options a maker may set and
the models of its profiles' ``[settings]``; the web form, the CLI and the
profile checks are generated from those declarations. Its one method,
:meth:`MachinePlugin.plan`, turns a :class:`PlanInput` into a :class:`Plan`. A
plugin never touches the database, the web layer or the queue.
"""

from __future__ import annotations

import re
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar, get_args

from .designs.types import Design, DesignKind
from .errors import FabError, PlanError
from .i18n import Text
from .preview_data import Preview, RoleStyle
from .profiles import MachineProfile, MaterialProfile, PluginSettings, parse_settings
from .toolpath import Toolpath

if TYPE_CHECKING:  # annotations only: the colour maps are the drawing plugins' own import
    from .operations import Found, OperationMap

OptionType = Literal["int", "float", "percent", "bool", "choice", "str"]


class OptionError(FabError):
    """An option value a maker typed is not acceptable."""


@dataclass(frozen=True)
class Option:
    """One setting a maker may change, described well enough to build a form field.

    ``percent`` options accept ``15%`` or ``15`` and are stored as the number
    (15.0), the way PrusaSlicer writes ``fill_density = 15%``.
    """

    name: str
    type: OptionType
    default: Any
    label: Text
    help: Text = Text("", "")
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    choice_labels: tuple[Text, ...] = ()
    advanced: bool = False
    #: What the value 0 stands for when it means "the profile's own" (shown instead of 0).
    zero_label: Text | None = None

    @classmethod
    def choice(
        cls,
        name: str,
        default: str,
        label: Text,
        choices: Mapping[str, Text],
        help: Text | None = None,
        **more: Any,
    ) -> Option:
        """A ``choice`` option declared as ``{value: label}``, each value beside what the
        form shows for it (in the order given)."""
        return cls(
            name,
            "choice",
            default,
            label,
            help or Text("", ""),
            choices=tuple(choices),
            choice_labels=tuple(choices.values()),
            **more,
        )

    def parse(self, value: Any) -> Any:
        """Convert and check a value (a string from a form or ``--set``); raise :class:`OptionError`."""
        try:
            parsed = self._convert(value)
        except (TypeError, ValueError):
            raise OptionError(
                Text(
                    f"Option « {self.name} » : valeur « {value} » illisible ({self._expected('fr')}).",
                    f"Option '{self.name}': cannot read '{value}' ({self._expected('en')}).",
                )
            ) from None
        if self.type in ("int", "float", "percent") and (
            (self.min is not None and parsed < self.min)
            or (self.max is not None and parsed > self.max)
        ):
            raise OptionError(
                Text(
                    "Option « {name} » : {value} est hors des bornes [{min} ; {max}]{unit}.",
                    "Option '{name}': {value} is outside [{min}, {max}]{unit}.",
                ).format(
                    name=self.name,
                    value=value,
                    min=self.min,
                    max=self.max,
                    unit=f" {self.unit}" if self.unit else "",
                )
            )
        if self.type == "choice" and parsed not in self.choices:
            raise OptionError(
                Text(
                    f"Option « {self.name} » : « {value} » n'est pas parmi {', '.join(self.choices)}.",
                    f"Option '{self.name}': '{value}' is not one of {', '.join(self.choices)}.",
                )
            )
        return parsed

    def _convert(self, value: Any) -> Any:
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on", "oui", "vrai"):
                return True
            if text in ("0", "false", "no", "off", "non", "faux", ""):
                return False
            raise ValueError(value)
        if self.type == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if self.type in ("float", "percent"):
            if isinstance(value, str):
                text = value.strip().replace(",", ".")
                if self.type == "percent":
                    text = text.removesuffix("%").strip()
                if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
                    raise ValueError(value)
                return float(text)
            return float(value)
        return str(value).strip()

    def _expected(self, lang: str) -> str:
        words = {
            "int": ("un nombre entier", "a whole number"),
            "float": ("un nombre", "a number"),
            "percent": ("un pourcentage, par ex. 15%", "a percentage, e.g. 15%"),
            "bool": ("oui ou non", "yes or no"),
            "choice": (", ".join(self.choices), ", ".join(self.choices)),
            "str": ("du texte", "text"),
        }[self.type]
        return words[0] if lang == "fr" else words[1]

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (API, form generation)."""
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "label": self.label.to_dict(),
            "help": self.help.to_dict(),
            "unit": self.unit,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices),
            "choice_labels": [c.to_dict() for c in self.choice_labels],
            "advanced": self.advanced,
            "zero_label": self.zero_label.to_dict() if self.zero_label else None,
        }


OPTIONS_FILE = "options.toml"
ROLES_FILE = "roles.toml"


class DeclarationError(ValueError):
    """A plugin's ``options.toml`` or ``roles.toml`` declares something wrongly (a plugin
    author's mistake), found when the plugin is imported."""


_OPTION_KEYS = frozenset(
    {"type", "default", "label", "help", "unit", "min", "max", "advanced", "choices", "zero_label"}
)
_DEFAULT_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "percent": (int, float),
    "bool": (bool,),
    "choice": (str,),
    "str": (str,),
}


def options_from_toml(package: str) -> tuple[Option, ...]:
    """The options a plugin declares as data in ``options.toml`` beside its code, in form order.

    One table per option (``[layer_height]`` with ``type``, ``default``, ``label = { fr, en }``
    and optionally ``help``, ``unit``, ``min``, ``max``, ``advanced``, ``zero_label`` and, for
    a ``choice``, ``choices = { value = { fr, en }, … }``). A mistake raises
    :class:`DeclarationError` naming the file and the option, when the plugin is imported.
    """
    where, data = _declarations(package, OPTIONS_FILE)
    return tuple(
        _declared_option(name, table, f"{where}: option '{name}'") for name, table in data.items()
    )


def roles_from_toml(package: str) -> dict[str, RoleStyle]:
    """The roles a plugin's preview draws, declared as data in ``roles.toml`` beside its code,
    in legend order: one table per role (``[perimeter]`` with ``colour = "#rrggbb"`` and
    ``label = { fr, en }``). A mistake raises :class:`DeclarationError` naming the file and
    the role, when the plugin is imported."""
    where, data = _declarations(package, ROLES_FILE)
    return {name: _declared_role(table, f"{where}: role '{name}'") for name, table in data.items()}


def _declarations(package: str, name: str) -> tuple[str, dict[str, Any]]:
    """The file ``name`` beside ``package``'s code, read as TOML, with how to name it."""
    where = f"{package.replace('.', '/')}/{name}"
    try:
        return where, tomllib.loads((files(package) / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeclarationError(f"{where}: file not found (is it in package-data?)") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{where}: not valid TOML: {exc}") from None


def _declared_role(table: Any, where: str) -> RoleStyle:
    """One ``[role]`` table of a ``roles.toml``, checked."""
    if not isinstance(table, dict) or set(table) != {"colour", "label"}:
        raise DeclarationError(f'{where}: must be a table with colour = "#rrggbb" and label')
    if not (isinstance(table["colour"], str) and re.fullmatch(r"#[0-9a-f]{6}", table["colour"])):
        raise DeclarationError(f'{where}: colour must be "#rrggbb" (lower-case hex)')
    return RoleStyle(table["colour"], _declared_text(table["label"], f"{where}: label"))


def _declared_option(name: str, table: Any, where: str) -> Option:
    """One ``[name]`` table of an ``options.toml`` as an :class:`Option`, checked."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise DeclarationError(f"{where}: names are lower-case letters, digits and '_'")
    if not isinstance(table, dict):
        raise DeclarationError(f"{where}: must be a table with type, default and label")
    unknown = sorted(set(table) - _OPTION_KEYS)
    if unknown:
        raise DeclarationError(
            f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(sorted(_OPTION_KEYS))})"
        )
    missing = [key for key in ("type", "default", "label") if key not in table]
    if missing:
        raise DeclarationError(f"{where}: missing {', '.join(missing)}")
    kind, default = table["type"], table["default"]
    if kind not in get_args(OptionType):
        raise DeclarationError(
            f"{where}: unknown type {kind!r} (known: {', '.join(get_args(OptionType))})"
        )
    if not isinstance(default, _DEFAULT_TYPES[kind]) or (
        kind != "bool" and isinstance(default, bool)
    ):
        raise DeclarationError(f"{where}: default {default!r} is not a {kind} value")
    low, high = table.get("min"), table.get("max")
    for bound, value in (("min", low), ("max", high)):
        if value is not None and (
            kind not in ("int", "float", "percent")
            or isinstance(value, bool)
            or not isinstance(value, int | float)
        ):
            raise DeclarationError(
                f"{where}: {bound} needs a number on an int, float or percent option"
            )
    if (low is not None and default < low) or (high is not None and default > high):
        raise DeclarationError(f"{where}: default {default!r} is outside [{low}, {high}]")
    choices = table.get("choices", {})
    if not isinstance(choices, dict) or (kind == "choice") != bool(choices):
        raise DeclarationError(
            f"{where}: a choice option, and only one, lists its choices "
            "(choices.VALUE = { fr, en }, in the form's order)"
        )
    if kind == "choice" and default not in choices:
        raise DeclarationError(
            f"{where}: default {default!r} is not among the choices ({', '.join(choices)})"
        )
    if not isinstance(table.get("unit", ""), str):
        raise DeclarationError(f"{where}: unit must be a string")
    if not isinstance(table.get("advanced", False), bool):
        raise DeclarationError(f"{where}: advanced must be true or false")
    zero_label = table.get("zero_label")
    if zero_label is not None:
        zero_label = _declared_text(zero_label, f"{where}: zero_label")
    return Option(
        name,
        kind,
        float(default) if kind in ("float", "percent") else default,
        _declared_text(table["label"], f"{where}: label"),
        _declared_text(table.get("help", {"fr": "", "en": ""}), f"{where}: help"),
        unit=table.get("unit", ""),
        min=low,
        max=high,
        choices=tuple(choices),
        choice_labels=tuple(
            _declared_text(label, f"{where}: choice '{value}'") for value, label in choices.items()
        ),
        advanced=table.get("advanced", False),
        zero_label=zero_label,
    )


def _declared_text(value: Any, where: str) -> Text:
    """``{ fr = "…", en = "…" }``: both languages, nothing else."""
    if not (
        isinstance(value, dict)
        and set(value) == {"fr", "en"}
        and all(isinstance(v, str) for v in value.values())
    ):
        raise DeclarationError(f'{where} must be {{ fr = "…", en = "…" }}, both languages')
    return Text(value["fr"], value["en"])


COPIES = Option(
    "copies",
    "int",
    1,
    Text("Nombre d'exemplaires", "Number of copies"),
    Text("Combien de pièces identiques fabriquer.", "How many identical parts to make."),
    min=1,
    max=500,
)


def resolve_options(schema: Iterable[Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``given`` values, each parsed and checked.

    Unknown names are an :class:`OptionError`, so a typo in ``--set`` is not
    silently ignored.
    """
    by_name = {opt.name: opt for opt in schema}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise OptionError(
            Text(
                f"Option inconnue : {', '.join(unknown)} (connues : {', '.join(by_name)}).",
                f"Unknown option: {', '.join(unknown)} (known: {', '.join(by_name)}).",
            )
        )
    values = {name: opt.default for name, opt in by_name.items()}
    for name, value in given.items():
        values[name] = by_name[name].parse(value)
    return values


@dataclass(frozen=True)
class MaterialUse:
    """A quantity of material the plan consumes, for all copies.

    Only ``priced`` lines are charged (``quantity × material.prices[unit]``);
    the others are shown (e.g. filament length beside its weight).
    """

    material: str  # material profile id
    quantity: float
    unit: str  # "g", "m", "m2", "sheet", "cm3", …
    label: Text = Text("", "")
    priced: bool = True


@dataclass(frozen=True)
class OutputFile:
    """A machine file the plan produces.

    ``write`` streams the content into a binary file object, so large G-code
    never sits in memory as one string. ``suffix`` includes the dot.
    """

    suffix: str
    media_type: str
    write: Callable[[IO[bytes]], None]
    label: Text = Text("Fichier machine", "Machine file")
    main: bool = True


@dataclass(frozen=True)
class Plan:
    """What a plugin returns.

    ``toolpath`` holds every copy (in one run or plate); ``runs`` says how many
    times that toolpath is run to make all copies (e.g. plates or sheets needed
    beyond the first). ``material_uses`` are for all copies.
    """

    toolpath: Toolpath
    outputs: tuple[OutputFile, ...]
    material_uses: tuple[MaterialUse, ...]
    warnings: tuple[Text, ...] = ()
    copies: int = 1
    runs: int = 1
    extra_time_s: float = 0.0  # time the toolpath does not show (e.g. manual set-up)
    facts: dict[str, Any] = field(default_factory=dict)  # plugin summary for pages
    preview: Preview = field(default_factory=Preview)  # what to show; the core draws it
    operations: tuple[Found, ...] = ()  # drawings: each colour / layer and its operation


class Progress(Protocol):
    def __call__(self, done: float, stage: str = "") -> None:
        """``done`` in 0..1; ``stage`` a short English word for logs and progress bars."""


def no_progress(done: float, stage: str = "") -> None:
    """A :class:`Progress` that ignores reports."""


_Settings = TypeVar("_Settings", bound=PluginSettings)


@dataclass(frozen=True)
class PlanInput:
    """What a plugin plans from, handed over as one value so that every plugin's
    :meth:`~MachinePlugin.plan` reads the same way.

    ``options`` are the maker's, resolved by the plugin's schema: every option is
    there (defaults filled in, values checked), ``copies`` included.
    """

    design: Design
    machine: MachineProfile
    material: MaterialProfile
    options: Mapping[str, Any]
    progress: Progress = no_progress

    @property
    def copies(self) -> int:
        """How many copies the maker asked for."""
        return int(self.options["copies"])

    def machine_settings(self, model: type[_Settings]) -> _Settings:
        """The machine profile's ``[settings]``, read with the plugin's ``model``."""
        return parse_settings(model, self.machine.settings)

    def material_settings(self, model: type[_Settings]) -> _Settings:
        """The material profile's ``[settings]``, read with the plugin's ``model``."""
        return parse_settings(model, self.material.settings)


@dataclass(frozen=True)
class OutputFormat:
    """A file type a plugin can write."""

    suffix: str
    media_type: str
    label: Text


class MachinePlugin(ABC):
    """Base class of every machine plugin.

    Class attributes are the plugin's declaration (checked when it loads):

    ``id``
        short name used in profiles (``plugin = "vinyl"``).
    ``name``
        what people read.
    ``accepts``
        design kinds it can plan: ``{"mesh"}``, ``{"drawing"}`` or both; ``"gcode"`` for
        printers that take a file already sliced.
    ``material_kinds``
        the ``kind`` of material profiles it uses.
    ``formats``
        files it can write.
    ``options``
        what a maker may set; ``copies`` is added by the core.
    ``roles``
        colour and legend label of each role its toolpaths and previews use.
    ``machine_settings``, ``material_settings``
        the models (:class:`~fabserver.profiles.PluginSettings`) of the
        ``[settings]`` of its machine and material profiles; the profiles are
        checked against them before the server starts.
    """

    id: ClassVar[str]
    name: ClassVar[Text]
    accepts: ClassVar[frozenset[DesignKind]]
    material_kinds: ClassVar[frozenset[str]]
    formats: ClassVar[tuple[OutputFormat, ...]]
    options: ClassVar[tuple[Option, ...]] = ()
    roles: ClassVar[Mapping[str, RoleStyle]] = {}
    operations_option: ClassVar[str | None] = None
    """Drawings: the option holding a job's operations map (``colour_map``…), None without."""
    machine_settings: ClassVar[type[PluginSettings] | None] = None
    """The model of a machine profile's ``[settings]``; None: the plugin reads none."""
    material_settings: ClassVar[type[PluginSettings] | None] = None
    """The model of a material profile's ``[settings]``; None: the plugin reads none."""

    @classmethod
    def option_schema(cls) -> tuple[Option, ...]:
        return (COPIES, *cls.options)

    def check_machine(self, machine: MachineProfile) -> None:
        """Validate ``machine.settings`` with :attr:`machine_settings` and, for a plugin that
        maps colours, the machine's operation map; raise ``ValueError("settings.key:
        problem")``. Extend it (calling this first) for checks across keys."""
        if self.machine_settings is not None:
            parse_settings(self.machine_settings, machine.settings)
        if self.operations_option is not None:
            try:
                self.operation_map(machine)
            except PlanError as exc:
                raise ValueError(f"settings: {exc.message.en}") from None

    def check_material(self, material: MaterialProfile) -> None:
        """Validate ``material.settings`` with :attr:`material_settings`; raise
        ``ValueError("settings.key: problem")``."""
        if self.material_settings is not None:
            parse_settings(self.material_settings, material.settings)

    def operation_map(self, machine: MachineProfile, job_map: str = "") -> OperationMap | None:
        """The machine's convention with the job's ``job_map`` on top, for the maker's colour
        table before any plan (None: the plugin maps no colours). Override with
        :attr:`operations_option`."""
        return None

    def operation_presets(self, machine: MachineProfile) -> Mapping[str, str]:
        """Named maps a job may ask for on this machine (``boxes`` for Boxes.py files)."""
        return {}

    def estimate_output_bytes(self, request: PlanInput) -> int | None:
        """A quick, low guess of the size of the files a plan would write, or None.

        Called before :meth:`plan`: the server refuses a job whose guess already
        passes the machine's output limit, without doing the work. Override it
        when a small file can ask for a huge output (layers × moves for a printer).
        """
        return None

    @abstractmethod
    def plan(self, request: PlanInput) -> Plan:
        """Turn ``request.design`` into a plan for ``request.copies`` copies.

        Raise :class:`~fabserver.errors.PlanError` with a maker's message when
        the design cannot be made on this machine.
        """


def check_plugin_class(cls: type) -> list[str]:
    """Problems with a plugin class's declaration (empty when it is fine)."""
    problems: list[str] = []
    if not (isinstance(cls, type) and issubclass(cls, MachinePlugin)):
        return [f"{cls!r} is not a MachinePlugin subclass"]
    for attr in ("id", "name", "accepts", "material_kinds", "formats"):
        if not hasattr(cls, attr):
            problems.append(f"missing class attribute '{attr}'")
    if problems:
        return problems
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", cls.id):
        problems.append(f"id '{cls.id}' must be lower-case letters, digits, '-' or '_'")
    if not isinstance(cls.name, Text):
        problems.append("name must be a fabserver.i18n.Text")
    if not cls.accepts or not set(cls.accepts) <= {"mesh", "drawing", "gcode"}:
        problems.append("accepts must be a non-empty subset of {'mesh', 'drawing', 'gcode'}")
    for role, style in cls.roles.items():
        if not (
            isinstance(style, RoleStyle)
            and isinstance(style.label, Text)
            and re.fullmatch(r"#[0-9a-fA-F]{6}", style.colour)
        ):
            problems.append(f"role '{role}': style must be RoleStyle('#rrggbb', Text(fr, en))")
    for attr in ("machine_settings", "material_settings"):
        model = getattr(cls, attr)
        if model is not None and not (
            isinstance(model, type) and issubclass(model, PluginSettings)
        ):
            problems.append(f"{attr} must be a fabserver.profiles.PluginSettings subclass")
    if getattr(cls.plan, "__isabstractmethod__", False):
        problems.append("plan() is not implemented")
    names = set()
    for opt in cls.option_schema():
        if opt.name in names:
            problems.append(f"option '{opt.name}' declared twice")
        names.add(opt.name)
        try:
            if opt.parse(opt.default) != opt.default:
                problems.append(f"option '{opt.name}': default does not parse to itself")
        except OptionError as exc:
            problems.append(f"option '{opt.name}': default rejected: {exc.message.en}")
    return problems
