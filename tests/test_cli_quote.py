"""``fabserver quote``: every machine that takes a file, planned offline on its default material."""

from __future__ import annotations

import json

from click.testing import CliRunner

from fabserver.cli import main
from fabserver.testing import CORPUS, CORPUS_MISSING, SAMPLES, require


def test_quote_json_lists_every_drawing_machine_with_figures():
    result = CliRunner().invoke(main, ["quote", str(SAMPLES / "laser-keyring.svg"), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    rows = {row["machine"]: row for row in answer["plans"]}
    assert {"laser", "vinyl"} <= set(rows)
    assert not any(m.startswith("printer") for m in rows)
    laser = rows["laser"]
    assert laser["state"] == "done"
    assert laser["machine_time_s"] > 0 and laser["cost_eur"] > 0
    assert laser["verdict"]["kind"] in ("prototype", "series")
    assert laser["operations"]["stroke:#ff0000"] == "cut"


def test_quote_table_cuts_a_one_colour_drawing_and_says_so():
    require((CORPUS / "svg" / "ClosedBox.svg").exists(), CORPUS_MISSING)
    result = CliRunner().invoke(
        main, ["--lang", "en", "quote", str(CORPUS / "svg" / "ClosedBox.svg")]
    )
    assert result.exit_code == 0, result.output
    assert "laser" in result.output
    assert "laser: The drawing has only one colour" in result.output


def test_quote_of_a_broken_file_gives_the_message_not_a_trace(tmp_path):
    broken = tmp_path / "broken.stl"
    broken.write_bytes(b"solid nothing\nendsolid")
    result = CliRunner().invoke(main, ["--lang", "en", "quote", str(broken), "--json"])
    assert result.exit_code == 2
    assert "error" in json.loads(result.output)
