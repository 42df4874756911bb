"""The OpenAPI 3.1 document of ``/api/v1``, written as data next to the routes it describes.

A test checks that every route of the API blueprint is here and that the
document is valid OpenAPI.
"""

from __future__ import annotations

from typing import Any

from ..store.models import JOB_STATES
from .fields import CONSENT_WORDS

TEXT = {
    "type": "object",
    "description": "A message in French and English.",
    "properties": {"fr": {"type": "string"}, "en": {"type": "string"}},
    "required": ["fr", "en"],
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any], media: str = "application/json", required: bool = True):
    return {"required": required, "content": {media: {"schema": schema}}}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


ERROR = _json(_ref("Error"), "Error, with a message for people")
#: What every door that takes a file may answer besides 400.
UPLOAD_ERRORS = {
    "413": ERROR,
    "422": _json(_ref("Error"), "The file cannot be read as a design"),
    "503": _json(_ref("Error"), "Every parse slot is busy: try again after Retry-After seconds"),
}
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
#: The maker's name and contact, in the API's job and quote requests.
MAKER = {
    "name": {"type": "string"},
    "email": {"type": "string"},
    "phone": {"type": "string"},
    "locale": {"type": "string", "enum": ["fr", "en"]},
}
#: The answer to a job's creation: its token and the maker's page.
JOB_LINK = _object(
    {"token": {"type": "string"}, "url": {"type": "string"}, "state": {"type": "string"}},
    ["token", "url", "state"],
)
STAFF = [{"bearerAuth": []}]
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}
SITE = {
    "name": "site",
    "in": "query",
    "description": "a site id (`GET /sites`); staff may only name their own sites",
    "schema": {"type": "string"},
}
FORBIDDEN = _json(_ref("Error"), "The job or site is another site's than the token holder's")

_ACTIONS = {
    "approve": ("Approve a job in review", {"note": {"type": "string"}}, []),
    "reject": (
        "Reject a job (the reason is shown to the maker)",
        {"reason": {"type": "string"}},
        ["reason"],
    ),
    "override": (
        "Override the prototype/series verdict, with a note",
        {"kind": {"type": "string", "enum": ["prototype", "series"]}, "note": {"type": "string"}},
        ["kind", "note"],
    ),
    "replan": (
        "Plan again with other options, copies or material",
        {
            "options": {"type": "object", "additionalProperties": True},
            "copies": {"type": "integer", "minimum": 1},
            "material": {"type": "string"},
        },
        [],
    ),
    "dispatch": ("Send the approved job to its machine (queued, retried)", {}, []),
    "done": (
        "Mark done, recording the actual machine time and material "
        "(the time may be left out when the machine's host reported it)",
        {
            "actual_time_min": {"type": "number", "minimum": 0},
            "actual_material": {"type": "number", "minimum": 0},
            "note": {"type": "string"},
            "keep_offcut": {
                "type": "boolean",
                "description": "store what is left of the job's offcut as a new piece",
            },
        },
        [],
    ),
    "cancel": ("Cancel the job", {"reason": {"type": "string"}}, []),
    "note": (
        "Write to the maker: kept in the job's history and sent by e-mail",
        {"note": {"type": "string"}},
        ["note"],
    ),
}


def _action_path(name: str) -> dict[str, Any]:
    summary, properties, required = _ACTIONS[name]
    return {
        "post": {
            "operationId": f"staff_job_{name}",
            "summary": summary,
            "tags": ["staff"],
            "security": STAFF,
            "parameters": [JOB_ID],
            "requestBody": _body(_object(properties, required), required=bool(required)),
            "responses": {
                "200": _json(_ref("StaffJob"), "The job after the action"),
                "401": ERROR,
                "404": ERROR,
                "409": ERROR,
            },
        }
    }


def _lab_paths() -> dict[str, Any]:
    """Stock and offcuts, and the lab's reports."""
    date = {"type": "string", "format": "date"}
    return {
        "/staff/stock": {
            "get": {
                "operationId": "stock_list",
                "summary": "Pieces kept per material (offcuts, remnants)",
                "tags": ["staff"],
                "security": STAFF,
                "parameters": [{"name": "material", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": _json(_object({"pieces": {"type": "array", "items": _ref("Piece")}})),
                    "401": ERROR,
                },
            },
            "post": {
                "operationId": "stock_add",
                "summary": "Record a piece: width and height, or an outline for an odd one",
                "tags": ["staff"],
                "security": STAFF,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewPiece")}},
                },
                "responses": {
                    "201": _json(_ref("Piece"), "The piece, with its id"),
                    "400": ERROR,
                    "401": ERROR,
                },
            },
        },
        "/staff/stock/{piece_id}": {
            "delete": {
                "operationId": "stock_delete",
                "summary": "Remove a piece from the stock",
                "tags": ["staff"],
                "security": STAFF,
                "parameters": [
                    {
                        "name": "piece_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {"204": {"description": "Removed"}, "401": ERROR, "404": ERROR},
            }
        },
        "/staff/reports": {
            "get": {
                "operationId": "staff_reports",
                "summary": "The lab's activity over a period, per machine and material",
                "description": "Jobs created in the period; times, material and the value "
                "given count the jobs among them that are done. `format=csv` gives CSV in "
                "French spreadsheet conventions (semicolons, decimal commas), with "
                "`dialect=standard` standard CSV.",
                "tags": ["staff"],
                "security": STAFF,
                "parameters": [
                    {"name": "from", "in": "query", "schema": date},
                    {"name": "to", "in": "query", "schema": date},
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["json", "csv"]},
                    },
                    {
                        "name": "dialect",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["fr", "standard"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The report",
                        "content": {
                            "application/json": {"schema": _ref("Report")},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "400": ERROR,
                    "401": ERROR,
                },
            }
        },
    }


def _lab_schemas() -> dict[str, Any]:
    outline = {
        "type": "array",
        "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        "minItems": 3,
    }
    count = {"type": "integer", "minimum": 0}
    seconds = {"type": "number", "minimum": 0}
    # What a report counts, per machine and material and in total.
    activity = {
        "jobs": count,
        "prototypes": count,
        "series": count,
        "rejected": count,
        "machine_time_s": seconds,
        "actual_time_s": seconds,
        "free_value_eur": {"type": "number"},
    }
    return {
        "NewPiece": _object(
            {
                "material": {"type": "string"},
                "width_mm": {"type": "number", "exclusiveMinimum": 0},
                "height_mm": {"type": "number", "exclusiveMinimum": 0},
                "outline_mm": outline,
                "count": {"type": "integer", "minimum": 1},
                "note": {"type": "string", "description": "where it is stored"},
            },
            ["material"],
        ),
        "Piece": _object(
            {
                "id": {"type": "integer"},
                "material": {"type": "string"},
                "width_mm": {"type": ["number", "null"]},
                "height_mm": {"type": ["number", "null"]},
                "outline_mm": {"oneOf": [outline, {"type": "null"}]},
                "count": {"type": "integer"},
                "note": {"type": "string"},
                "source_job_id": {"type": ["integer", "null"]},
            },
            ["id", "material", "count"],
        ),
        "Report": _object(
            {
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "rows": {
                    "type": "array",
                    "items": _object(
                        {
                            "machine": {"type": "string"},
                            "material": {"type": "string"},
                            **activity,
                            "material_quantity": {"type": "number"},
                            "unit": {"type": "string"},
                        }
                    ),
                },
                "totals": _object({**activity, "makers": count}),
                "rejections": {"type": "array", "items": {"type": "object"}},
            },
            ["from", "to", "rows", "totals"],
        ),
    }


def _sites_path() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "sites",
            "summary": "The lab's sites, their machines and the work waiting at each",
            "tags": ["maker"],
            "responses": {
                "200": _json(_object({"sites": {"type": "array", "items": _ref("Site")}}))
            },
        }
    }


def _add_site_rules(paths: dict[str, Any]) -> None:
    """Lists take a ``site`` filter; a staff route on a job or a site may answer 403."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            params = operation.setdefault("parameters", [])
            listing = method == "get" and path in ("/machines", "/staff/jobs", "/staff/stock")
            if listing or path == "/staff/reports":
                params.append(SITE)
            if "security" in operation and (JOB_ID in params or SITE in params):
                operation["responses"]["403"] = FORBIDDEN
            if not params:
                del operation["parameters"]


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "tags": ["meta"],
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/machines": {
            "get": {
                "operationId": "machines",
                "summary": "Machines, the materials each takes and the options of its plugin",
                "tags": ["maker"],
                "responses": {
                    "200": _json(_object({"machines": {"type": "array", "items": _ref("Machine")}}))
                },
            }
        },
        "/jobs": {
            "post": {
                "operationId": "create_job",
                "summary": "Upload a design and ask for a job (what the upload form does)",
                "tags": ["maker"],
                "requestBody": _body(
                    _object(
                        {
                            "file": {"type": "string", "format": "binary"},
                            "machine": {"type": "string"},
                            "material": {"type": "string"},
                            "copies": {"type": "integer", "minimum": 1},
                            "options": {
                                "type": "string",
                                "description": "plugin options as a JSON object",
                            },
                            **MAKER,
                            "consent": {"type": "string", "enum": list(CONSENT_WORDS)},
                        },
                        ["file", "machine", "material", "name", "consent"],
                    ),
                    "multipart/form-data",
                ),
                "responses": {"201": _json(JOB_LINK, "Job created and queued"), "400": ERROR}
                | UPLOAD_ERRORS,
            }
        },
        "/jobs/{token}": {
            "get": {
                "operationId": "job_status",
                "summary": "A job as its maker sees it (the token is the secret link)",
                "tags": ["maker"],
                "parameters": [TOKEN],
                "responses": {"200": _json(_ref("PublicJob")), "404": ERROR},
            }
        },
        "/staff/jobs": {
            "get": {
                "operationId": "staff_jobs",
                "summary": "All jobs, optionally by state and machine",
                "tags": ["staff"],
                "security": STAFF,
                "parameters": [
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"type": "string", "enum": list(JOB_STATES)},
                    },
                    {"name": "machine", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(_object({"jobs": {"type": "array", "items": {"type": "object"}}})),
                    "400": ERROR,
                    "401": ERROR,
                },
            }
        },
        "/staff/jobs/{job_id}": {
            "get": {
                "operationId": "staff_job_detail",
                "summary": "A job with the maker's contact, audit trail and files",
                "tags": ["staff"],
                "security": STAFF,
                "parameters": [JOB_ID],
                "responses": {"200": _json(_ref("StaffJob")), "401": ERROR, "404": ERROR},
            }
        },
        "/staff/jobs/{job_id}/files/{artifact_id}": {
            "get": {
                "operationId": "staff_file",
                "summary": "Download a machine file of the job",
                "tags": ["staff"],
                "security": STAFF,
                "parameters": [
                    JOB_ID,
                    {
                        "name": "artifact_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    "401": ERROR,
                    "404": ERROR,
                },
            }
        },
    }
    for name in _ACTIONS:
        paths[f"/staff/jobs/{{job_id}}/{name}"] = _action_path(name)
    paths.update(_lab_paths())
    paths["/sites"] = _sites_path()
    _add_site_rules(paths)
    paths.update(_quote_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fabserver API",
            "version": "1",
            "description": "Jobs of a fablab: makers upload designs; staff review, approve, "
            "dispatch and close them. Staff routes need `Authorization: Bearer <token>` "
            "(`fabserver add-staff NAME --api-token`).",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Text": TEXT,
                **_lab_schemas(),
                **_quote_schemas(),
                "Error": _object({"error": _ref("Text")}, ["error"]),
                "Machine": _object(
                    {
                        "id": {"type": "string"},
                        "name": _ref("Text"),
                        "site": {"type": "string"},
                        "plugin": {"type": "string"},
                        "accepts": {"type": "array", "items": {"type": "string"}},
                        "work_area_mm": {"type": "array", "items": {"type": "number"}},
                        "materials": {"type": "array", "items": {"type": "object"}},
                        "options": {"type": "array", "items": {"type": "object"}},
                    }
                ),
                "Site": _object(
                    {
                        "id": {"type": "string"},
                        "name": _ref("Text"),
                        "address": {"type": "string"},
                        "opening_hours": {"oneOf": [_ref("Text"), {"type": "null"}]},
                        "contact": {"type": "object"},
                        "machines": {"type": "array", "items": {"type": "string"}},
                        "queue": {
                            "type": "object",
                            "description": "jobs not done yet and their estimated machine time",
                            "properties": {
                                "jobs": {"type": "integer"},
                                "machine_time_s": {"type": "number"},
                            },
                        },
                    },
                    ["id", "name", "machines"],
                ),
                "PublicJob": _object(
                    {
                        "token": {"type": "string"},
                        "site": {"type": "string", "description": "the site of the machine"},
                        "state": {"type": "string", "enum": list(JOB_STATES)},
                        "state_label": _ref("Text"),
                        "progress": {"type": "number", "minimum": 0, "maximum": 1},
                        "stage": {"type": "string"},
                        "estimate": {"type": ["object", "null"]},
                        "verdict": {"type": ["object", "null"]},
                        "warnings": {"type": "array", "items": _ref("Text")},
                        "error": {"oneOf": [_ref("Text"), {"type": "null"}]},
                        "rejection_reason": {"type": ["string", "null"]},
                        "stock": {
                            "description": "the offcut the job was planned on",
                            "oneOf": [
                                _object(
                                    {
                                        "piece_id": {"type": "integer"},
                                        "area_mm2": {"type": "number"},
                                        "label": _ref("Text"),
                                    }
                                ),
                                {"type": "null"},
                            ],
                        },
                        "history": {"type": "array", "items": {"type": "object"}},
                        "files_removed_at": {
                            "type": ["string", "null"],
                            "format": "date-time",
                            "description": "when retention removed the job's files",
                        },
                    },
                    ["token", "state", "progress"],
                ),
                "StaffJob": {
                    "allOf": [
                        _ref("PublicJob"),
                        _object(
                            {
                                "id": {"type": "integer"},
                                "maker": {"type": "object"},
                                "audit": {"type": "array", "items": {"type": "object"}},
                                "files": {"type": "array", "items": {"type": "object"}},
                                "error_detail": {"type": ["string", "null"]},
                                "actual": {
                                    "type": "object",
                                    "description": "What really happened: read from the "
                                    "machine's host after the print, or typed by staff at done",
                                    "properties": {
                                        "time_s": {"type": ["number", "null"]},
                                        "material_quantity": {"type": ["number", "null"]},
                                        "unit": {"type": ["string", "null"]},
                                        "source": {
                                            "enum": ["moonraker", "octoprint", "staff", None]
                                        },
                                    },
                                },
                            }
                        ),
                    ]
                },
            },
        },
    }


_CHOICE = {
    "machine": {"type": "string"},
    "material": {"type": "string", "description": "the machine's first material when left out"},
    "copies": {"type": "integer", "minimum": 1},
    "options": {"type": "object", "description": "the machine's plugin options"},
    "operations": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "colour key (stroke:#ff0000, fill:#000000, layer:NAME, none) → operation",
    },
}


def _quote_paths() -> dict[str, Any]:
    return {
        "/quotes": {
            "post": {
                "operationId": "create_quote",
                "summary": "Upload a design without choosing a machine: every machine that "
                "takes it gets a draft plan (queued; poll the quote)",
                "tags": ["maker"],
                "requestBody": _body(
                    _object({"file": {"type": "string", "format": "binary"}}, ["file"]),
                    "multipart/form-data",
                ),
                "responses": {
                    "201": _json(_ref("Quote"), "The quote, its design and its drafts"),
                    "400": ERROR,
                }
                | UPLOAD_ERRORS,
            }
        },
        "/quotes/{token}": {
            "get": {
                "operationId": "quote_status",
                "summary": "A quote: what the server read and every machine's draft",
                "tags": ["maker"],
                "parameters": [TOKEN],
                "responses": {"200": _json(_ref("Quote")), "404": ERROR},
            }
        },
        "/quotes/{token}/plans": {
            "post": {
                "operationId": "quote_replan",
                "summary": "Plan one machine's row again with another material, copies, "
                "options or operations (queued; poll the quote)",
                "tags": ["maker"],
                "parameters": [TOKEN],
                "requestBody": _body(_object(_CHOICE, ["machine"])),
                "responses": {
                    "202": _json(_ref("QuotePlan"), "The row, queued"),
                    "400": ERROR,
                    "404": ERROR,
                },
            }
        },
        "/quotes/{token}/submit": {
            "post": {
                "operationId": "quote_submit",
                "summary": "Send a row as a job: it keeps the draft's plan and goes to review",
                "tags": ["maker"],
                "parameters": [TOKEN],
                "requestBody": _body(
                    _object(
                        {**_CHOICE, **MAKER, "consent": {"type": ["boolean", "string"]}},
                        ["machine", "name", "consent"],
                    )
                ),
                "responses": {"201": _json(JOB_LINK, "The job"), "400": ERROR, "404": ERROR},
            }
        },
        "/jobs/{token}/revise": {
            "post": {
                "operationId": "job_revise",
                "summary": "Change a job not yet approved (machine, material, copies, "
                "options): it is planned again",
                "tags": ["maker"],
                "parameters": [TOKEN],
                "requestBody": _body(
                    _object({k: v for k, v in _CHOICE.items() if k != "operations"})
                ),
                "responses": {
                    "202": _json(
                        _object(
                            {
                                "token": {"type": "string"},
                                "state": {"type": "string"},
                            }
                        ),
                        "The job, queued",
                    ),
                    "404": ERROR,
                    "409": ERROR,
                },
            }
        },
    }


def _quote_schemas() -> dict[str, Any]:
    text = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "QuotePlan": _object(
            {
                "id": {"type": "integer"},
                "machine": {"type": "string"},
                "material": {"type": "string"},
                "copies": {"type": "integer"},
                "options": {"type": "object"},
                "operations": {"type": "object", "additionalProperties": {"type": "string"}},
                "state": {"type": "string", "enum": ["queued", "planning", "done", "failed"]},
                "machine_time_s": {"type": ["number", "null"]},
                "materials": {"type": "array", "items": {"type": "object"}},
                "cost_eur": {"type": ["number", "null"]},
                "verdict": {"type": ["object", "null"]},
                "warnings": {"type": "array", "items": text},
                "error": {"type": ["object", "null"]},
            },
            ["machine", "material", "copies", "options", "operations", "state"],
        ),
        "Quote": _object(
            {
                "id": {"type": "string"},
                "design": _object(
                    {
                        "kind": {"type": "string"},
                        "size_mm": {"type": "array", "items": {"type": "number"}},
                        "units": {"type": ["string", "null"]},
                        "warnings": {"type": "array", "items": text},
                        "colours": {
                            "type": "array",
                            "items": _object(
                                {
                                    "key": {"type": "string"},
                                    "label": text,
                                    "swatch": {"type": ["string", "null"]},
                                    "length_mm": {"type": "number"},
                                    "area_mm2": {"type": "number"},
                                    "operations": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                        "description": "machine id → operation",
                                    },
                                }
                            ),
                        },
                    },
                    ["kind", "size_mm", "warnings", "colours"],
                ),
                "plans": {"type": "array", "items": _ref("QuotePlan")},
                "limits": {"type": "object"},
            },
            ["id", "design", "plans"],
        ),
    }
