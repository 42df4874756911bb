"""Prototype or series: the lab's rule from ``policy.toml``, with the reasons in words.

The lab gives the material for a prototype; a series means the maker brings
their own. The verdict lists every limit checked, so staff and maker see why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .estimate import Estimate
from .i18n import Text
from .profiles import Policy

VerdictKind = Literal["prototype", "series"]


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    reasons: tuple[Text, ...]
    overridden_by: str | None = None
    note: str = ""

    @property
    def label(self) -> Text:
        if self.kind == "prototype":
            return Text("Prototype gratuit", "Free prototype")
        return Text("Série : matière apportée par vous", "Series: bring your own material")

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label.to_dict(),
            "reasons": [r.to_dict() for r in self.reasons],
            "overridden_by": self.overridden_by,
            "note": self.note,
        }


def decide(
    estimate: Estimate,
    copies: int,
    policy: Policy,
    plugin: str,
    earlier_prototypes: int | None = None,
) -> Verdict:
    """Apply the rule for ``plugin`` (or the lab-wide one).

    ``earlier_prototypes`` is how many free prototypes the same maker asked for
    within the policy's window before this job (the caller counts them in the
    database); with ``max_prototypes_per_maker`` set, one too many makes a series.
    ``None`` (no maker known, e.g. ``fabserver plan``) leaves that limit out.
    """
    rule = policy.rule_for(plugin)
    minutes = estimate.machine_time_s / 60.0
    cost = estimate.cost_eur
    checks = [
        (
            copies <= rule.max_copies,
            Text(
                "{n} exemplaire(s), limite {limit} pour un prototype",
                "{n} copie(s), limit {limit} for a prototype",
            ).format(n=copies, limit=rule.max_copies),
        ),
        (
            cost <= rule.max_material_cost_eur,
            Text(
                "matière {cost:.2f} €, limite {limit:.2f} €",
                "material {cost:.2f} €, limit {limit:.2f} €",
            ).format(cost=float(cost), limit=float(rule.max_material_cost_eur)),
        ),
        (
            minutes <= rule.max_machine_time_min,
            Text(
                "temps machine {t:.0f} min, limite {limit:.0f} min",
                "machine time {t:.0f} min, limit {limit:.0f} min",
            ).format(t=float(minutes), limit=float(rule.max_machine_time_min)),
        ),
    ]
    if policy.max_prototypes_per_maker is not None and earlier_prototypes is not None:
        rank = earlier_prototypes + 1
        checks.append(
            (
                rank <= policy.max_prototypes_per_maker,
                Text(
                    f"{_ordinal_fr(rank)} prototype sur {policy.window_days} jours, "
                    f"limite {policy.max_prototypes_per_maker}",
                    f"{_ordinal_en(rank)} prototype in {policy.window_days} days, "
                    f"limit {policy.max_prototypes_per_maker}",
                ),
            )
        )
    failed = [reason for ok, reason in checks if not ok]
    if failed:
        return Verdict("series", tuple(_prefix(r, "au-delà", "over") for r in failed))
    return Verdict(
        "prototype",
        tuple(_prefix(r, "dans la limite", "within") for r in (reason for _, reason in checks)),
    )


def _ordinal_fr(n: int) -> str:
    return "1er" if n == 1 else f"{n}e"


def _ordinal_en(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _prefix(reason: Text, fr: str, en: str) -> Text:
    return Text(f"{fr} : {reason.fr}", f"{en}: {reason.en}")


def override(verdict: Verdict, kind: VerdictKind, staff: str, note: str) -> Verdict:
    """Staff decide otherwise; the original reasons stay visible."""
    return Verdict(kind, verdict.reasons, overridden_by=staff, note=note)
