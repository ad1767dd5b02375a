"""The caller of a REST request: HTTP Basic against the users of the settings, or — with no users
configured — everyone is the administrator (CONTRACT §8)."""
from __future__ import annotations

import base64
import binascii

from flask import current_app, request

from engine.errors import Unauthenticated
from engine.security.authorization import ANONYMOUS_ADMIN, Principal


def current_principal() -> Principal:
    authenticator = current_app.extensions["authenticator"]
    if not authenticator.enabled:
        return ANONYMOUS_ADMIN
    name, password = _basic_credentials()
    return authenticator.authenticate(name, password)


def _basic_credentials() -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthenticated("this service needs HTTP Basic credentials")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("the Basic credentials do not decode") from None
    name, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthenticated("the Basic credentials do not decode")
    return name, password
