"""Persistence: the database models, their migrations and the content-addressed file store.

Nothing here knows about Flask or the queue; the web app and the workers both
open the store through :func:`open_database` and :class:`FileStore`.
"""

from .db import Database, open_database
from .files import FileStore
from .models import (
    ApiToken,
    Artifact,
    AuditEvent,
    Base,
    Design,
    Job,
    LoginAttempt,
    StaffSession,
    StaffUser,
    Upload,
)

__all__ = [
    "ApiToken",
    "Artifact",
    "AuditEvent",
    "Base",
    "Database",
    "Design",
    "FileStore",
    "Job",
    "LoginAttempt",
    "StaffSession",
    "StaffUser",
    "Upload",
    "open_database",
]
