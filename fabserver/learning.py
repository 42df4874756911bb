"""Estimates that learn from finished jobs: a correction factor per machine and material.

Staff record the real machine time when they mark a job done. For each machine ×
material, the ratios ``actual / estimated`` of the finished jobs give a factor that
later estimates are multiplied by, shown beside the raw figure. The factor is robust
rather than clever:

* it needs ``MIN_JOBS`` finished jobs (fewer say nothing reliable);
* ratios far from the median (more than ``OUTLIER_MADS`` scaled median absolute
  deviations and more than ``OUTLIER_SHARE`` of the median away, e.g. a job paused
  overnight or a time typed in hours) are dropped;
* the factor is the *weighted median* of the rest, each job weighing
  ``0.5 ** (age / HALF_LIFE_DAYS)``: recent jobs count more, as the machine wears,
  is tuned or its operators learn;
* at most ``MAX_JOBS`` of the latest jobs are used.

Pure computation (no database): ``fabserver.jobs.learning`` fetches the jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from .i18n import Text, french_number

MIN_JOBS = 5
MAX_JOBS = 50
HALF_LIFE_DAYS = 90.0
OUTLIER_MADS = 3.0
#: Never call a ratio an outlier closer than this share of the median (a MAD of 0
#: when most jobs agree exactly would otherwise drop every other job).
OUTLIER_SHARE = 0.5
#: Consistency constant: a MAD times this estimates a normal distribution's sigma.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Sample:
    """One finished job: the raw estimate, the real time, and when it was finished."""

    estimated_s: float
    actual_s: float
    finished_at: datetime


@dataclass(frozen=True)
class Correction:
    """The factor to apply, how many jobs it comes from and their spread (ratio units)."""

    factor: float
    jobs: int
    spread: float

    def to_dict(self) -> dict:
        return {"factor": self.factor, "jobs": self.jobs, "spread": self.spread}

    def note(self, raw_s: float) -> Text:
        """What the maker and staff read beside the corrected time."""
        return Text(
            f"corrigé d'après les {self.jobs} derniers travaux de cette machine dans ce "
            f"matériau (× {french_number(self.factor, '.2f')}) ; calcul brut {_duration(raw_s)}",
            f"corrected from the last {self.jobs} jobs on this machine in this material "
            f"(× {self.factor:.2f}); raw calculation {_duration(raw_s)}",
        )


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60.0)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d}"
    return f"{minutes} min"


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cumulative = np.cumsum(w)
    return float(v[np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def learn(
    samples: Sequence[Sample],
    now: datetime,
    min_jobs: int = MIN_JOBS,
    half_life_days: float = HALF_LIFE_DAYS,
) -> Correction | None:
    """The correction from ``samples`` (any order), or ``None`` while there are too few."""
    usable = [s for s in samples if s.estimated_s > 0 and s.actual_s > 0]
    usable.sort(key=lambda s: s.finished_at, reverse=True)
    usable = usable[:MAX_JOBS]
    if len(usable) < min_jobs:
        return None
    ratios = np.array([s.actual_s / s.estimated_s for s in usable])
    median = float(np.median(ratios))
    mad = float(np.median(np.abs(ratios - median))) * _MAD_TO_SIGMA
    keep = np.abs(ratios - median) <= max(OUTLIER_MADS * mad, OUTLIER_SHARE * median)
    if keep.sum() < min_jobs:
        return None
    age_days = np.array([(now - s.finished_at).total_seconds() / 86400.0 for s in usable])
    weights = 0.5 ** (np.maximum(age_days, 0.0) / half_life_days)
    kept = ratios[keep]
    factor = _weighted_median(kept, weights[keep])
    spread = float(np.median(np.abs(kept - factor))) * _MAD_TO_SIGMA
    return Correction(factor=factor, jobs=int(keep.sum()), spread=spread)
