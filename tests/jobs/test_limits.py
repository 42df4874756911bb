"""Each plan runs in a planning process within the machine's memory, time and output limits."""

from __future__ import annotations

import pytest
from job_helpers import job, submit

from fabserver.errors import ProfileError
from fabserver.jobs import limits
from fabserver.profiles import PlanLimits, load_profiles


def test_a_plan_runs_in_another_process_and_gives_results(runtime, block_stl):
    created = submit(runtime, block_stl)
    done = job(runtime, created.id)
    assert done.state == "review", done.error_detail
    roles = {a.role for a in done.artifacts}
    assert {"machine", "preview"} <= roles
    planned = [e for e in done.events if e.to_state == "planning"]
    worker = planned[-1].data["worker"]
    assert worker.split(":")[1] == str(__import__("os").getpid())  # supervised from here
    # the planning process's own files are gone once stored
    assert not any((runtime.settings.data_dir / "tmp").glob("plan-*"))


def _failed_with(runtime, job_id: int, kind: str) -> None:
    failed = job(runtime, job_id)
    assert failed.state == "failed", (failed.state, failed.error_detail)
    assert f"limit hit: {kind}" in failed.error_detail
    assert failed.error_message["fr"] and failed.error_message["en"]
    assert not failed.artifacts  # nothing half-written is kept
    assert not any((runtime.settings.data_dir / "tmp").glob("plan-*"))


def test_memory_limit_ends_the_job_failed_with_what_to_change(runtime, block_stl):
    created = submit(runtime, block_stl, options={"behaviour": "hog"})
    _failed_with(runtime, created.id, "memory")
    message = job(runtime, created.id).error_message
    assert "256 Mo de mémoire" in message["fr"] and "256 MB of memory" in message["en"]
    assert "fewer copies" in message["en"] and "moins d'exemplaires" in message["fr"]


def test_time_limit_kills_the_plan(make_runtime, block_stl, lab_profiles):
    path = lab_profiles / "machines" / "lim-1.toml"
    path.write_text(path.read_text().replace("time_s = 20", "time_s = 1.5"))
    runtime = make_runtime()
    created = submit(runtime, block_stl, options={"behaviour": "sleep", "seconds": 300})
    _failed_with(runtime, created.id, "time")
    assert "too long to plan" in job(runtime, created.id).error_message["en"]


def test_output_limit_while_writing(runtime, block_stl):
    created = submit(runtime, block_stl, options={"behaviour": "big-output"})
    _failed_with(runtime, created.id, "output")
    failed = job(runtime, created.id)
    assert "8 Mo" in failed.error_message["fr"] and "output_mb = 8" in failed.error_detail


def test_output_estimate_refuses_before_planning(runtime, block_stl):
    created = submit(runtime, block_stl, options={"behaviour": "huge-estimate"})
    _failed_with(runtime, created.id, "output")
    assert "estimated" in job(runtime, created.id).error_detail  # plan() never ran


def test_fdm_hints_name_layers_and_infill():
    message = limits.limit_message("output", PlanLimits(output_mb=100), "fdm")
    assert "couches plus épaisses" in message.fr and "moins de remplissage" in message.fr
    assert "thicker layers" in message.en and "less infill" in message.en
    assert "a smaller part" in message.en
    assert "100 Mo" in message.fr


def test_machine_limits_come_from_the_profile_and_are_validated(tmp_path, lab_profiles):
    profiles = load_profiles(lab_profiles)
    assert profiles.machines["lim-1"].limits == PlanLimits(memory_mb=256, time_s=20, output_mb=8)
    assert profiles.machines["box-1"].limits == PlanLimits()  # the defaults in the code
    snapshot = profiles.machines["lim-1"].snapshot()
    assert limits.limits_for(snapshot).memory_mb == 256
    assert limits.limits_for({}) == PlanLimits()  # snapshots older than [limits]
    lab = load_profiles()
    assert lab.machines["printer-1"].limits.output_mb == 100
    path = lab_profiles / "machines" / "lim-1.toml"
    path.write_text(path.read_text().replace("memory_mb = 256", "memory_mb = -1"))
    with pytest.raises(ProfileError) as err:
        load_profiles(lab_profiles)
    assert (err.value.file, err.value.key) == ("machines/lim-1.toml", "limits.memory_mb")
