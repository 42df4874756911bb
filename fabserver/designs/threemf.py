"""3MF → a mesh in millimetres, with the standard library's zipfile and ElementTree, and numpy.

A 3MF is a ZIP holding plain XML (3MF core specification): objects with a mesh
(``vertex`` and ``triangle`` elements) or components (other objects placed by a
transform), and build items placing objects on the plate. Reading that takes a
hand-written page here; trimesh's reader needs lxml, networkx and a scene graph
and took most of a second more than the same model as STL.
"""

from __future__ import annotations

import io
import posixpath
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree

import numpy as np

from .loader import design_error

_RELS = "_rels/.rels"
_MODEL_TYPE = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
_DEFAULT_MODEL = "3D/3dmodel.model"
_PRODUCTION_PATH = "{http://schemas.microsoft.com/3dmanufacturing/production/2015/06}path"

_MESH_OPEN = re.compile(rb"<((?:[\w.-]+:)?)mesh\b([^>]*?)(/?)>")
_BLOCK = "fabserver-mesh-block"

UNIT_TO_MM = {
    "micron": 0.001,
    "millimeter": 1.0,
    "centimeter": 10.0,
    "inch": 25.4,
    "foot": 304.8,
    "meter": 1000.0,
}
"""The units the 3MF core specification allows, to millimetres."""


@dataclass
class _Object:
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    components: list[tuple[str, str, np.ndarray]] = field(default_factory=list)


@dataclass
class ThreeMF:
    """What the file holds: the mesh of every build item, already placed; the unit.

    ``faces`` index ``vertices`` (as the file does, one piece after the other):
    its triangles are ``vertices[faces]``, never built as such by the loader.
    """

    vertices: np.ndarray
    faces: np.ndarray
    unit: str
    objects: int

    @property
    def triangles(self) -> np.ndarray:
        """``(n, 3, 3)``: the corners of every triangle."""
        return self.vertices[self.faces]


def read_3mf(data: bytes) -> ThreeMF:
    """The mesh of every build item, placed by its transforms, in the file's unit."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        root_part = _root_model_part(archive)
        models: dict[str, tuple[dict[str, _Object], list[tuple[str, np.ndarray]], str]] = {}
        _, build, unit = _model(archive, root_part, models)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError) as exc:
        raise design_error(
            "Ce fichier 3MF n'a pas pu être lu (archive ou XML endommagé). Exportez-le à nouveau,"
            " ou en STL.",
            "This 3MF file could not be read (damaged archive or XML). Export it again, or as STL.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from None
    pieces: list[tuple[np.ndarray, np.ndarray]] = []

    def place(part: str, object_id: str, matrix: np.ndarray, depth: int = 0) -> None:
        if depth > 32:
            raise design_error(
                "Ce fichier 3MF a des composants qui s'incluent eux-mêmes.",
                "This 3MF file has components that include themselves.",
            )
        objects = models[part][0]
        if object_id not in objects:
            raise design_error(
                f"Ce fichier 3MF place l'objet {object_id}, qu'il ne définit pas. Exportez-le"
                " à nouveau.",
                f"This 3MF file places object {object_id}, which it does not define. Export it"
                " again.",
            )
        found = objects[object_id]
        if found.faces is not None and len(found.faces):
            pieces.append((found.vertices @ matrix[:3, :3] + matrix[3, :3], found.faces))
        for comp_part, comp_id, comp_matrix in found.components:
            if comp_part not in models:
                _model(archive, comp_part, models)
            place(comp_part, comp_id, _compose(comp_matrix, matrix), depth + 1)

    try:
        for object_id, matrix in build:
            place(root_part, object_id, matrix)
    except (KeyError, ElementTree.ParseError, ValueError, IndexError) as exc:
        raise design_error(
            "Ce fichier 3MF est incohérent (un composant ou un triangle renvoie à ce qui"
            " n'existe pas). Exportez-le à nouveau, ou en STL.",
            "This 3MF file is inconsistent (a component or triangle refers to something"
            " missing). Export it again, or as STL.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from None
    if not pieces:
        raise design_error(
            "Ce fichier 3MF ne contient aucun triangle.",
            "This 3MF file contains no triangles.",
        )
    offsets = np.cumsum([0] + [len(vertices) for vertices, _ in pieces[:-1]])
    return ThreeMF(
        np.concatenate([vertices for vertices, _ in pieces]),
        np.concatenate(
            [faces + offset for (_, faces), offset in zip(pieces, offsets, strict=True)]
        ),
        unit,
        len(pieces),
    )


def _root_model_part(archive: zipfile.ZipFile) -> str:
    """The model part the package relationships name, else the usual one."""
    try:
        rels = ElementTree.fromstring(archive.read(_RELS))
    except KeyError:
        return _DEFAULT_MODEL
    for rel in rels:
        if rel.get("Type") == _MODEL_TYPE and rel.get("Target"):
            return rel.get("Target", "").lstrip("/")
    return _DEFAULT_MODEL


def _model(
    archive: zipfile.ZipFile,
    part: str,
    models: dict[str, tuple[dict[str, _Object], list[tuple[str, np.ndarray]], str]],
) -> tuple[dict[str, _Object], list[tuple[str, np.ndarray]], str]:
    """Objects, build items and unit of one model part (cached in ``models``).

    The mesh elements, nearly all of the file, are cut out before ElementTree sees
    it and read by numpy straight into arrays (:func:`_mesh_arrays`):
    building an element per vertex and triangle took seconds and hundreds of MiB.
    """
    text = archive.read(part)
    root = ElementTree.fromstring(_without_meshes(text, blocks := []))
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    unit = root.get("unit", "millimeter")
    objects: dict[str, _Object] = {}
    resources = root.find(f"{namespace}resources")
    for element in resources.iter(f"{namespace}object") if resources is not None else ():
        found = _Object()
        mesh = element.find(f"{namespace}mesh")
        if mesh is not None:
            found.vertices, found.faces = _mesh_arrays(text, *blocks[int(mesh.get(_BLOCK, -1))])
        for component in element.iter(f"{namespace}component"):
            target = component.get(_PRODUCTION_PATH)
            comp_part = posixpath.normpath(target.lstrip("/")) if target else part
            found.components.append(
                (comp_part, component.get("objectid", ""), _matrix(component.get("transform")))
            )
        objects[element.get("id", "")] = found
    build = [
        (item.get("objectid", ""), _matrix(item.get("transform")))
        for item in root.iter(f"{namespace}item")
        if item.get(_PRODUCTION_PATH) in (None, "", f"/{part}")
    ]
    models[part] = (objects, build, unit)
    return objects, build, unit


def _without_meshes(text: bytes, blocks: list[tuple[int, int]]) -> bytes:
    """``text`` without the inside of each mesh element, whose place in ``text`` (start, end)
    goes to ``blocks`` (the element keeps its index there)."""
    kept: list[bytes] = []
    position = 0
    while found := _MESH_OPEN.search(text, position):
        prefix, attributes, empty = found.groups()
        if empty:
            body, after = (found.end(), found.end()), found.end()
        else:
            close = b"</" + prefix + b"mesh"
            end = text.find(close, found.end())
            if end < 0:
                raise ValueError("a mesh element is not closed")
            body, after = (found.end(), end), text.index(b">", end) + 1
        kept += [
            text[position : found.start()],
            b'<%smesh%s %s="%d"/>' % (prefix, attributes, _BLOCK.encode(), len(blocks)),
        ]
        blocks.append(body)
        position = after
    kept.append(text[position:])
    return b"".join(kept)


def _mesh_arrays(text: bytes, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces of the inside of one ``mesh`` element, ``text[start:end]``.

    Exporters write ``<vertex x=".." y=".." z=".."/>`` and ``<triangle v1=".."
    v2=".." v3=".."/>``: the values are what lies between the double quotes, read
    by numpy over the bytes (:func:`_quoted_numbers`), in place. Anything else
    in the element (other attributes, another order, single quotes) is read
    element by element.
    """
    split = text.find(b"</vertices>", start, end)
    if split < 0:
        return _mesh_arrays_by_element(text[start:end])
    inside = memoryview(text)
    vertices = _quoted_numbers(inside[start:split], (b"x", b"y", b"z"), np.float64)
    faces = _quoted_numbers(inside[split + 11 : end], (b"v1", b"v2", b"v3"), np.int64)
    if vertices is None or faces is None:
        return _mesh_arrays_by_element(text[start:end])
    return vertices.reshape(-1, 3), _checked(faces.reshape(-1, 3), len(vertices) // 3)


_QUOTE, _EQUALS, _TAG_END = ord('"'), ord("="), ord(">")
_XML_SPACE = np.frombuffer(b" \t\r\n", dtype=np.uint8)
CHUNK_BYTES = 1 << 20
"""Bytes of markup read at a time: the temporaries stay a few MiB whatever the file."""


def _quoted_numbers(
    text: bytes | memoryview, names: tuple[bytes, ...], dtype: type
) -> np.ndarray | None:
    """The values of the attributes ``names``, repeated in that order, as one flat array.

    Every double-quoted value of ``text`` must belong to those attributes, in
    turn (``x="…" y="…" z="…"`` element after element); None when anything
    else is quoted, a value is no number, or a name is out of turn. Read in
    slices of about ``CHUNK_BYTES``, each ending with an element.
    """
    chars = np.frombuffer(text, dtype=np.uint8)
    pieces = []
    low = 0
    while low < len(chars):
        high = low + CHUNK_BYTES
        if high < len(chars):  # on past the end of the element there
            ends = np.flatnonzero(chars[high : high + CHUNK_BYTES] == _TAG_END)
            high = high + int(ends[0]) + 1 if len(ends) else len(chars)
        piece = _slice_numbers(chars[low:high], names, dtype)
        if piece is None:
            return None
        pieces.append(piece)
        low = high
    return np.concatenate(pieces) if pieces else None


def _slice_numbers(chars: np.ndarray, names: tuple[bytes, ...], dtype: type) -> np.ndarray | None:
    """:func:`_quoted_numbers` of whole elements: the values gathered, each with its closing
    quote as separator, and parsed in one call, without per-element Python."""
    quotes = np.flatnonzero(chars == _QUOTE)
    if len(quotes) == 0:  # closing tags, spaces: nothing; attributes in other quotes: None
        return None if (chars == _EQUALS).any() else np.zeros(0, dtype=dtype)
    if len(quotes) % (2 * len(names)):
        return None
    opens, closes = quotes[0::2], quotes[1::2]
    longest = max(len(name) for name in names)
    if opens[0] < longest + 2 or not (chars[opens - 1] == _EQUALS).all():
        return None
    for turn, name in enumerate(names):
        before = opens[turn :: len(names)] - 1 - len(name)  # where the name starts
        for offset, letter in enumerate(name):
            if not (chars[before + offset] == letter).all():
                return None
        if not np.isin(chars[before - 1], _XML_SPACE).all():  # "x=", not "ax="
            return None
    spans = closes - opens  # each value and its closing quote
    starts = np.cumsum(spans) - spans
    gathered = chars[np.arange(int(spans.sum())) + np.repeat(opens + 1 - starts, spans)]
    if dtype is np.float64 and (values := _plain_decimals(gathered, starts, spans)) is not None:
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(gathered.tobytes(), dtype=dtype, sep='"')
        except (ValueError, DeprecationWarning):
            return None
    return values if len(values) == len(opens) else None


_DIGIT_ONE_TO = 10 ** np.arange(16, dtype=np.int64)
_TEN_TO = 10.0 ** np.arange(16)
_MINUS, _PLUS, _POINT, _ZERO = (ord(c) for c in "-+.0")


def _plain_decimals(chars: np.ndarray, starts: np.ndarray, spans: np.ndarray) -> np.ndarray | None:
    """Values written as plain decimals (``-1.250``, ``19.689``, ``7``) → float64; None if
    any is not one, or has more than 15 digits.

    Hand-written because numpy's text parser takes about twice as long: with at
    most 15 digits the digits form an integer m below 2**53 and the value is
    ``m / 10**k`` (k digits after the point), both exact doubles, so the one
    correctly rounded division gives the double ``float()`` reads, bit for bit
    (the exact case of correctly rounded decimal reading). ``chars`` holds each
    value followed by one separator; a value starts at ``starts`` and spans
    ``spans`` bytes with its separator.
    """
    digit = chars - np.uint8(_ZERO)  # wraps below "0"
    is_digit = digit < 10
    digits_through = np.zeros(len(chars) + 1, dtype=np.int64)  # digits before each byte
    np.cumsum(is_digit, out=digits_through[1:])
    ends = starts + spans  # one past the separator
    digits = digits_through[ends] - digits_through[starts]
    first = chars[starts]
    negative = first == _MINUS
    signed = negative | (first == _PLUS)
    points = np.flatnonzero(chars == _POINT)
    value_of_point = np.searchsorted(starts, points, side="right") - 1
    point_count = np.bincount(value_of_point, minlength=len(starts))
    others = spans - 1 - digits  # bytes other than digits, separator left out
    if (
        len(starts) == 0
        or digits.min() < 1
        or digits.max() > 15
        or point_count.max(initial=0) > 1
        or not np.array_equal(others, signed + point_count)  # the sign is the first byte
    ):
        return None
    # Each digit times the power of ten of its place in its value's integer m.
    place = np.repeat(digits_through[ends], spans) - digits_through[1:]
    terms = np.where(is_digit, digit * _DIGIT_ONE_TO[np.minimum(place, 15)], 0)
    whole = np.add.reduceat(terms, starts)
    after_point = np.zeros(len(starts), dtype=np.int64)
    after_point[value_of_point] = digits_through[ends[value_of_point]] - digits_through[points]
    values = whole / _TEN_TO[after_point]
    return np.negative(values, where=negative, out=values)


def _mesh_arrays_by_element(block: bytes) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_mesh_arrays` for unusual writers: any attribute order, quotes, prefixes."""
    xyz, corners = [], []
    for _, element in ElementTree.iterparse(io.BytesIO(b"<mesh>" + block + b"</mesh>")):
        name = element.tag.rpartition("}")[2].rpartition(":")[2]
        if name == "vertex":
            xyz.append((element.get("x"), element.get("y"), element.get("z")))
        elif name == "triangle":
            corners.append((element.get("v1"), element.get("v2"), element.get("v3")))
        element.clear()
    vertices = np.array(xyz, dtype=np.float64).reshape(-1, 3)
    faces = np.array(corners, dtype=np.int64).reshape(-1, 3)
    return vertices, _checked(faces, len(vertices))


def _checked(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    if len(faces) and (faces.min() < 0 or faces.max() >= n_vertices):
        raise ValueError("a triangle refers to a vertex that does not exist")
    return faces


def _matrix(transform: str | None) -> np.ndarray:
    """A 3MF ``transform`` (12 numbers, row vectors) as a 4×4 matrix acting on rows."""
    matrix = np.eye(4)
    if transform:
        values = np.array(transform.split(), dtype=np.float64)
        if values.shape != (12,):
            raise ValueError(f"a transform has {len(values)} numbers, not 12")
        matrix[:, :3] = values.reshape(4, 3)
    return matrix


def _compose(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """``inner`` then ``outer``, for row vectors."""
    return inner @ outer
