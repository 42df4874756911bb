"""What the HTTP connectors (OctoPrint, Moonraker) share: settings, secrets, errors.

API keys never sit in profiles (they are committed, copied, shown): a profile names
the environment variable that holds the key, and ``check()`` makes sure it is set.
HTTP failures are sorted into what a retry may fix (network, 5xx, busy) and what
it will not (bad key, refused file), each with a message for staff.
"""

from __future__ import annotations

import os
import re
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import msgspec
import requests

from ..i18n import Text
from ..profiles import KeyProblem, Positive
from .base import Connector, ConnectorSettings, DispatchError, TransientDispatchError

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
DEFAULT_PORTS = {"http": 80, "https": 443}
# What a web address may carry around it and inside it that is not part of it
# (WHATWG URL: C0 controls and spaces at the ends; tabs and line breaks anywhere).
_AROUND = "".join(chr(c) for c in range(0x21))
_INSIDE = re.compile(r"[\t\n\r]")

# Statuses a retry may fix: conflict (machine busy), throttling, server trouble.
TRANSIENT_STATUSES = frozenset({408, 409, 423, 425, 429, 500, 502, 503, 504})


def http_url(text: str) -> str:
    """``text`` as an http(s) address in its normal form; :class:`KeyProblem` on ``url``
    when it is not one.

    The form is the one a browser's address bar writes: spaces around removed, scheme
    and host in lower case, an international host name in IDNA, unsafe characters of
    the path percent-encoded, the scheme's default port left out, ``/`` as the path of
    a bare host (``HTTP://OctoPi.lan:80`` → ``http://octopi.lan/``). Requests does the
    parsing (the same parser that later sends the requests); what it does not do,
    scheme, slashes and default port, is done here.
    """
    text = _INSIDE.sub("", text.strip(_AROUND))
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in DEFAULT_PORTS:
        raise KeyProblem("url", f"'{text}' is not a web address: begin it with http:// or https://")
    # As in a browser, any number of slashes (or backslashes) may follow "http:".
    address = scheme + "://" + rest.lstrip("/\\")
    try:
        host = urlsplit(address).hostname
        prepared = requests.PreparedRequest()
        if host:
            prepared.prepare_url(address, None)
    except (requests.RequestException, ValueError) as error:
        raise KeyProblem("url", f"'{text}' is not a valid web address ({error})") from None
    if not host:
        raise KeyProblem("url", f"'{text}' names no host: give it after {scheme}://")
    assert prepared.url is not None  # prepare_url always sets it
    parts = urlsplit(prepared.url)
    if parts.port == DEFAULT_PORTS[scheme]:
        return urlunsplit(parts._replace(netloc=parts.netloc.removesuffix(f":{parts.port}")))
    return prepared.url


class HttpSettings(ConnectorSettings):
    url: str  # http:// or https://, kept in its normal form (see http_url)
    api_key_env: str | None = None
    timeout: Positive = 30.0  # seconds without an answer
    connect_timeout: Positive = 5.0
    verify_tls: bool = True
    # After a job has started, how often the server asks how it ended (its real duration).
    follow_interval: Positive = 60.0  # seconds

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "url", http_url(self.url))


HttpSettingsT = TypeVar("HttpSettingsT", bound=HttpSettings)


class UnreachableError(TransientDispatchError):
    """The server could not be reached at all (refused, no route, no name)."""


class NoAnswerError(TransientDispatchError):
    """The request reached the server but no answer came in time (it may still act on it)."""


class HttpConnector(Connector[HttpSettingsT]):
    """Base of connectors that talk to a machine's web API."""

    service: str = "HTTP"  # shown in messages: "OctoPrint", "Moonraker"
    api_key_header = "X-Api-Key"
    api_key_required = True

    def check(self) -> None:
        super().check()
        name = self.config.api_key_env
        if name is None:
            if self.api_key_required:
                raise self._fail("api_key_env", "name the environment variable holding the API key")
            return
        if not ENV_NAME.match(name):
            raise self._fail(
                "api_key_env", f"'{name}' is not an environment variable name (A-Z, 0-9, _)"
            )
        if not os.environ.get(name):
            raise self._fail("api_key_env", f"environment variable {name} is not set")

    def follow_interval(self) -> float | None:
        if type(self).outcome is Connector.outcome:
            return None  # this connector cannot tell how a job ended
        return self.config.follow_interval

    @property
    def base_url(self) -> str:
        return self.config.url.rstrip("/")

    def _session(self) -> requests.Session:
        session = requests.Session()
        config = self.config
        name = config.api_key_env
        if name:
            session.headers[self.api_key_header] = os.environ.get(name, "")
        session.verify = config.verify_tls
        return session

    def request(
        self, method: str, path: str, read_timeout: float | None = None, **kwargs: Any
    ) -> requests.Response:
        """One call to the API; raises the right DispatchError on any failure.

        ``read_timeout`` shortens the wait for the answer (``NoAnswerError`` past it).
        """
        config = self.config
        timeout = (config.connect_timeout, read_timeout or config.timeout)
        url = self.base_url + path
        try:
            with self._session() as session:
                response = session.request(method, url, timeout=timeout, **kwargs)
        except requests.ReadTimeout as error:
            raise NoAnswerError(
                Text(
                    f"{self.service} n'a pas répondu à temps à {self.base_url} ; la demande "
                    "lui est parvenue et peut encore prendre effet.",
                    f"{self.service} did not answer in time at {self.base_url}; the request "
                    "reached it and may still take effect.",
                ),
                detail=f"{method} {url}: {error!r}",
            ) from error
        except (requests.ConnectionError, requests.Timeout) as error:
            raise UnreachableError(
                Text(
                    f"{self.service} ne répond pas à {self.base_url} : vérifiez que la "
                    "machine et son serveur sont allumés et sur le réseau.",
                    f"{self.service} does not answer at {self.base_url}: check that the "
                    "machine and its server are on and on the network.",
                ),
                detail=f"{method} {url}: {error!r}",
            ) from error
        except requests.RequestException as error:
            raise DispatchError(
                Text(
                    f"Requête vers {self.service} impossible : {error}",
                    f"Cannot reach {self.service}: {error}",
                ),
                detail=f"{method} {url}: {error!r}",
            ) from error
        if response.status_code >= 400:
            raise self.http_error(response, method, url)
        return response

    def server_says(self, response: requests.Response) -> str:
        """The server's own words about an error (a connector may read its error format)."""
        return _server_says(response)

    def http_error(self, response: requests.Response, method: str, url: str) -> DispatchError:
        status = response.status_code
        said = self.server_says(response)
        detail = f"{method} {url}: HTTP {status}: {said}"
        if status in (401, 403):
            key = self.config.api_key_env
            if key is None:
                # No key configured (Moonraker trusting the lab's network): the server
                # does not trust this address. Saying "check None" would help nobody.
                return DispatchError(
                    Text(
                        f"{self.service} refuse la demande (HTTP {status}) : il ne fait pas "
                        "confiance à l'adresse de ce serveur et aucune clé d'API n'est "
                        f"réglée. Ajoutez ce serveur aux clients de confiance de "
                        f"{self.service}, ou nommez dans « api_key_env » la variable "
                        "d'environnement qui contient une clé.",
                        f"{self.service} refuses the request (HTTP {status}): it does not "
                        "trust this server's address and no API key is set. Add this server "
                        f"to {self.service}'s trusted clients, or name in 'api_key_env' the "
                        "environment variable holding a key.",
                    ),
                    detail=detail,
                )
            return DispatchError(
                Text(
                    f"{self.service} refuse la clé d'API (HTTP {status}) : vérifiez la "
                    f"variable {key} et les droits de l'utilisateur.",
                    f"{self.service} refuses the API key (HTTP {status}): check "
                    f"{key} and the user's permissions.",
                ),
                detail=detail,
            )
        if status == 404:
            return DispatchError(
                Text(
                    f"{self.service} : adresse inconnue ({url}) ; vérifiez « url » dans le profil.",
                    f"{self.service}: unknown address ({url}); check 'url' in the profile.",
                ),
                detail=detail,
            )
        if status == 413:
            return DispatchError(
                Text(
                    f"{self.service} refuse le fichier : trop gros.",
                    f"{self.service} refuses the file: too large.",
                ),
                detail=detail,
            )
        kind = TransientDispatchError if status in TRANSIENT_STATUSES else DispatchError
        return kind(
            Text(
                f"{self.service} a répondu HTTP {status} : {said}",
                f"{self.service} answered HTTP {status}: {said}",
            ),
            detail=detail,
        )


def _server_says(response: requests.Response) -> str:
    """The server's own words about an error, short: JSON ``error`` or body text."""
    try:
        body = response.json()
    except ValueError:
        text = re.sub(r"<[^>]+>", " ", response.text)
        return " ".join(text.split())[:200]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:200]
    return str(body)[:200]
