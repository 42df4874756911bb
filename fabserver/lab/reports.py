"""The lab's activity over a period, for its funders: per machine and material.

Counts are of the jobs created in the period: prototypes and series (the verdict
that binds, staff's override included), rejected ones with their reasons. Times,
material and the value given are of the jobs among them that are done, so the
estimated and the actual figures speak of the same work.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import FabError
from ..i18n import Text
from ..jobs.service import charged_material
from ..store.models import Job, utcnow

ROW_FIELDS = (
    "machine",
    "material",
    "jobs",
    "prototypes",
    "series",
    "rejected",
    "machine_time_s",
    "actual_time_s",
    "material_quantity",
    "unit",
    "free_value_eur",
)
TOTAL_FIELDS = ("jobs", "prototypes", "series", "rejected", "machine_time_s", "actual_time_s")


class PeriodError(FabError):
    """A period that cannot be read; the message says how to write it."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date | None = None) -> Period:
        """``YYYY-MM-DD`` dates; by default the current month up to today (UTC, as the
        database's times)."""
        today = today or utcnow().date()
        try:
            first = date.fromisoformat(start) if start else today.replace(day=1)
            last = date.fromisoformat(end) if end else today
        except ValueError:
            raise PeriodError(
                Text(
                    "Dates au format AAAA-MM-JJ, par exemple 2026-11-01.",
                    "Dates as YYYY-MM-DD, for example 2026-11-01.",
                )
            ) from None
        if last < first:
            raise PeriodError(
                Text(
                    "La date de fin est avant la date de début.",
                    "The end date is before the start date.",
                )
            )
        return cls(first, last)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """``[start, end + 1 day)`` as naive UTC datetimes, as the database stores them."""
        return (
            datetime.combine(self.start, datetime.min.time()),
            datetime.combine(self.end + timedelta(days=1), datetime.min.time()),
        )


def _maker_key(job: Job) -> str:
    return job.contact_email or job.contact_phone or f"name:{job.maker_name.strip().lower()}"


def build_report(
    session: Session, period: Period, sites: list[str] | None = None
) -> dict[str, Any]:
    """``{from, to, sites, rows: [...], totals: {...}, by_site: {...}, rejections: [...]}``
    (see the API), for ``sites`` or the whole network (None)."""
    start, end = period.bounds
    query = select(Job).where(Job.created_at >= start, Job.created_at < end).order_by(Job.id)
    if sites is not None:
        query = query.where(Job.site.in_(sites))
    jobs = session.scalars(query).unique()
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    rejections = []
    makers = set()
    for job in jobs:
        line = charged_material(job.estimate)
        unit = line["unit"] if line else ""
        row = rows.setdefault(
            (job.machine_id, job.material_id, unit),
            {
                "machine": job.machine_id,
                "site": job.site,
                "material": job.material_id,
                "jobs": 0,
                "prototypes": 0,
                "series": 0,
                "rejected": 0,
                "machine_time_s": 0.0,
                "actual_time_s": 0.0,
                "material_quantity": 0.0,
                "unit": unit,
                "free_value_eur": 0.0,
            },
        )
        row["jobs"] += 1
        makers.add(_maker_key(job))
        kind = (job.effective_verdict or {}).get("kind")
        if job.state == "rejected":
            row["rejected"] += 1
            rejections.append(
                {"job": job.id, "machine": job.machine_id, "reason": job.rejection_reason or ""}
            )
        elif job.state not in ("cancelled", "failed") and kind in ("prototype", "series"):
            row["prototypes" if kind == "prototype" else "series"] += 1
        if job.state != "done":
            continue
        estimate = job.estimate or {}
        row["machine_time_s"] += float(estimate.get("machine_time_s") or 0.0)
        row["actual_time_s"] += float(job.actual_time_s or 0.0)
        if job.actual_material is not None and job.actual_material_unit == unit:
            row["material_quantity"] += float(job.actual_material)
        elif line:
            row["material_quantity"] += float(line["quantity"])
        if kind == "prototype":
            row["free_value_eur"] += float(estimate.get("cost_eur") or 0.0)
    ordered = [rows[key] for key in sorted(rows)]
    for row in ordered:
        for key in ("machine_time_s", "actual_time_s", "free_value_eur"):
            row[key] = round(row[key], 2)
        row["material_quantity"] = round(row["material_quantity"], 4)
    totals: dict[str, Any] = {
        key: sum(r[key] for r in ordered) for key in (*TOTAL_FIELDS, "free_value_eur")
    }
    for key in ("machine_time_s", "actual_time_s", "free_value_eur"):
        totals[key] = round(totals[key], 2)
    totals["makers"] = len(makers)
    by_site: dict[str, dict[str, float]] = {}
    for row in ordered:
        site = by_site.setdefault(row["site"], dict.fromkeys(TOTAL_FIELDS, 0))
        for key in TOTAL_FIELDS:
            site[key] = round(site[key] + row[key], 2)
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "sites": sites,
        "rows": ordered,
        "totals": totals,
        "by_site": by_site,
        "rejections": rejections,
    }


_FRENCH_HEADERS = {
    "machine": "machine",
    "material": "matériau",
    "jobs": "demandes",
    "prototypes": "prototypes",
    "series": "séries",
    "rejected": "refusées",
    "machine_time_h": "heures machine estimées",
    "actual_time_h": "heures machine réelles",
    "material_quantity": "matière utilisée",
    "unit": "unité",
    "free_value_eur": "matière offerte (€)",
}
_CSV_FIELDS = tuple(_FRENCH_HEADERS)


def report_csv(report: dict[str, Any], french: bool = True) -> str:
    """The report as CSV: French spreadsheet conventions (semicolons, decimal commas,
    a byte-order mark so spreadsheets read the accents) or standard CSV."""

    def number(value: float, digits: int) -> str:
        text = f"{value:.{digits}f}"
        return text.replace(".", ",") if french else text

    def cells(row: dict[str, Any], label: str | None = None) -> list[str]:
        return [
            label if label is not None else row["machine"],
            "" if label is not None else row["material"],
            str(row["jobs"]),
            str(row["prototypes"]),
            str(row["series"]),
            str(row["rejected"]),
            number(row["machine_time_s"] / 3600.0, 2),
            number(row["actual_time_s"] / 3600.0, 2),
            "" if label is not None else number(row["material_quantity"], 3),
            "" if label is not None else row["unit"],
            number(row["free_value_eur"], 2),
        ]

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if french else ",", lineterminator="\r\n")
    writer.writerow([_FRENCH_HEADERS[f] for f in _CSV_FIELDS] if french else _CSV_FIELDS)
    for row in report["rows"]:
        writer.writerow(cells(row))
    writer.writerow(cells(report["totals"], "TOTAL"))
    return ("\ufeff" if french else "") + out.getvalue()
