"""One operations model for drawings: each path's layer, stroke or fill colour → an operation.

A plugin declares its operations (:class:`Operations`: laser cut / score /
engrave, mill outside / inside / pocket / engrave with a depth, …); maps are
text in one syntax, so they fit a machine profile, a preset and a form field
alike::

    stroke:#ff0000=cut, #0000ff=score, fill:#000000=engrave, layer:*cut*=cut, *=ignore
    #ff0000=pocket:2.5, layer:HOLES=inside

Keys are ``#rgb``/``#rrggbb`` colours or a few colour names, ``none`` (a path
with no colour), ``*`` (every colour not listed), or ``layer:PATTERN`` (a
case-insensitive shell pattern on the layer name, checked before colours). A
colour key may start with ``stroke:`` or ``fill:``; without it the entry is for
strokes and fills alike, except for operations the plugin declares fill-only
(a black outline is not a request to engrave). ``OP:VALUE`` gives a number to
operations that take one (a mill's depth). A bare word naming a preset
(``boxes`` for Boxes.py files) brings its entries in. Later entries win, so a
job's map goes over the machine's convention.

:func:`resolve` gives each path its rules, :func:`group` the paths by
operation, and :func:`report` what was found: each colour or layer with its
paths, length, area and the operation it got (the maker's colour table).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely

from .designs.types import Colour, DrawingPath, colour_hex
from .errors import PlanError
from .i18n import Text

IGNORE = "ignore"
COLOUR_TOLERANCE = 24
"""Largest per-channel difference still taken as the same colour (0..255):
exports often write ``rgb(0,0,254)`` or anti-aliased greys for pure colours."""

NAMED_COLOURS: dict[str, Colour] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "lime": (0, 255, 0),
    "blue": (0, 0, 255),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
    "yellow": (255, 255, 0),
}

Part = Literal["stroke", "fill"]


@dataclass(frozen=True)
class Operations:
    """What a plugin's maps may name.

    ``names``: its operations (``ignore`` is always allowed). ``with_value``: those
    taking ``:VALUE`` (``value_words`` says what it is, for messages). ``fill_only``:
    those an entry without ``stroke:``/``fill:`` applies to fills only. ``example``:
    a map shown in messages.
    """

    names: tuple[str, ...]
    example: str
    with_value: frozenset[str] = frozenset()
    fill_only: frozenset[str] = frozenset()
    value_words: Text = Text("une profondeur en mm", "a depth in mm")

    @property
    def allowed(self) -> tuple[str, ...]:
        return (*self.names, IGNORE)


@dataclass(frozen=True)
class Rule:
    """An operation and, for operations that take one, its value (e.g. depth, mm)."""

    operation: str
    value: float | None = None


@dataclass(frozen=True)
class OperationMap:
    """A parsed map: rules per colour and part, layer patterns, rules for other colours."""

    operations: Operations
    stroke: dict[Colour | None, Rule] = field(default_factory=dict)
    fill: dict[Colour | None, Rule] = field(default_factory=dict)
    layers: tuple[tuple[str, Rule], ...] = ()
    other_stroke: Rule | None = None  # the ``*`` entries
    other_fill: Rule | None = None

    @classmethod
    def parse(
        cls, operations: Operations, text: str, presets: Mapping[str, str] | None = None
    ) -> OperationMap:
        return cls(operations).updated(text, presets)

    @classmethod
    def of_machine(
        cls,
        operations: Operations,
        colour_map: str,
        layer_map: str = "",
        presets: Mapping[str, str] | None = None,
        job_map: str = "",
    ) -> OperationMap:
        """The machine profile's convention (its layer map, entries without ``layer:``,
        then its colour map), with the job's entries on top."""
        layers = ",".join(f"layer:{e.strip()}" for e in layer_map.split(",") if e.strip())
        return cls.parse(operations, layers).updated(colour_map, presets).updated(job_map, presets)

    def updated(self, text: str, presets: Mapping[str, str] | None = None) -> OperationMap:
        """This map with the entries of ``text`` added; later entries win."""
        maps = {"stroke": dict(self.stroke), "fill": dict(self.fill)}
        other = {"stroke": self.other_stroke, "fill": self.other_fill}
        layers = dict(self.layers)
        presets = presets or {}
        for raw in text.replace(";", ",").split(","):
            entry = raw.strip()
            if not entry:
                continue
            if "=" not in entry:
                if entry.lower() in presets:
                    expanded = OperationMap.parse(self.operations, presets[entry.lower()])
                    maps["stroke"].update(expanded.stroke)
                    maps["fill"].update(expanded.fill)
                    layers.update(expanded.layers)
                    for part in ("stroke", "fill"):
                        value = getattr(expanded, f"other_{part}")
                        other[part] = value if value is not None else other[part]
                    continue
                known = ", ".join(sorted(presets)) or "—"
                raise self._bad(
                    entry,
                    f"n'est ni « couleur=opération » ni un préréglage connu ({known})",
                    f"is neither 'colour=operation' nor a known preset ({known})",
                )
            key, value = (part.strip() for part in entry.rsplit("=", 1))
            rule = self._rule(entry, value)
            lowered = key.lower()
            if lowered.startswith("layer:"):
                pattern = lowered[6:].strip()
                layers.pop(pattern, None)  # re-added last: it now wins
                layers[pattern] = rule
                continue
            parts: tuple[Part, ...] = (
                ("fill",) if rule.operation in self.operations.fill_only else ("stroke", "fill")
            )
            for prefix in ("stroke:", "fill:"):
                if lowered.startswith(prefix):
                    parts = ("stroke",) if prefix == "stroke:" else ("fill",)
                    key = key[len(prefix) :].strip()
            if key == "*":
                for part in parts:
                    other[part] = rule
                continue
            colour = None if key.lower() == "none" else parse_colour(key)
            if colour is None and key.lower() != "none":
                raise self._bad(
                    entry,
                    "n'est pas une couleur (#rrggbb, #rgb ou un nom comme red)",
                    "is not a colour (#rrggbb, #rgb or a name such as red)",
                )
            for part in parts:
                maps[part][colour] = rule
        return OperationMap(
            self.operations,
            maps["stroke"],
            maps["fill"],
            tuple(layers.items()),
            other["stroke"],
            other["fill"],
        )

    def _rule(self, entry: str, text: str) -> Rule:
        op, _, value = text.strip().lower().partition(":")
        ops = self.operations
        if op not in ops.allowed:
            raise self._bad(
                entry,
                f"demande « {op} » ; opérations possibles : {', '.join(ops.allowed)}",
                f"asks for '{op}'; operations are {', '.join(ops.allowed)}",
            )
        if not value:
            return Rule(op)
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            number = -1.0
        if op not in ops.with_value or not number > 0:
            raise self._bad(
                entry,
                f": « {value} » n'est pas {ops.value_words.fr} positive",
                f": '{value}' is not a positive value ({ops.value_words.en})",
            )
        return Rule(op, number)

    def _bad(self, entry: str, why_fr: str, why_en: str) -> PlanError:
        example = self.operations.example
        return PlanError(
            Text(
                f"Table des opérations : « {entry} » {why_fr}. Exemple : {example}.",
                f"Operation map: '{entry}' {why_en}. Example: {example}.",
            )
        )

    def for_layer(self, layer: str) -> Rule | None:
        name = layer.lower()
        for pattern, rule in reversed(self.layers):  # later entries (the job's) win
            if fnmatch.fnmatchcase(name, pattern):
                return rule
        return None

    def for_colour(self, colour: Colour | None, part: Part = "stroke") -> Rule | None:
        """The rule of ``colour`` (the nearest listed within :data:`COLOUR_TOLERANCE`), else
        the ``*`` rule."""
        table = self.stroke if part == "stroke" else self.fill
        if colour in table:
            return table[colour]
        if colour is not None:
            best, best_diff = None, COLOUR_TOLERANCE + 1
            for known, rule in table.items():
                if known is None:
                    continue
                diff = max(abs(a - b) for a, b in zip(known, colour, strict=True))
                if diff < best_diff:
                    best, best_diff = rule, diff
            if best is not None:
                return best
        return self.other_stroke if part == "stroke" else self.other_fill


def parse_colour(key: str) -> Colour | None:
    """``#rgb``, ``#rrggbb`` or a colour name → ``(r, g, b)``; ``None`` if it is none of those."""
    key = key.strip().lower()
    if key in NAMED_COLOURS:
        return NAMED_COLOURS[key]
    if key.startswith("#") and len(key) in (4, 7):
        digits = key[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        try:
            value = int(digits, 16)
        except ValueError:
            return None
        return (value >> 16 & 255, value >> 8 & 255, value & 255)
    return None


@dataclass(frozen=True)
class PathRules:
    """The rules a path got for its outline (``stroke``) and its filled area (``fill``),
    and what decided them (its layer or its colours)."""

    stroke: Rule | None
    fill: Rule | None
    by_layer: bool = False

    @property
    def rule(self) -> Rule | None:
        """One rule for the whole path: the outline's, else the fill's."""
        return self.stroke if self.stroke is not None else self.fill


def resolve(paths: Sequence[DrawingPath], cmap: OperationMap) -> list[PathRules]:
    """Each path's rules: its layer's when a layer pattern names it, else its colours'."""
    out = []
    for path in paths:
        layer_rule = cmap.for_layer(path.layer)
        if layer_rule is not None:
            outlined = path.stroke is not None or path.fill is None
            out.append(
                PathRules(
                    layer_rule if outlined else None,
                    layer_rule if path.fill is not None else None,
                    by_layer=True,
                )
            )
            continue
        stroke = cmap.for_colour(path.stroke, "stroke") if path.stroke is not None else None
        fill = cmap.for_colour(path.fill, "fill") if path.fill is not None else None
        if path.stroke is None and path.fill is None:
            stroke = cmap.for_colour(None, "stroke")
        out.append(PathRules(stroke, fill))
    return out


def group(rules: Sequence[PathRules]) -> dict[Rule | None, list[int]]:
    """Path indices by their one rule (:attr:`PathRules.rule`); ``None``: no map names them."""
    groups: dict[Rule | None, list[int]] = {}
    for i, r in enumerate(rules):
        groups.setdefault(r.rule, []).append(i)
    return groups


@dataclass(frozen=True)
class Found:
    """One colour or layer of a drawing, and the operation its paths got.

    ``key``: ``layer:NAME``, ``stroke:#rrggbb``, ``fill:#rrggbb`` or ``none``;
    ``operation`` ``None`` when no map names it.
    """

    key: str
    paths: int
    length_mm: float
    area_mm2: float
    operation: str | None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "paths": self.paths,
            "length_mm": round(self.length_mm, 2),
            "area_mm2": round(self.area_mm2, 2),
            "operation": self.operation,
            "value": self.value,
        }


def report(paths: Sequence[DrawingPath], rules: Sequence[PathRules]) -> tuple[Found, ...]:
    """What the drawing holds, by layer (when a layer pattern decided) or colour, in file order."""
    closed = [p.closed and len(p.points) >= 3 for p in paths]
    areas = np.zeros(len(paths))
    rings = [shapely.Polygon(p.points) for p, c in zip(paths, closed, strict=True) if c]
    if rings:
        areas[np.array(closed)] = shapely.area(shapely.make_valid(np.array(rings)))
    rows: dict[str, list[Any]] = {}  # key → [paths, length, area, rule]

    def add(key: str, i: int, rule: Rule | None) -> None:
        row = rows.setdefault(key, [0, 0.0, 0.0, rule])
        row[0] += 1
        row[1] += paths[i].length
        row[2] += areas[i]

    for i, (path, r) in enumerate(zip(paths, rules, strict=True)):
        if r.by_layer:
            add(f"layer:{path.layer}", i, r.rule)
            continue
        if path.stroke is not None:
            add(f"stroke:{colour_hex(path.stroke)}", i, r.stroke)
        if path.fill is not None:
            add(f"fill:{colour_hex(path.fill)}", i, r.fill)
        if path.stroke is None and path.fill is None:
            add("none", i, r.stroke)
    return tuple(
        Found(
            key,
            n,
            float(length),
            float(area),
            None if rule is None else rule.operation,
            None if rule is None else rule.value,
        )
        for key, (n, length, area, rule) in rows.items()
    )


CHOOSE_ON_QUOTE = Text(
    "Choisissez l'opération de chaque couleur dans le tableau « Opérations par couleur » de la "
    "page de devis.",
    "Choose each colour's operation in the 'Operations by colour' table of the quote page.",
)
"""Where a maker changes what a colour gets (the quote page's table, built on :func:`report`)."""
NO_OPERATION = Text("rien (non réalisé)", "nothing (not made)")
IGNORED = Text("ignoré", "ignored")


BOXES_OUTER, BOXES_INNER = (0, 0, 0), (0, 0, 255)
"""Boxes.py's colours: black outer cuts, blue inner cuts (red labels)."""


def looks_like_boxes(paths: Sequence[DrawingPath]) -> bool:
    """Boxes.py's colours: black closed outlines with blue closed contours, no fills."""
    blue = [p for p in paths if p.stroke == BOXES_INNER and p.closed]
    black = [p for p in paths if p.stroke == BOXES_OUTER and p.closed]
    return bool(blue and black) and all(p.fill is None for p in blue + black)


def colour_label(key: str) -> Text:
    """What a maker reads for a colour table key (``stroke:#ff0000``, ``layer:CUT``…)."""
    kind, _, value = key.partition(":")
    if kind == "layer":
        return Text(f"Calque « {value} »", f"Layer '{value}'")
    if kind == "stroke":
        return Text(f"Trait {value}", f"Stroke {value}")
    if kind == "fill":
        return Text(f"Remplissage {value}", f"Fill {value}")
    return Text("Sans couleur", "No colour")


def found_listing(found: Sequence[Found], words: Mapping[str, Text]) -> Text:
    """What the drawing holds and what each colour or layer got, in plain words for a
    maker (``words``: the plugin's name of each operation), as the quote page's table
    names them: « Trait #ff0000 : découpe (3 tracé(s), 120 mm) ; Trait #00ff00 : rien
    (non réalisé) (1 tracé(s), 40 mm) »."""
    fr, en = [], []
    for f in found:
        if f.operation is None:
            got = NO_OPERATION
        elif f.operation == IGNORE:
            got = IGNORED
        else:
            got = words.get(f.operation, Text(f.operation, f.operation))
            if f.value is not None:
                got = Text(f"{got.fr} {f.value:g} mm".replace(".", ","), f"{got.en} {f.value:g} mm")
        key = colour_label(f.key)
        fr.append(f"{key.fr} : {got.fr} ({f.paths} tracé(s), {f.length_mm:.0f} mm)")
        en.append(f"{key.en}: {got.en} ({f.paths} path(s), {f.length_mm:.0f} mm)")
    return Text(" ; ".join(fr), "; ".join(en))
