"""The runtime a request is served with (one per app, built by ``create_app``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from ..jobs.context import Runtime


def runtime_of(app: Flask | None = None) -> Runtime:
    """The app's runtime; the current request's app by default."""
    return (app or current_app).extensions["fabserver"]
