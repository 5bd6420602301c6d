"""What the logs may say of a graph or a room: never its id.

A graph's id is its view link and a room's its follow link: whoever reads a log could
open them. Logs name one by its fingerprint, `#` and the first 10 hex digits of the
SHA-256 of the id, which names it for an operator who has the link
(`stepgrad.app.redact.fingerprint("<id>")`) without giving the link away.
"""

from __future__ import annotations

import hashlib
import re

# the paths whose next segment is a capability: /api/graphs/<id>..., /g/<id>, /r/<id>, ...
CAPABILITY = re.compile(r"^(/api/graphs/|/api/rooms/|/g/|/r/)([^/]+)")


def fingerprint(capability: str) -> str:
    return "#" + hashlib.sha256(capability.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def path(text: str) -> str:
    """The path with the graph or room id it names replaced by its fingerprint."""

    return CAPABILITY.sub(lambda m: m.group(1) + fingerprint(m.group(2)), text, count=1)


# Redis keys and channels that hold a graph's or room's id: stepgrad:lock:<id>, stepgrad:ev:<id>:…
KEY = re.compile(r"^(stepgrad:(?:lock|ev|g|r|p):)([^:]+)")


def key(name: str | bytes) -> str:
    """A Redis key or channel of a graph or room, its id replaced by the fingerprint."""
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
    return KEY.sub(lambda m: m.group(1) + fingerprint(m.group(2)), text, count=1)
