"""Machine, material and policy profiles: TOML files under ``profiles/``.

``machines/*.toml`` describe one physical machine each (``inherits`` names a
shared model file, often ``abstract = true``); ``materials/*.toml`` the stock the
lab sells or gives; ``policy.toml`` the prototype-or-series rule; ``sites/*.toml``
the lab's sites (a network of sister labs on one server), each machine naming
its ``site``. A lab without site files is one default site. Everything is
validated at load time and a bad file is a :class:`ProfileError` naming the file
and the key. A resolved profile stands alone (``snapshot()``), so a job can keep
it and be re-planned identically after the files change.

The models are msgspec structs (:class:`Model`): they validate a TOML table in
microseconds and cost a planning process a few milliseconds to import, where
building validators of the same shapes took a tenth of a second of every plan's
start-up. Bounds are written in the type: ``Annotated[float, Meta(gt=0)]``.
"""

from __future__ import annotations

import copy
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

from .errors import ProfileError
from .i18n import Text

DEFAULT_PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles"


class _KeywordFields(msgspec.StructMeta):
    """Every field of a model is given by name, as in a TOML table, so a field with a
    default may come before one without, in any subclass."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **config):
        config.setdefault("kw_only", True)
        return super().__new__(mcls, name, bases, namespace, **config)


class Model(msgspec.Struct, metaclass=_KeywordFields, frozen=True, forbid_unknown_fields=True):
    """The base of every profile table: an unknown key is an error naming it (a typo is
    found, not ignored), and values are frozen once read.

    Read one with :func:`validated`; a ``__post_init__`` that finds keys at odds
    raises ``ValueError`` (the table is named) or :class:`KeyProblem` (the key is).
    """


class PluginSettings(Model):
    """The base of a plugin's ``[settings]`` models (see :func:`parse_settings`)."""


class KeyProblem(ValueError):
    """Raised by a model's ``__post_init__`` about one of its keys, so the message names it."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


_M = TypeVar("_M", bound=Model)

Positive = Annotated[float, Meta(gt=0)]
NonNegative = Annotated[float, Meta(ge=0)]


class ValidationError(ValueError):
    """A table that does not read as its model: the dotted ``key`` at fault
    (``work_area.x``, ``hoops.0.width``, ``tools.vbit-60.angle``) and the ``problem``."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


def validated(model: type[_M], data: Any) -> _M:
    """``data`` (a TOML table, a snapshot) read as ``model``; raise :class:`ValidationError`.

    Numbers written as text (``"0.3"``) are read as numbers, as a form's are.
    """
    try:
        return msgspec.convert(data, model, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationError(*_named_problem(exc, model, data)) from None


def as_data(value: Model) -> dict[str, Any]:
    """A model as JSON-ready data (tuples as lists), which :func:`validated` reads back."""
    return msgspec.json.decode(msgspec.json.encode(value))


def replaced(value: _M, **changes: Any) -> _M:
    """A copy of ``value`` with some fields changed (not validated again)."""
    return msgspec.structs.replace(value, **changes)


_WHERE = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD = re.compile(r"^Object (?P<what>contains unknown|missing required) field `(?P<key>[^`]+)`$")


def _named_problem(exc: msgspec.ValidationError, model: type, data: Any) -> tuple[str, str]:
    """msgspec's message made into a key and a problem a profile's author reads.

    msgspec writes a path (``$.tools[...].angle``) after its message, with
    ``[...]`` for any entry of a table of tables; :func:`_follow` finds which.
    """
    found = _WHERE.match(str(exc))
    assert found is not None  # the pattern matches any text
    problem, path = found["problem"], found["path"] or ""
    keys, hint = _follow(model, data, [k for k in re.split(r"\.|\[(\d+|\.\.\.)\]", path) if k])
    field_problem = _FIELD.match(problem)
    if field_problem:
        keys.append(field_problem["key"])
        problem = "unknown key" if field_problem["what"] == "contains unknown" else "missing"
    elif isinstance(exc.__cause__, KeyProblem):
        keys.append(exc.__cause__.key)
        problem = exc.__cause__.problem
    elif problem.startswith("Invalid enum value") and typing.get_origin(hint) is Literal:
        problem += f" (one of {', '.join(map(repr, typing.get_args(hint)))})"
    return ".".join(keys), problem.replace("`", "")


def _follow(model: type, data: Any, keys: list[str]) -> tuple[list[str], Any]:
    """Walk ``keys`` through the model's types and the data: each ``...`` becomes the
    key of the first entry that fails alone; also returns the type at the end (its
    bounds and ``| None`` taken off), None where the walk cannot tell."""
    hint: Any = model
    for i, key in enumerate(keys):
        hint = _bare(hint)
        if key == "..." and typing.get_origin(hint) is dict and isinstance(data, dict):
            hint = typing.get_args(hint)[1]
            failing = next((k for k, v in data.items() if not _reads_as(hint, v)), None)
            if failing is None:
                return keys, None
            keys[i], data = str(failing), data[failing]
        elif isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            hint = typing.get_type_hints(hint, include_extras=True).get(key)
            data = data.get(key) if isinstance(data, dict) else None
        elif key.isdigit() and isinstance(data, list | tuple) and int(key) < len(data):
            hint, data = (typing.get_args(hint) or (Any,))[0], data[int(key)]
        else:
            return keys, None
    return keys, _bare(hint)


def _bare(hint: Any) -> Any:
    """A type without its bounds (``Annotated``) and without ``| None``."""
    while True:
        if typing.get_origin(hint) is Annotated:
            hint = typing.get_args(hint)[0]
        elif typing.get_origin(hint) in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(hint) if a is not type(None)]
            if len(rest) != 1:
                return hint
            hint = rest[0]
        else:
            return hint


def _reads_as(hint: Any, value: Any) -> bool:
    try:
        msgspec.convert(value, hint, strict=False)
    except (msgspec.ValidationError, ValueError):
        return False
    return True


def _raise_validation(file: str, exc: ValidationError) -> None:
    raise ProfileError(file, exc.key or "(root)", exc.problem) from None


def parse_settings(model: type[_M], data: Any, prefix: str = "settings") -> _M:
    """Validate a plugin's ``[settings]`` block with its ``model``.

    Raises ``ValueError("settings.key: problem")``: what ``check_machine`` and
    ``check_material`` raise, so ``fabserver profiles check`` names the key.
    """
    try:
        return validated(model, dict(data))
    except ValidationError as exc:
        key = f"{prefix}.{exc.key}" if exc.key else prefix
        raise ValueError(f"{key}: {exc.problem}") from None


class LocalName(Model):
    fr: str
    en: str

    def text(self) -> Text:
        return Text(self.fr, self.en)

    def get(self, language: str | None = None) -> str:
        return self.en if language == "en" else self.fr


def _named(value: LocalName | str) -> LocalName:
    """A name given as one string serves both languages."""
    return LocalName(fr=value, en=value) if isinstance(value, str) else value


class Axes(Model):
    """One value per axis; ``e`` is the extruder (FDM only)."""

    x: Positive
    y: Positive
    z: Positive
    e: Positive = 1e9


class WorkArea(Model):
    """Usable volume in millimetres (z = 0 for purely 2D machines is not allowed: use 1)."""

    x: Positive
    y: Positive
    z: Positive = 1.0


Firmware = Literal["generic", "marlin", "klipper", "grbl"]


class Kinematics(Model):
    """What the motion planner needs: speeds in mm/s, accelerations in mm/s².

    ``firmware`` names whose planner the estimate models (see ``fabserver.estimate``)
    and which limits the machine file states. Give exactly one cornering model:
    ``junction_deviation`` (Marlin 2, Grbl), ``square_corner_velocity`` (Klipper)
    or ``jerk`` (classic Marlin). Grbl has one acceleration per axis (``$120``–
    ``$122``, ``max_accel``) and nothing else, so a Grbl machine gives no ``accel``,
    ``travel_accel`` or ``retract_accel``. Klipper has one acceleration for every
    move (``SET_VELOCITY_LIMIT ACCEL``): no ``travel_accel``; its ``retract_accel``
    is ``max_extrude_only_accel``.
    """

    firmware: Firmware = "generic"
    max_feed: Axes
    max_accel: Axes
    accel: Positive | None = None  # acceleration of work moves
    travel_accel: Positive | None = None
    retract_accel: Positive | None = None
    travel_feed: Positive = 100.0
    junction_deviation: NonNegative | None = None
    square_corner_velocity: NonNegative | None = None
    jerk: Axes | None = None
    minimum_feed: Positive = 0.05  # slowest speed the firmware plans
    #: Klipper's ``minimum_cruise_ratio`` (its default): share of a move left to cruise.
    minimum_cruise_ratio: Annotated[float, Meta(ge=0, lt=1)] = 0.5
    #: Klipper's extruder ``instantaneous_corner_velocity`` (its default), mm/s.
    extruder_corner_velocity: NonNegative = 1.0
    #: Grbl's planner buffer (``BLOCK_BUFFER_SIZE``; one slot is always kept free).
    planner_blocks: Annotated[int, Meta(ge=2)] = 16

    def __post_init__(self) -> None:
        if self.firmware == "grbl":
            for key in ("accel", "travel_accel", "retract_accel"):
                if getattr(self, key) is not None:
                    raise ValueError(
                        f"{key}: Grbl has one acceleration per axis ($120-$122); "
                        "give max_accel only"
                    )
            if self.junction_deviation is None:
                raise ValueError("Grbl plans corners with junction_deviation ($11)")
        elif self.accel is None:
            raise ValueError("accel: give the acceleration of work moves")
        if self.firmware == "klipper":
            if self.travel_accel is not None:
                raise ValueError(
                    "travel_accel: Klipper has one acceleration (SET_VELOCITY_LIMIT ACCEL)"
                )
            if self.square_corner_velocity is None:
                raise ValueError("Klipper plans corners with square_corner_velocity")
        if self.firmware == "marlin" and self.square_corner_velocity is not None:
            raise ValueError("Marlin plans corners with jerk or junction_deviation")

    @property
    def work_accel(self) -> float:
        """Acceleration of a work move along x or y (Grbl: the slower of ``$120``, ``$121``)."""
        return self.accel or min(self.max_accel.x, self.max_accel.y)

    def cornering(self) -> str:
        given = [
            name
            for name in ("junction_deviation", "square_corner_velocity", "jerk")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of junction_deviation, square_corner_velocity, jerk")
        return given[0]


class PlanLimits(Model):
    """What one plan for this machine may use (``[limits]``); past one, the job fails
    with a message rather than taking the server's memory, time or disk.

    The defaults suit a lab's biggest ordinary jobs: a full-bed print at 0.2 mm
    writes some 50 MB and plans in about a minute.
    """

    memory_mb: Annotated[int, Meta(ge=64)] = 2048  # memory a plan may take
    time_s: Positive = 600.0  # wall-clock seconds per plan
    output_mb: Positive = 100.0  # machine file, preview and layers


class MachineProfile(Model):
    """One physical machine, resolved (inheritance applied)."""

    id: str
    name: LocalName | str  # one string: both languages (a LocalName once read)
    plugin: str
    model: str = ""
    abstract: bool = False
    #: The site the machine stands at (``sites/<id>.toml``); filled in at load time
    #: when the lab has a single site.
    site: str = ""
    work_area: WorkArea
    kinematics: Kinematics
    timing: dict[str, float] = msgspec.field(default_factory=dict)
    connector: dict[str, Any] = msgspec.field(default_factory=lambda: {"type": "download"})
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    limits: PlanLimits = msgspec.field(default_factory=PlanLimits)

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "name", _named(self.name))
        from .toolpath import EventKind

        known = {k.name.lower() for k in EventKind}
        for key, seconds in self.timing.items():
            if key not in known:
                raise KeyProblem(
                    "timing", f"unknown event '{key}' (known: {', '.join(sorted(known))})"
                )
            if seconds < 0:
                raise KeyProblem("timing", f"'{key}' must not be negative")

    def snapshot(self) -> dict[str, Any]:
        return as_data(self)


class MaterialProfile(Model):
    """Something a machine consumes, with its prices in € per unit."""

    id: str
    name: LocalName | str  # one string: both languages (a LocalName once read)
    kind: str  # "filament", "sheet", "vinyl", "stock", "embroidery"
    plugins: tuple[str, ...]
    machines: tuple[str, ...] = ()  # empty: every machine of those plugins
    prices: dict[str, float] = msgspec.field(default_factory=dict)  # unit → € per unit
    settings: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "name", _named(self.name))
        for unit, price in self.prices.items():
            if price < 0:
                raise KeyProblem("prices", f"price per '{unit}' must not be negative")

    def fits(self, machine: MachineProfile) -> bool:
        return machine.plugin in self.plugins and (not self.machines or machine.id in self.machines)

    def snapshot(self) -> dict[str, Any]:
        return as_data(self)


class PrototypeRule(Model):
    """A job is a free prototype when every limit holds."""

    max_copies: Annotated[int, Meta(ge=1)] = 1
    max_material_cost_eur: NonNegative = 10.0
    max_machine_time_min: NonNegative = 240.0


class Policy(Model):
    currency: Literal["EUR"] = "EUR"
    # Free prototypes one maker (same e-mail or phone) may ask for over a rolling
    # window of days, all machines together; no limit when absent.
    max_prototypes_per_maker: Annotated[int, Meta(ge=1)] | None = None
    window_days: Annotated[int, Meta(ge=1)] = 30
    prototype: PrototypeRule = msgspec.field(default_factory=PrototypeRule)
    plugins: dict[str, PrototypeRule] = msgspec.field(default_factory=dict)

    def rule_for(self, plugin: str) -> PrototypeRule:
        return self.plugins.get(plugin, self.prototype)


#: The site of a lab that has no ``sites/`` files.
DEFAULT_SITE_ID = "lab"


class SiteProfile(Model):
    """One site of the lab's network: where its machines stand, who to reach, its own rules.

    ``policy`` holds keys of ``policy.toml`` this site changes (merged over the lab's);
    ``prices`` gives the site's own prices of materials it sells differently, as
    ``{material id: {unit: € per unit}}``.
    """

    id: str
    name: LocalName | str  # one string: both languages (a LocalName once read)
    address: str = ""
    opening_hours: LocalName | str | None = None
    contact: dict[str, str] = msgspec.field(default_factory=dict)
    policy: dict[str, Any] = msgspec.field(default_factory=dict)
    prices: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "name", _named(self.name))
        if self.opening_hours is not None:
            msgspec.structs.force_setattr(self, "opening_hours", _named(self.opening_hours))
        unknown = set(self.contact) - {"email", "phone", "url"}
        if unknown:
            raise KeyProblem(
                "contact", f"unknown contact '{sorted(unknown)[0]}' (known: email, phone, url)"
            )
        for material, prices in self.prices.items():
            for unit, price in prices.items():
                if price < 0:
                    raise KeyProblem(
                        "prices", f"{material}: price per '{unit}' must not be negative"
                    )

    def public(self) -> dict[str, Any]:
        """What makers and the API are told about the site."""
        return {
            "id": self.id,
            "name": self.name.text().to_dict(),
            "address": self.address,
            "opening_hours": self.opening_hours.text().to_dict() if self.opening_hours else None,
            "contact": dict(self.contact),
        }


def default_site() -> SiteProfile:
    return SiteProfile(id=DEFAULT_SITE_ID, name=LocalName(fr="Le lab", en="The lab"))


@dataclass
class ProfileSet:
    """All profiles of one lab, resolved and validated."""

    machines: dict[str, MachineProfile]
    materials: dict[str, MaterialProfile]
    policy: Policy
    root: Path = field(default=DEFAULT_PROFILE_DIR)
    sites: dict[str, SiteProfile] = field(default_factory=lambda: {DEFAULT_SITE_ID: default_site()})
    #: Each site's policy: the lab's with the site's overrides merged in.
    site_policies: dict[str, Policy] = field(default_factory=dict)

    def site(self, site_id: str) -> SiteProfile:
        try:
            return self.sites[site_id]
        except KeyError:
            raise KeyError(f"no site '{site_id}' (known: {', '.join(self.sites)})") from None

    def machines_at(self, site_id: str) -> list[MachineProfile]:
        return [m for m in self.machines.values() if m.site == site_id]

    def policy_for(self, site_id: str | None) -> Policy:
        """The rule that applies at a site (the lab's when the site changes nothing)."""
        return self.site_policies.get(site_id or "", self.policy)

    def priced_for(self, material: MaterialProfile, site_id: str | None) -> MaterialProfile:
        """The material with the site's own prices, where the site sets some."""
        site = self.sites.get(site_id or "")
        prices = site.prices.get(material.id) if site else None
        if not prices:
            return material
        return replaced(material, prices={**material.prices, **prices})

    def machine(self, machine_id: str) -> MachineProfile:
        try:
            return self.machines[machine_id]
        except KeyError:
            raise KeyError(
                f"no machine '{machine_id}' (known: {', '.join(self.machines)})"
            ) from None

    def material(self, material_id: str) -> MaterialProfile:
        try:
            return self.materials[material_id]
        except KeyError:
            known = ", ".join(self.materials)
            raise KeyError(f"no material '{material_id}' (known: {known})") from None

    def materials_for(self, machine: MachineProfile) -> list[MaterialProfile]:
        return [m for m in self.materials.values() if m.fits(machine)]

    def machines_for(self, material: MaterialProfile) -> list[MachineProfile]:
        return [m for m in self.machines.values() if material.fits(m)]


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_toml(path: Path, root: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path.relative_to(root)), "(syntax)", str(exc)) from None


def _resolve(kind: str, raw: dict[str, dict[str, Any]], root: Path) -> dict[str, dict[str, Any]]:
    """Apply ``inherits`` chains; the child's keys win, tables merge deeply."""
    resolved: dict[str, dict[str, Any]] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict[str, Any]:
        if name in resolved:
            return resolved[name]
        data = dict(raw[name])
        parent = data.pop("inherits", None)
        if parent is not None:
            file = f"{kind}/{name}.toml"
            if parent not in raw:
                raise ProfileError(file, "inherits", f"no profile '{parent}' in {kind}/")
            if parent in chain:
                raise ProfileError(file, "inherits", "inheritance loop: " + " → ".join(chain))
            base = dict(resolve(parent, (*chain, parent)))
            base.pop("abstract", None)
            base.pop("id", None)
            data = _deep_merge(base, data)
        data.setdefault("id", name)
        resolved[name] = data
        return data

    for name in raw:
        resolve(name, (name,))
    return resolved


def load_profiles(root: Path | str | None = None) -> ProfileSet:
    """Load and validate every profile under ``root``; raise :class:`ProfileError`."""
    root = Path(root) if root else DEFAULT_PROFILE_DIR
    if not root.is_dir():
        raise ProfileError(str(root), "(folder)", "profile folder not found")
    machines: dict[str, MachineProfile] = {}
    materials: dict[str, MaterialProfile] = {}
    for kind, model, target in (
        ("machines", MachineProfile, machines),
        ("materials", MaterialProfile, materials),
    ):
        raw = {p.stem: _read_toml(p, root) for p in sorted((root / kind).glob("*.toml"))}
        for name, data in _resolve(kind, raw, root).items():
            file = f"{kind}/{name}.toml"
            try:
                profile = validated(model, data)
            except ValidationError as exc:
                _raise_validation(file, exc)
            if isinstance(profile, MachineProfile):
                if profile.abstract:
                    continue
                try:
                    profile.kinematics.cornering()
                except ValueError as exc:
                    raise ProfileError(file, "kinematics", str(exc)) from None
            if profile.id in target:
                raise ProfileError(file, "id", f"'{profile.id}' is used by another file")
            target[profile.id] = profile
    policy_file = root / "policy.toml"
    policy = Policy()
    if policy_file.exists():
        try:
            policy = validated(Policy, _read_toml(policy_file, root))
        except ValidationError as exc:
            _raise_validation("policy.toml", exc)
    for material in materials.values():
        for machine_id in material.machines:
            if machine_id not in machines:
                raise ProfileError(
                    f"materials/{material.id}.toml", "machines", f"no machine '{machine_id}'"
                )
    sites, site_policies = _load_sites(root, policy, materials)
    machines = _place_machines(machines, sites)
    return ProfileSet(
        machines=machines,
        materials=materials,
        policy=policy,
        root=root,
        sites=sites,
        site_policies=site_policies,
    )


def _load_sites(
    root: Path, policy: Policy, materials: dict[str, MaterialProfile]
) -> tuple[dict[str, SiteProfile], dict[str, Policy]]:
    """``sites/*.toml`` validated, with each site's merged policy; one default site when
    the folder holds none."""
    files = sorted((root / "sites").glob("*.toml"))
    if not files:
        return {DEFAULT_SITE_ID: default_site()}, {}
    sites: dict[str, SiteProfile] = {}
    policies: dict[str, Policy] = {}
    for path in files:
        file = f"sites/{path.stem}.toml"
        data = _read_toml(path, root)
        data.setdefault("id", path.stem)
        try:
            site = validated(SiteProfile, data)
        except ValidationError as exc:
            _raise_validation(file, exc)
        if site.id in sites:
            raise ProfileError(file, "id", f"'{site.id}' is used by another file")
        for material_id in site.prices:
            if material_id not in materials:
                raise ProfileError(file, f"prices.{material_id}", f"no material '{material_id}'")
        if site.policy:
            merged = _deep_merge(as_data(policy), site.policy)
            try:
                policies[site.id] = validated(Policy, merged)
            except ValidationError as exc:
                raise ProfileError(file, f"policy.{exc.key}", exc.problem) from None
        sites[site.id] = site
    return sites, policies


def _place_machines(
    machines: dict[str, MachineProfile], sites: dict[str, SiteProfile]
) -> dict[str, MachineProfile]:
    """Every machine at a known site; with a single site, a machine may leave it out."""
    only = next(iter(sites)) if len(sites) == 1 else None
    placed: dict[str, MachineProfile] = {}
    for machine_id, machine in machines.items():
        file = f"machines/{machine_id}.toml"
        if not machine.site:
            if only is None:
                raise ProfileError(
                    file, "site", f"say which site the machine is at ({', '.join(sites)})"
                )
            machine = replaced(machine, site=only)
        elif machine.site not in sites:
            raise ProfileError(
                file, "site", f"no site '{machine.site}' in sites/ (known: {', '.join(sites)})"
            )
        placed[machine_id] = machine
    return placed


def machine_from_snapshot(data: dict[str, Any]) -> MachineProfile:
    return validated(MachineProfile, data)


def material_from_snapshot(data: dict[str, Any]) -> MaterialProfile:
    return validated(MaterialProfile, data)
