"""What an external slicer engine provides: where it is, and how to slice with it."""

from __future__ import annotations

import shutil
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.profiles import MachineProfile

from ..settings import PrintSettings

TIMEOUT_S = 900  # a big model at fine layers takes minutes; a hung engine must not block a worker


@dataclass(frozen=True)
class EngineRun:
    """One slicing run: the plate's model, where the G-code goes, the job's settings and
    the profile's start and end code (placeholders filled), in a scratch folder."""

    model: Path
    output: Path
    s: PrintSettings
    machine: MachineProfile
    start_gcode: str
    end_gcode: str
    workdir: Path


class ExternalEngine(ABC):
    """A slicer run as a separate program on a model file, writing G-code."""

    id: str
    name: str
    package: str  # the Debian package that provides it
    executable: str
    centred_models = False  # the engine puts a model's origin at the bed's centre

    def binary(self) -> str | None:
        """Path of the program, or ``None`` when it is not installed."""
        return shutil.which(self.executable)

    def missing(self) -> str | None:
        """Why the engine cannot run here (English, for staff), or ``None``."""
        if self.binary() is None:
            return (
                f"engine '{self.id}' is not installed ({self.executable} not found; "
                f"apt-get install {self.package}); jobs fall back to the builtin slicer"
            )
        return None

    @abstractmethod
    def command(self, run: EngineRun) -> list[str]:
        """The command line slicing ``run.model`` into ``run.output`` with the job's settings."""

    def slice(self, run: EngineRun) -> None:
        """Run the engine; a failure is a :class:`PlanError` (its output goes to ``detail``)."""
        args = self.command(run)
        try:
            done = subprocess.run(
                args, cwd=run.workdir, capture_output=True, timeout=TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise self._failed(f"{self.id} timed out after {TIMEOUT_S} s") from None
        output = run.output
        if done.returncode != 0 or not output.is_file() or output.stat().st_size == 0:
            tail = (done.stderr or done.stdout or b"")[-2000:].decode("utf-8", "replace")
            raise self._failed(f"{self.id} exited with {done.returncode}: {tail}")

    def _failed(self, detail: str) -> PlanError:
        return PlanError(
            Text(
                f"Le trancheur {self.name} n'a pas pu découper ce modèle. L'équipe peut "
                "relancer la préparation avec le trancheur intégré.",
                f"The {self.name} slicer could not slice this model. Staff may plan it again "
                "with the builtin slicer.",
            ),
            detail=detail,
        )
