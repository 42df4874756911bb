"""3MF → triangles in millimetres, with the standard library's zipfile and ElementTree.

A 3MF is a ZIP holding plain XML (3MF core specification): objects with a mesh
(``vertex`` and ``triangle`` elements) or components (other objects placed by a
transform), and build items placing objects on the plate. Reading that takes a
hand-written page here; trimesh's reader needs lxml, networkx and a scene graph
and took most of a second more than the same model as STL.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree

import numpy as np

from .loader import design_error

_RELS = "_rels/.rels"
_MODEL_TYPE = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
_DEFAULT_MODEL = "3D/3dmodel.model"
_PRODUCTION_PATH = "{http://schemas.microsoft.com/3dmanufacturing/production/2015/06}path"

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
    """What the file holds: triangles of every build item, already placed; the unit."""

    triangles: np.ndarray
    unit: str
    objects: int


def read_3mf(data: bytes) -> ThreeMF:
    """Triangles of every build item, placed by its transforms, in the file's unit."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        root_part = _root_model_part(archive)
        models: dict[str, tuple[dict[str, _Object], list[tuple[str, np.ndarray]], str]] = {}
        _, build, unit = _model(archive, root_part, models)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError) as exc:
        raise design_error(
            "Ce fichier 3MF est illisible (archive ou XML endommagé). Exportez-le à nouveau,"
            " ou en STL.",
            "This 3MF file cannot be read (damaged archive or XML). Export it again, or as STL.",
            detail=f"{type(exc).__name__}: {exc}",
        ) from None
    pieces: list[np.ndarray] = []

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
            corners = found.vertices @ matrix[:3, :3] + matrix[3, :3]
            pieces.append(corners[found.faces])
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
    return ThreeMF(np.concatenate(pieces), unit, len(pieces))


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
    """Objects, build items and unit of one model part (cached in ``models``)."""
    root = ElementTree.fromstring(archive.read(part))
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    unit = root.get("unit", "millimeter")
    objects: dict[str, _Object] = {}
    resources = root.find(f"{namespace}resources")
    for element in resources.iter(f"{namespace}object") if resources is not None else ():
        found = _Object()
        mesh = element.find(f"{namespace}mesh")
        if mesh is not None:
            found.vertices, found.faces = _mesh_arrays(mesh, namespace)
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


def _mesh_arrays(mesh: ElementTree.Element, namespace: str) -> tuple[np.ndarray, np.ndarray]:
    vertex_tag, triangle_tag = f"{namespace}vertex", f"{namespace}triangle"
    xyz = [(v.get("x"), v.get("y"), v.get("z")) for v in mesh.iter(vertex_tag)]
    corners = [(t.get("v1"), t.get("v2"), t.get("v3")) for t in mesh.iter(triangle_tag)]
    vertices = np.array(xyz, dtype=np.float64).reshape(-1, 3)
    faces = np.array(corners, dtype=np.int64).reshape(-1, 3)
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError("a triangle refers to a vertex that does not exist")
    return vertices, faces


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
