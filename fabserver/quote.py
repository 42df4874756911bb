"""An instant quote: one design, every machine that takes it, before the maker chooses.

The core of it, without database or web: which machines answer and with which
default material, the maker's colour table (each colour or layer of a drawing and
the operation each machine's convention gives it), what the server proposes when
a machine's convention would make nothing of a drawing (the Boxes.py preset, or
cutting a one-colour drawing), how the maker's edits become an operations map,
and the whole table offline for ``fabserver quote``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .designs.types import Design, Drawing
from .i18n import Text
from .operations import IGNORE, colour_label, looks_like_boxes, report, resolve
from .plugin import MachinePlugin
from .profiles import MachineProfile, MaterialProfile, ProfileSet

BOXES_PRESET = "boxes"
BLACK = (0, 0, 0)


@dataclass(frozen=True)
class Target:
    """A machine that takes the design, its plugin and the material a draft starts with."""

    machine: MachineProfile
    plugin: MachinePlugin
    material: MaterialProfile


def targets(profiles: ProfileSet, plugins: Mapping[str, MachinePlugin], kind: str) -> list[Target]:
    """Every machine whose installed plugin takes ``kind``, with its cheapest material."""
    out = []
    for machine in profiles.machines.values():
        plugin = plugins.get(machine.plugin)
        if plugin is None or kind not in plugin.accepts:
            continue
        materials = profiles.materials_for(machine)
        if materials:
            out.append(Target(machine, plugin, min(materials, key=_first_price)))
    return out


def _first_price(material: MaterialProfile) -> float:
    """A draft starts on the machine's cheapest material (the one a free prototype most
    likely uses); the materials of one machine are priced in the same unit."""
    prices = list(material.prices.values())
    return float(prices[0]) if prices else float("inf")


def swatch(key: str) -> str | None:
    """The ``#rrggbb`` colour of a key, for the page's swatch (None for layers)."""
    kind, _, value = key.partition(":")
    return value if kind in ("stroke", "fill") else None


def propose(target: Target, design: Design) -> tuple[str, Text | None]:
    """The operations map a draft starts with on ``target`` and the notice that says why.

    A drawing in Boxes.py's colours whose black outlines the machine's convention
    leaves out gets the machine's ``boxes`` preset; a drawing in one colour or layer
    that the convention leaves out entirely is cut (on machines that cut), instead
    of a plan that would make nothing. Otherwise nothing is proposed.
    """
    plugin, machine = target.plugin, target.machine
    if not isinstance(design, Drawing) or plugin.operations_option is None:
        return "", None
    cmap = plugin.operation_map(machine, "")
    if cmap is None:
        return "", None
    found = report(design.paths, resolve(design.paths, cmap))
    left_out = {f.key for f in found if f.operation is None}
    if (
        "stroke:#000000" in left_out
        and BOXES_PRESET in plugin.operation_presets(machine)
        and looks_like_boxes(design.paths)
    ):
        return BOXES_PRESET, Text(
            "Dessin Boxes.py reconnu : le préréglage « boxes » est appliqué (noir et bleu "
            "découpés, étiquettes rouges ignorées). Changez les opérations ci-dessous si besoin.",
            "Boxes.py drawing recognised: the 'boxes' preset is applied (black and blue cut, "
            "red labels ignored). Change the operations below if needed.",
        )
    made = any(f.operation not in (None, IGNORE) for f in found)
    if not made and len(found) == 1 and "cut" in cmap.operations.names:
        key = found[0].key
        label = colour_label(key)
        return f"{key}=cut", Text(
            f"Le dessin n'a qu'une couleur ({label.fr}), que la convention de la machine "
            "n'utilise pas : tout est découpé. Changez l'opération ci-dessous pour marquer "
            "ou graver.",
            f"The drawing has only one colour ({label.en}), which the machine's convention "
            "does not use: everything is cut. Change the operation below to score or engrave.",
        )
    return "", None


def map_entries(operations: Mapping[str, str]) -> str:
    """The maker's colour table edits (key → operation) as operations map entries."""
    return ", ".join(f"{key}={op}" for key, op in operations.items() if key and op)


def job_map(base: str, operations: Mapping[str, str]) -> str:
    """``base`` (typed or proposed) with the maker's edits on top: later entries win."""
    return ", ".join(part for part in (base.strip(), map_entries(operations)) if part)


def colour_table(design: Design, maps: Mapping[str, tuple[Target, str]]) -> list[dict[str, Any]]:
    """Each colour or layer of a drawing, its length and area, and its operation on every
    drawing machine (``maps``: machine id → target and the job map it starts with)."""
    if not isinstance(design, Drawing):
        return []
    rows: dict[str, dict[str, Any]] = {}
    for machine_id, (target, text) in maps.items():
        cmap = target.plugin.operation_map(target.machine, text)
        if cmap is None:
            continue
        for found in report(design.paths, resolve(design.paths, cmap)):
            row = rows.setdefault(
                found.key,
                {
                    "key": found.key,
                    "label": colour_label(found.key).to_dict(),
                    "swatch": swatch(found.key),
                    "paths": found.paths,
                    "length_mm": round(found.length_mm, 1),
                    "area_mm2": round(found.area_mm2, 1),
                    "operations": {},
                },
            )
            op = found.operation or IGNORE
            row["operations"][machine_id] = op if found.value is None else f"{op}:{found.value:g}"
    return list(rows.values())


def operation_choices(target: Target) -> list[str]:
    """The operations the maker may pick for a colour on ``target`` (empty: none)."""
    cmap = target.plugin.operation_map(target.machine, "")
    return [] if cmap is None else list(cmap.operations.allowed)


AREA_PATHS_LIMIT = 20_000  # beyond this, the union would keep the maker waiting: no area shown


def drawing_area_mm2(design: Drawing) -> float | None:
    """The area the drawing's closed paths cover (their union), for the maker's facts."""
    import shapely

    rings = [p.points for p in design.paths if p.closed and len(p.points) >= 3]
    if not rings or len(rings) > AREA_PATHS_LIMIT:
        return None
    polygons = shapely.make_valid(np.array([shapely.Polygon(r) for r in rings], dtype=object))
    return float(shapely.area(shapely.union_all(polygons)))


def drawing_svg(design: Drawing) -> str:
    """The drawing itself as the maker drew it, in mm, y up (what the server read)."""
    (x0, y0), (x1, y1) = np.asarray(design.bounds, dtype=float)
    w, h = max(x1 - x0, 1e-3), max(y1 - y0, 1e-3)
    pad = max(w, h) * 0.02
    stroke = max(w, h) / 400
    out = io.StringIO()
    out.write(
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="{x0 - pad:.3f} {-y1 - pad:.3f} {w + 2 * pad:.3f} {h + 2 * pad:.3f}" '
        f'width="{w:.2f}mm" height="{h:.2f}mm">'
    )
    for path in design.paths:
        pts = path.points
        if len(pts) < 2:
            continue
        coords = " ".join(f"{x:.3f},{-y:.3f}" for x, y in pts)
        tag = "polygon" if path.closed else "polyline"
        colour = path.stroke or path.fill or BLACK
        fill = "#{:02x}{:02x}{:02x}".format(*path.fill) if path.fill and path.closed else "none"
        out.write(
            f'<{tag} points="{coords}" fill="{fill}" fill-opacity="0.3" '
            'stroke="#{:02x}{:02x}{:02x}" '.format(*colour)
            + f'stroke-width="{stroke:.3f}"/>'
        )
    out.write("</svg>")
    return out.getvalue()


def plan_offline(
    design: Design, profiles: ProfileSet, plugins: Mapping[str, MachinePlugin]
) -> list[dict[str, Any]]:
    """Every machine's draft planned here, one after the other (``fabserver quote``):
    the same rows the server's quote table shows, without database or queue."""
    from .errors import FabError
    from .planning import run_plan

    rows = []
    for target in targets(profiles, plugins, design.kind):
        text, notice = propose(target, design)
        options = {target.plugin.operations_option: text} if text else {}
        row: dict[str, Any] = {
            "machine": target.machine.id,
            "machine_name": target.machine.name.text().to_dict(),
            "material": target.material.id,
            "copies": 1,
            "options": options,
            "notices": [notice.to_dict()] if notice else [],
        }
        try:
            result = run_plan(
                target.plugin,
                design,
                target.machine,
                target.material,
                options,
                profiles.policy,
                profiles.materials,
                draw=False,
            )
        except FabError as exc:
            rows.append({**row, "state": "failed", "error": exc.message.to_dict()})
            continue
        estimate = result.estimate.to_dict()
        rows.append(
            {
                **row,
                "state": "done",
                "machine_time_s": estimate.get("machine_time_s"),
                "materials": estimate.get("materials", []),
                "cost_eur": estimate.get("cost_eur"),
                "verdict": result.verdict.to_dict(),
                "warnings": [w.to_dict() for w in (*design.warnings, *result.warnings)],
                "operations": {f.key: f.operation or IGNORE for f in result.plan.operations},
            }
        )
    return rows
