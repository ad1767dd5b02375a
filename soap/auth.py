"""The caller of a SOAP request (CONTRACT §8): HTTP Basic, or a WS-Security `UsernameToken` with a
PasswordText password; with no users configured everyone is the administrator."""
from __future__ import annotations

import base64
import binascii

from lxml import etree

from engine.security.authentication import Authenticator
from engine.errors import Unauthenticated
from engine.security.authorization import ANONYMOUS_ADMIN, Principal

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = ("", "PasswordText",
                 "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText")


def basic_principal(authenticator: Authenticator, header: str) -> Principal | None:
    """The principal of an `Authorization: Basic` header; None when there is no header at all."""
    if not authenticator.enabled:
        return ANONYMOUS_ADMIN
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthenticated("this service needs HTTP Basic credentials or a WS-Security UsernameToken")
    try:
        name, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("the Basic credentials do not decode") from None
    if not sep:
        raise Unauthenticated("the Basic credentials do not decode")
    return authenticator.authenticate(name, password)


def token_principal(authenticator: Authenticator, envelope: etree._Element) -> Principal:
    """The principal of the envelope's `wsse:UsernameToken`, or Unauthenticated."""
    token = envelope.find(f"{{*}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        raise Unauthenticated("this service needs HTTP Basic credentials or a WS-Security UsernameToken")
    name, password = token.findtext(f"{{{WSSE}}}Username"), token.find(f"{{{WSSE}}}Password")
    if name is None or password is None or password.get("Type", "") not in PASSWORD_TEXT:
        raise Unauthenticated("the UsernameToken needs a Username and a PasswordText Password")
    return authenticator.authenticate(name.strip(), password.text or "")
