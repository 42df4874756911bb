"""`fabserver inspect` on every design of the corpus and on the project's samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fabserver.cli import main
from fabserver.designs import load_design
from fabserver.errors import DesignError
from fabserver.testing import corpus_files

DESIGNS = [
    *corpus_files("stl", ".stl", ".3mf"),
    *corpus_files("svg", ".svg"),
    *corpus_files("dxf", ".dxf"),
]
REFUSED = {"soup.stl"}  # a triangle soup is no solid: the maker is told so


def _inspect(*args: str):
    return CliRunner().invoke(main, ["inspect", *args], catch_exceptions=False)


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.name)
def test_inspect_json_on_every_corpus_design(path):
    result = _inspect(str(path), "--json")
    info = json.loads(result.output)
    if path.name in REFUSED:
        assert result.exit_code == 2
        assert info["error"]["fr"] and info["error"]["en"]
        return
    assert result.exit_code == 0, result.output
    reference = load_design(path.read_bytes(), path.name)  # a second, direct read
    assert info["kind"] == reference.kind
    np.testing.assert_allclose(info["bounds_mm"], reference.bounds, atol=1e-3)
    np.testing.assert_allclose(info["size_mm"], reference.size, atol=1e-3)
    assert [w["en"] for w in info["warnings"]] == [w.en for w in reference.warnings]
    if info["kind"] == "mesh":
        assert info["triangles"] == len(reference.mesh.faces)
    else:
        assert info["paths"] == len(reference.paths)
        assert set(info["layers"]) == set(reference.layers())


def test_inspect_text_speaks_the_chosen_language(samples):
    path = samples / "design-plate-inches.dxf"
    french = CliRunner().invoke(main, ["--lang", "fr", "inspect", str(path)])
    english = CliRunner().invoke(main, ["--lang", "en", "inspect", str(path)])
    assert french.exit_code == 0 and english.exit_code == 0
    assert "kind: drawing" in english.output and "units: in" in english.output
    assert "texte(s) ignoré(s)" in french.output and "text(s) ignored" in english.output


def test_inspect_refusal_is_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "photo.stl"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    result = CliRunner().invoke(main, ["--lang", "en", "inspect", str(bad)])
    assert result.exit_code == 2
    assert "PNG image" in result.output and "Traceback" not in result.output
    with pytest.raises(DesignError):
        load_design(bad.read_bytes())
