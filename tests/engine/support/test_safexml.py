"""The one canonical form of XML content (engine.support.safexml.canonical)."""
from __future__ import annotations

import pytest
from lxml import etree

from engine.support.safexml import canonical


@pytest.mark.parametrize("document, expected", [
    (b'<a xmlns:r="rel" xmlns:u="urn:unused"><r:order r:x="1"><r:i/></r:order></a>',
     '<r:order xmlns:r="rel" r:x="1"><r:i></r:i></r:order>'),
    (b'<a xmlns:u="urn:u"><r:order xmlns:r="rel"><u:i/></r:order></a>',
     '<r:order xmlns:r="rel"><u:i xmlns:u="urn:u"></u:i></r:order>'),
    (b'<a xmlns:u="urn:u"><u:order><u:i/></u:order></a>', '<u:order xmlns:u="urn:u"><u:i></u:i></u:order>'),
], ids=["relative, declared above", "relative inside, absolute above", "absolute, declared above"])
def test_content_in_a_relative_namespace_declared_above_it_is_canonical_too(document, expected):
    """C14N 1.0 refuses a relative namespace URI, and 2.0 took the element where it stood: what it
    uses that was declared above it was not declared (a ValueError: a Server fault, a REST 500)."""
    assert canonical(etree.fromstring(document)[0]) == expected

