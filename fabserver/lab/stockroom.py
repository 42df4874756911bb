"""The lab's stock of pieces (offcuts, remnants) in the database.

Staff record pieces per material; planning reads the pieces still free (a piece
is reserved by the jobs planned on it until they are done, rejected or
cancelled); marking a job done uses its piece up and may store what is left of
it as a new offcut. The geometry lives in :mod:`fabserver.stock`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from shapely.geometry import Polygon
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import FabError
from ..i18n import Text
from ..profiles import ProfileSet
from ..stock import OFFCUT_KINDS
from ..store.models import Job, StockPiece

# States in which a job holds the piece it was planned on.
_HOLDING = ("queued", "planning", "review", "approved", "dispatched")
MAX_SIDE_MM = 10_000.0
MAX_COUNT = 1000


class StockError(FabError):
    """A piece that cannot be recorded as given; the message says why."""


def piece_dict(piece: StockPiece) -> dict[str, Any]:
    """A piece as the API and the planner see it."""
    return {
        "id": piece.id,
        "material": piece.material_id,
        "site": piece.site,
        "width_mm": piece.width_mm,
        "height_mm": piece.height_mm,
        "outline_mm": piece.outline_mm,
        "count": piece.count,
        "note": piece.note,
        "source_job_id": piece.source_job_id,
        "created_at": piece.created_at.isoformat(timespec="seconds") + "Z",
    }


def list_pieces(
    session: Session, material: str | None = None, sites: list[str] | None = None
) -> list[StockPiece]:
    """Pieces of ``material`` (all when None) on the shelves of ``sites`` (all when None)."""
    query = select(StockPiece).order_by(StockPiece.material_id, StockPiece.id)
    if material:
        query = query.where(StockPiece.material_id == material)
    if sites is not None:
        query = query.where(StockPiece.site.in_(sites))
    return list(session.scalars(query))


def _number(value: Any, what: Text) -> float:
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise StockError(
            Text(
                f"{what.fr} : « {value} » n'est pas un nombre.",
                f"{what.en}: '{value}' is not a number.",
            )
        ) from None
    if not 0 < number <= MAX_SIDE_MM:
        raise StockError(
            Text(
                f"{what.fr} : entre 0 et {MAX_SIDE_MM:.0f} mm.",
                f"{what.en}: between 0 and {MAX_SIDE_MM:.0f} mm.",
            )
        )
    return number


def _outline(value: Any) -> list[list[float]]:
    bad = StockError(
        Text(
            "Le contour doit être une liste d'au moins 3 points [x, y] en mm, "
            "qui ne se croise pas.",
            "The outline must be a list of at least 3 [x, y] points in mm "
            "that does not cross itself.",
        )
    )
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad from None
    try:
        points = [[float(x), float(y)] for x, y in value]
    except (TypeError, ValueError):
        raise bad from None
    if len(points) < 3:
        raise bad
    polygon = Polygon(points)
    if not polygon.is_valid or polygon.area <= 0:
        raise bad
    return points


def add_piece(
    session: Session,
    profiles: ProfileSet,
    data: dict[str, Any],
    allowed_sites: list[str] | None = None,
) -> StockPiece:
    """Record ``{material, width_mm, height_mm | outline_mm, count, note, site}``; ``site``
    may be left out when the lab (or the staff member, ``allowed_sites``) has only one."""
    site = _site_of_piece(profiles, str(data.get("site") or ""), allowed_sites)
    material = profiles.materials.get(str(data.get("material") or ""))
    if material is None or material.kind not in OFFCUT_KINDS:
        names = ", ".join(m.id for m in profiles.materials.values() if m.kind in OFFCUT_KINDS)
        raise StockError(
            Text(
                f"Choisissez un matériau en plaque, en bloc ou en rouleau : {names}.",
                f"Choose a sheet, block or roll material: {names}.",
            )
        )
    outline = data.get("outline_mm")
    if outline not in (None, "", []):
        points = _outline(outline)
        width = height = None
    else:
        points = None
        width = _number(data.get("width_mm"), Text("Largeur", "Width"))
        height = _number(data.get("height_mm"), Text("Hauteur", "Height"))
    try:
        given = data.get("count")
        count = 1 if given in (None, "") else int(str(given).strip())
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_COUNT:
        raise StockError(
            Text(
                f"Nombre de pièces : un entier de 1 à {MAX_COUNT}.",
                f"Number of pieces: a whole number from 1 to {MAX_COUNT}.",
            )
        )
    piece = StockPiece(
        material_id=material.id,
        width_mm=width,
        height_mm=height,
        outline_mm=points,
        count=count,
        note=str(data.get("note") or "").strip()[:200],
        site=site,
    )
    session.add(piece)
    session.flush()
    return piece


def _site_of_piece(profiles: ProfileSet, given: str, allowed: list[str] | None) -> str:
    choices = [s for s in profiles.sites if allowed is None or s in allowed]
    if not given and len(choices) == 1:
        return choices[0]
    if given not in choices:
        names = ", ".join(profiles.sites[s].name.fr for s in choices)
        names_en = ", ".join(profiles.sites[s].name.en for s in choices)
        raise StockError(
            Text(
                f"Choisissez le site où la pièce est rangée : {names}.",
                f"Choose the site where the piece is kept: {names_en}.",
            )
        )
    return given


def delete_piece(session: Session, piece_id: int, sites: list[str] | None = None) -> bool:
    """Remove a piece (of one of ``sites``, when given); False when there is no such piece."""
    piece = session.get(StockPiece, piece_id)
    if piece is None or (sites is not None and piece.site not in sites):
        return False
    session.delete(piece)
    return True


def _held(session: Session, exclude_job: int | None) -> Counter[int]:
    """How many of each piece the unfinished jobs hold."""
    rows = session.execute(
        select(Job.id, Job.stock).where(Job.state.in_(_HOLDING), Job.stock.is_not(None))
    ).all()
    return Counter(stock["piece_id"] for job_id, stock in rows if stock and job_id != exclude_job)


def available(
    session: Session, material: str, exclude_job: int | None = None, site: str | None = None
) -> list[dict]:
    """Pieces of ``material`` (at ``site``, when given) not held by another unfinished job,
    for the planner."""
    held = _held(session, exclude_job)
    pieces = list_pieces(session, material, None if site is None else [site])
    return [piece_dict(p) for p in pieces if p.count > held.get(p.id, 0)]


def use_piece(session: Session, job: Job, keep_leftover: bool) -> StockPiece | None:
    """At "done": one of the job's piece is used up; what is left may become a new offcut.

    Returns the new offcut, if one was kept.
    """
    if not job.stock:
        return None
    piece = session.get(StockPiece, job.stock["piece_id"])
    note = piece.note if piece is not None else ""
    if piece is not None:
        piece.count -= 1
        if piece.count <= 0:
            session.delete(piece)
    rest = job.stock.get("leftover")
    if not (keep_leftover and rest):
        return None
    new = StockPiece(
        material_id=job.material_id,
        width_mm=rest.get("width_mm"),
        height_mm=rest.get("height_mm"),
        outline_mm=rest.get("outline_mm"),
        count=1,
        note=note,
        source_job_id=job.id,
        site=job.site,
    )
    session.add(new)
    session.flush()
    return new


def describe(piece: dict[str, Any]) -> str:
    """``150 × 100 mm`` or ``contour, 6 points``: a piece's size for people."""
    if piece.get("outline_mm"):
        xs = [p[0] for p in piece["outline_mm"]]
        ys = [p[1] for p in piece["outline_mm"]]
        return f"~{max(xs) - min(xs):.0f} × {max(ys) - min(ys):.0f} mm"
    return f"{piece['width_mm']:g} × {piece['height_mm']:g} mm"
