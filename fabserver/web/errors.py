"""Error pages that tell makers what happened and what to do, never a stack trace.

Under ``/api/`` the same errors come back as JSON ``{"error": {"fr", "en"}}``.
"""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..errors import DesignError
from ..i18n import Text
from ..jobs.intake import ServerBusy
from ..store.faults import STORAGE_FAULT, is_storage_fault
from ..store.files import StoredFileMissing
from .fields import MissingFile

csrf = CSRFProtect()

MESSAGES = {
    400: Text(
        "La demande est incomplète ou a expiré. Rechargez la page et recommencez.",
        "The request was incomplete or has expired. Reload the page and try again.",
    ),
    403: Text("Accès réservé à l'équipe du lab.", "Staff only."),
    404: Text("Page introuvable. Vérifiez le lien.", "Page not found. Check the link."),
    405: Text("Action non permise ici.", "This action is not allowed here."),
    410: Text(
        "Ce fichier n'est plus conservé : les fichiers des demandes terminées sont "
        "supprimés après un temps. Demandez à l'équipe si vous en avez besoin.",
        "This file is no longer kept: the files of finished jobs are removed after a "
        "while. Ask the staff if you need it.",
    ),
    500: Text(
        "Une erreur inattendue s'est produite ; l'équipe peut voir les détails.",
        "Something unexpected went wrong; the staff can see the details.",
    ),
}


def too_large_message() -> Text:
    limit = current_app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
    return Text(
        f"Fichier trop gros : la limite est de {limit:.0f} Mo. Réduisez le fichier "
        "(moins de triangles, moins de détails) ou demandez à l'équipe.",
        f"File too large: the limit is {limit:.0f} MB. Make the file smaller "
        "(fewer triangles, less detail) or ask the staff.",
    )


#: Set in the WSGI environ by the server when the body was refused before it was read.
TOO_LARGE_KEY = "fabserver.body_too_large"
STORAGE_RETRY_AFTER_S = 120


def error_response(status: int, message: Text):
    if request.path.startswith("/api/"):
        return jsonify(error=message.to_dict()), status
    return render_template("error.html", status=status, message=message), status


def _refuse_oversize_body() -> None:
    """The server stopped reading a body beyond the limit: answer 413 here, before any
    view (or the CSRF check) looks for a form that never arrived."""
    if request.environ.get(TOO_LARGE_KEY):
        raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    app.before_request(_refuse_oversize_body)  # first, so it runs before the CSRF check
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, MESSAGES[400])

    @app.errorhandler(413)
    def too_large(exc):
        return error_response(413, too_large_message())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        return error_response(code, MESSAGES.get(code, Text(exc.name, exc.name)))

    @app.errorhandler(MissingFile)
    def no_file(exc: MissingFile):
        return error_response(400, exc.message)

    @app.errorhandler(ServerBusy)
    def busy(exc: ServerBusy):
        # Every parse slot taken: the file is stored, the maker comes back in a moment.
        response, status = error_response(503, exc.message)
        return response, status, {"Retry-After": str(exc.retry_after_s)}

    @app.errorhandler(DesignError)
    def unreadable(exc: DesignError):
        """An upload that cannot be read as a design: what is wrong with it (422)."""
        if request.path.startswith("/api/"):
            return error_response(422, exc.message)
        file = request.files.get("file")
        filename = file.filename if file is not None else ""
        return render_template("maker/broken.html", message=exc.message, filename=filename), 422

    @app.errorhandler(StoredFileMissing)
    def gone(exc: StoredFileMissing):
        return error_response(410, MESSAGES[410])

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if is_storage_fault(exc):
            # Disk full or read-only: the transaction rolled back and the file store
            # writes atomically, so nothing stored is lost; the maker may try again.
            app.logger.error("storage refuses writes on %s: %r", request.path, exc)
            response, status = error_response(503, STORAGE_FAULT)
            return response, status, {"Retry-After": str(STORAGE_RETRY_AFTER_S)}
        app.logger.exception("unexpected error on %s", request.path)
        return error_response(500, MESSAGES[500])
