"""PURE: URL handling: cache keys, credentials, filenames."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote, urlsplit, urlunsplit

# A URL that is already its own key: lower-case scheme and host, a path, no query, no
# user info, no fragment (most file URLs; hashing tens of thousands of them is the job).
_KEY_SHAPED = re.compile(r"https?://[a-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9_.~/%-]*")
# "//", then the authority's user info: everything up to its last "@".
_AUTHORITY_USERINFO = re.compile(r"(//)[^/?#]*@")


def cache_key(url: str) -> str:
    """The key cachecontrol stores ``url`` under: scheme and host lower-cased, no fragment.

    Mirrors ``CacheController._urlnorm``; pip strips credentials before the request, so
    they never reach the key.
    """
    if _KEY_SHAPED.fullmatch(url):
        return url
    parts = urlsplit(strip_credentials(url))
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def redact(url: str) -> str:
    """``user:token@`` -> ``user:****@``; a bare token as user -> ``****@`` (like pip).

    Never raises: a URL ``urlsplit`` refuses (a broken IPv6 host in an ``origin.json``)
    loses everything between ``//`` and its last ``@``, user name included.
    """
    if "@" not in url:
        return url  # nothing to hide (most URLs: skip the parse)
    try:
        parts = urlsplit(url)
    except ValueError:
        return _AUTHORITY_USERINFO.sub(r"\1****@", url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, _password = userinfo.partition(":")
    # A user name cannot hold "@" (it would be quoted): one that does is not a user name
    # but the start of something else ("tok3n@:@host"), so all of it is hidden.
    shown = f"{user}:****" if sep and "@" not in user else "****"
    return urlunsplit((parts.scheme, f"{shown}@{host}", parts.path, parts.query, parts.fragment))


def url_filename(url: str) -> str:
    """The last path segment, unquoted (``/a/b/pkg-1.0.tar.gz`` -> ``pkg-1.0.tar.gz``)."""
    if _KEY_SHAPED.fullmatch(url):  # no query, fragment or user info to split off
        return unquote(url.rpartition("/")[2])
    return unquote(posixpath.basename(urlsplit(url).path))
