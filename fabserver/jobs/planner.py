"""One plan in a planning process: bounded in memory, time and output, killed on cancel.

The consumer that claimed a job (a thread of ``fabserver serve`` or ``fabserver
worker``) only supervises: it starts a bounded child (:mod:`fabserver.designs.bounded`),
relays its progress to the database, watches the job's state (a cancel or a
re-plan kills the child within a poll) and the wall clock, and reports how the
child ended. The child reads the stored design (parsed again under the plan's
bounds), plans, and writes every file of the plan (machine files, preview,
layer data) into a private folder; the parent stores them only when the job is
still its own, so a killed plan leaves nothing half-written behind.
"""

from __future__ import annotations

import errno
import json
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..designs.bounded import Bounds, start_bounded, stop_child
from ..errors import FabError
from ..i18n import Text
from ..learning import Correction
from ..planning import PlanResult, load_accepted, run_plan, write_outputs
from ..plugin import MachinePlugin, PlanInput, resolve_options
from ..profiles import (
    MaterialProfile,
    PlanLimits,
    Policy,
    machine_from_snapshot,
    material_from_snapshot,
)
from ..stock import Piece
from ..store.faults import STORAGE_FAULT, is_storage_fault
from .limits import LimitKind

POLL_S = 0.25  # how often the supervisor looks at the pipe
CHECK_S = 0.5  # how often it asks the database whether the job is still its own
PROGRESS_EVERY_S = 0.25
NICE = 19  # plans yield the CPU to the web pages (and to uploads being read)
CPU_MARGIN_S = 5  # RLIMIT_CPU backstop beyond the wall-clock limit

# Children being supervised in this process, by job id (for staff tools and tests).
_running: dict[int, int] = {}
_running_lock = threading.Lock()


def running_plans() -> dict[int, int]:
    """Job id → pid of the planning processes this process supervises right now."""
    with _running_lock:
        return dict(_running)


@dataclass(frozen=True)
class PlanRequest:
    """Everything a planning process needs; sent to it by value (no database there)."""

    job_id: int
    plugin: MachinePlugin
    design_path: str
    design_name: str
    machine: dict[str, Any]
    material: dict[str, Any]
    options: dict[str, Any]
    policy: Policy
    materials: Mapping[str, MaterialProfile]
    out_dir: str
    limits: PlanLimits
    correction: Correction | None = None  # learnt from the lab's finished jobs
    offcuts: tuple[Piece, ...] = ()  # stored pieces the parts may go on
    earlier_prototypes: int | None = None  # the maker's recent free prototypes


@dataclass
class PlanFile:
    role: str  # "machine", "extra", "preview", "layers"
    path: str
    filename: str
    media_type: str
    size: int


@dataclass
class PlanSummary:
    """What the child sends back when the plan is done: JSON-ready facts and its files."""

    estimate: dict[str, Any]
    verdict: dict[str, Any]
    facts: Any
    warnings: list[dict[str, str]]
    files: list[PlanFile] = field(default_factory=list)
    stock: dict[str, Any] | None = None  # the offcut the parts go on, when one takes them
    operations: list[dict[str, Any]] = field(default_factory=list)  # drawings: colour rows

    def results(self) -> dict[str, Any]:
        """What a job and a quote's draft both keep of the plan, by their column names."""
        return {
            "estimate": self.estimate,
            "verdict": self.verdict,
            "plan_facts": self.facts,
            "warnings": self.warnings,
            "stock": self.stock,
        }


@dataclass
class Outcome:
    """How a supervised plan ended: ``ok``, ``error`` (a maker's message), ``limit``,
    ``stopped`` (cancelled or re-planned meanwhile) or ``crashed`` (killed from outside)."""

    status: str
    summary: PlanSummary | None = None
    message: Text | None = None
    limit: LimitKind | None = None
    detail: str = ""


class OutputTooLarge(Exception):
    """The plan's files would pass the output limit (raised in the child)."""


def estimated_output_bytes(
    plugin: MachinePlugin, design: Any, machine: Any, material: Any, options: Mapping[str, Any]
) -> int | None:
    """The plugin's early guess of its files' size (None when it offers none)."""
    resolved = resolve_options(plugin.option_schema(), options)
    value = plugin.estimate_output_bytes(PlanInput(design, machine, material, resolved))
    return None if value is None else int(value)


def _plan_child(conn, request: PlanRequest) -> None:
    """In the planning process: plan, write the files, send a summary or why not."""
    last = [0.0]

    def progress(done: float, stage: str = "") -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or done >= 1.0:
            last[0] = now
            conn.send(("progress", float(done), str(stage or "")))

    answer: tuple[Any, ...]
    try:
        answer = ("ok", _plan_and_write(request, progress))
    except MemoryError:
        answer = ("limit", "memory", "MemoryError in the planning process")
    except OutputTooLarge as exc:
        answer = ("limit", "output", str(exc))
    except OSError as exc:
        if exc.errno != errno.EFBIG:
            message = STORAGE_FAULT.to_dict() if is_storage_fault(exc) else None
            answer = ("error", message, traceback.format_exc())
        else:
            answer = ("limit", "output", f"file size limit reached while writing: {exc}")
    except FabError as exc:
        answer = ("error", exc.message.to_dict(), exc.detail or traceback.format_exc())
    except BaseException:  # never a traceback for the maker; staff get it
        answer = ("error", None, traceback.format_exc())
    # Sent outside the handlers: the failed frames (and their memory) are gone by now.
    conn.send(answer)


def _plan_and_write(request: PlanRequest, progress: Callable[..., None]) -> PlanSummary:
    machine = machine_from_snapshot(request.machine)
    design = load_accepted(
        Path(request.design_path).read_bytes(), request.design_name, request.plugin, machine
    )
    progress(0.05, "plan")
    material = material_from_snapshot(request.material)
    limit_bytes = request.limits.output_mb * 1024 * 1024
    guess = estimated_output_bytes(request.plugin, design, machine, material, request.options)
    if guess is not None and guess > limit_bytes:
        raise OutputTooLarge(f"estimated {guess / 1e6:.0f} MB before planning")
    result = run_plan(
        request.plugin,
        design,
        machine,
        material,
        request.options,
        request.policy,
        {**request.materials, material.id: material},
        progress=lambda done, stage="": progress(0.05 + 0.85 * float(done), stage),
        correction=request.correction,
        offcuts=request.offcuts,
        earlier_prototypes=request.earlier_prototypes,
    )
    progress(0.92, "save")
    files = _write_files(request, result)
    total = sum(f.size for f in files)
    if total > limit_bytes:
        raise OutputTooLarge(f"files of {total / 1e6:.0f} MB")
    warnings = [*design.warnings, *result.warnings]
    return PlanSummary(
        estimate=result.estimate.to_dict(),
        verdict=result.verdict.to_dict(),
        facts=json.loads(json.dumps(result.plan.facts, default=str)),
        warnings=[w.to_dict() for w in warnings],
        files=files,
        stock=result.stock.to_dict() if result.stock else None,
        operations=[f.to_dict() for f in result.plan.operations],
    )


def _write_files(request: PlanRequest, result: PlanResult) -> list[PlanFile]:
    """Machine files, preview SVG and per-layer data, into the plan's private folder."""
    plan = result.plan
    out = Path(request.out_dir)
    stem = f"job-{request.job_id}"
    files: list[PlanFile] = []
    main = next((o for o in plan.outputs if o.main), plan.outputs[0] if plan.outputs else None)
    if main is not None:
        paths = write_outputs(plan, out / f"{stem}{main.suffix}")
        for output, path in zip(plan.outputs, paths, strict=True):
            role = "machine" if output is main else "extra"
            files.append(_file(role, path, output.media_type))
    drawn = result.preview
    assert drawn is not None  # run_plan draws unless told not to
    preview = out / f"{stem}-preview.svg"
    preview.write_text(drawn.svg, encoding="utf-8")
    files.append(_file("preview", preview, "image/svg+xml"))
    if drawn.layers is not None:
        layers = out / f"{stem}-layers.json"
        with layers.open("w", encoding="utf-8") as f:
            json.dump(drawn.layers, f, separators=(",", ":"))
        files.append(_file("layers", layers, "application/json"))
    return files


def _file(role: str, path: Path, media_type: str) -> PlanFile:
    return PlanFile(role, str(path), path.name, media_type, path.stat().st_size)


def supervise(
    request: PlanRequest,
    progress: Callable[[float, str], None],
    still_mine: Callable[[], bool],
) -> Outcome:
    """Run ``request`` in a bounded planning process and wait for it, within its limits.

    ``progress`` receives the child's progress; ``still_mine`` is asked every
    :data:`CHECK_S` and a ``False`` (cancelled, re-planned) kills the child. The
    caller removes ``request.out_dir`` once it has stored what it keeps.
    """
    limits = request.limits
    Path(request.out_dir).mkdir(parents=True, exist_ok=True)
    bounds = Bounds(
        memory_mb=limits.memory_mb,
        cpu_s=int(limits.time_s) + CPU_MARGIN_S,
        file_mb=limits.output_mb,
        nice=NICE,
    )
    process, conn = start_bounded(_plan_child, (request,), bounds)
    with _running_lock:
        _running[request.job_id] = process.pid
    deadline = time.monotonic() + limits.time_s
    next_check = time.monotonic() + CHECK_S
    try:
        while True:
            if conn.poll(POLL_S):
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    return _ended(process)
                if message[0] == "progress":
                    progress(message[1], message[2])
                    continue
                return _answer(message)
            if not process.is_alive() and not conn.poll(0):
                return _ended(process)
            now = time.monotonic()
            if now > deadline:
                return Outcome("limit", limit="time", detail=f"no answer after {limits.time_s:g} s")
            if now >= next_check:
                next_check = now + CHECK_S
                if not still_mine():
                    return Outcome("stopped", detail="the job changed while planning")
    finally:
        with _running_lock:
            _running.pop(request.job_id, None)
        stop_child(process, conn)


def _answer(message: tuple[Any, ...]) -> Outcome:
    status = message[0]
    if status == "ok":
        return Outcome("ok", summary=message[1])
    if status == "limit":
        return Outcome("limit", limit=message[1], detail=message[2])
    text = Text.from_dict(message[1]) if message[1] else None
    return Outcome("error", message=text, detail=message[2])


def _ended(process) -> Outcome:
    """The child ended without an answer: the CPU backstop, or killed from outside."""
    process.join(timeout=5)
    code = process.exitcode
    if code == -signal.SIGXCPU:
        return Outcome("limit", limit="time", detail="CPU time limit (SIGXCPU)")
    name = signal.Signals(-code).name if code is not None and code < 0 else f"exit status {code}"
    return Outcome("crashed", detail=f"planning process ended without an answer: {name}")


def remove_out_dir(request: PlanRequest) -> None:
    shutil.rmtree(request.out_dir, ignore_errors=True)
