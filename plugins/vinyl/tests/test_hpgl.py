"""The HPGL writer, read back with the tests' own reader."""

from __future__ import annotations

import io

import numpy as np

from fabserver.writers.hpgl import MAX_PAIRS_PER_INSTRUCTION, PenSetup, plotter_units, write_hpgl


def test_millimetres_become_whole_plotter_units_without_repeats():
    mm = np.array([[0.0, 0.0], [0.01, 0.0], [100.0, 0.0], [100.0, 25.0]])
    np.testing.assert_array_equal(plotter_units(mm, 40.0), [[0, 0], [4000, 0], [4000, 1000]])


def test_a_job_reads_back_as_written(tools):
    t = np.linspace(0, 2 * np.pi, 3 * MAX_PAIRS_PER_INSTRUCTION)
    long_curve = np.column_stack([50 + 20 * np.cos(t), 50 + 20 * np.sin(t)])
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], float)
    stream = io.BytesIO()
    write_hpgl(stream, [square, long_curve], PenSetup(force=75, speed_cm_s=12.5), park=(300, 0))
    data = stream.getvalue()
    assert data.startswith(b"IN;PA;SP1;VS12.5;FS75;")
    assert data.rstrip().endswith(b"PU12000,0;SP0;")
    job = tools.parse_hpgl(data)
    assert len(job.strokes) == 2
    np.testing.assert_array_equal(job.strokes[0], square * 40)
    np.testing.assert_array_equal(job.strokes[1], plotter_units(long_curve, 40))
    # Long cuts are split so no PD carries more pairs than small cutters accept.
    assert job.commands.count("PD") >= 1 + 3
    for line in data.split(b";"):
        if line.startswith(b"PD"):
            assert line.count(b",") + 1 <= 2 * MAX_PAIRS_PER_INSTRUCTION
