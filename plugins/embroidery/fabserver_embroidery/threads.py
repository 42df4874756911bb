"""Threads: the drawing's colours matched to a catalogue the lab stocks.

Colours are compared in CIE Lab with the CIEDE2000 difference (ΔE00), which
follows what people see far better than a distance in RGB: two blues that look
alike are close, a dark green and a grey of the same RGB distance are not.
The catalogues are the thread charts pyembroidery ships (Brother's PEC chart,
Janome's JEF chart), so the names and numbers match what the machine shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class Thread:
    """One spool of a catalogue."""

    rgb: Colour
    name: str
    catalogue_number: str
    brand: str

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


@cache
def catalogue(name: str) -> tuple[Thread, ...]:
    """Threads of a catalogue (``"brother-pec"`` or ``"janome-jef"``), without duplicates."""
    if name == "brother-pec":
        from pyembroidery.EmbThreadPec import get_thread_set

        brand = "Brother"
    elif name == "janome-jef":
        from pyembroidery.EmbThreadJef import get_thread_set

        brand = "Janome"
    else:
        raise ValueError(f"unknown thread catalogue '{name}'")
    seen: dict[Colour, Thread] = {}
    for t in get_thread_set():
        if t is None or t.description is None or "unknown" in str(t.description).lower():
            continue
        rgb = (t.get_red(), t.get_green(), t.get_blue())
        seen.setdefault(rgb, Thread(rgb, str(t.description), str(t.catalog_number), brand))
    return tuple(seen.values())


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (D65) to CIE L*a*b*.

    rgb : (n, 3) int or float, 0..255
    returns (n, 3) float: L in 0..100, a and b roughly -128..127
    """
    c = np.asarray(rgb, dtype=float) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack(
        [116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1
    )


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference, broadcasting ``(..., 3)`` Lab arrays (kL = kC = kH = 1)."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=float), -1, 0)
    C1, C2 = np.hypot(a1, b1), np.hypot(a2, b2)
    C_mean7 = ((C1 + C2) / 2) ** 7
    G = 0.5 * (1 - np.sqrt(C_mean7 / (C_mean7 + 25.0**7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp = L2 - L1
    dCp = C2p - C1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(C1p * C2p == 0, 0.0, dh)
    dHp = 2 * np.sqrt(C1p * C2p) * np.sin(np.radians(dh / 2))
    Lp_mean = (L1 + L2) / 2
    Cp_mean = (C1p + C2p) / 2
    h_sum = h1p + h2p
    hp_mean = np.where(
        np.abs(h1p - h2p) > 180,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
        h_sum / 2,
    )
    hp_mean = np.where(C1p * C2p == 0, h_sum, hp_mean)
    T = (
        1
        - 0.17 * np.cos(np.radians(hp_mean - 30))
        + 0.24 * np.cos(np.radians(2 * hp_mean))
        + 0.32 * np.cos(np.radians(3 * hp_mean + 6))
        - 0.20 * np.cos(np.radians(4 * hp_mean - 63))
    )
    d_theta = 30 * np.exp(-(((hp_mean - 275) / 25) ** 2))
    Cp_mean7 = Cp_mean**7
    R_C = 2 * np.sqrt(Cp_mean7 / (Cp_mean7 + 25.0**7))
    S_L = 1 + 0.015 * (Lp_mean - 50) ** 2 / np.sqrt(20 + (Lp_mean - 50) ** 2)
    S_C = 1 + 0.045 * Cp_mean
    S_H = 1 + 0.015 * Cp_mean * T
    R_T = -np.sin(np.radians(2 * d_theta)) * R_C
    return np.sqrt(
        (dLp / S_L) ** 2 + (dCp / S_C) ** 2 + (dHp / S_H) ** 2 + R_T * (dCp / S_C) * (dHp / S_H)
    )


@dataclass(frozen=True)
class ThreadMatch:
    """A drawing colour and the catalogue thread chosen for it."""

    colour: Colour
    thread: Thread
    delta_e: float


def match_threads(colours: list[Colour], catalogue_name: str) -> list[ThreadMatch]:
    """Nearest catalogue thread (ΔE00) for each colour, in one array computation."""
    if not colours:
        return []
    threads = catalogue(catalogue_name)
    lab_in = srgb_to_lab(np.array(colours))
    lab_cat = srgb_to_lab(np.array([t.rgb for t in threads]))
    de = delta_e2000(lab_in[:, None, :], lab_cat[None, :, :])
    best = de.argmin(axis=1)
    return [
        ThreadMatch(tuple(int(v) for v in c), threads[j], float(de[i, j]))
        for i, (c, j) in enumerate(zip(colours, best, strict=True))
    ]
