"""Remove lines that are not reporting: comment prompts, copyright notices, teasers, share bars.

The rules work line by line on purpose: boilerplate in news pages sits on lines of its own, and a
sentence of reporting that merely mentions copyright must survive.
"""

from __future__ import annotations

import re

_BOILERPLATE = [
    r"leave a (comment|reply)\.?",
    r"(\d+\s+)?comments?\.?",
    r"(related|read more|read also|see also|also read|more from|recommended|watch|listen)\s*:.*",
    r".*\b(may not be|must not be|cannot be)\s+(published|broadcast|rewritten|redistributed|reproduced)\b.*",
    r".*\ball rights reserved\b.*",
    r".*(©|\(c\)\s*\d{4}|copyright\s+(©\s*)?\d{4}|\bcopyrighted\b).*",
    r"(share|tweet|email|print|pin|whatsapp|facebook|twitter|linkedin|reddit|copy link|x)"
    r"(\s*(on|via|this|article|story|to)?\s*(facebook|twitter|x|linkedin|whatsapp|email|reddit)?)?"
    r"(\s*[|/·•,]\s*(share|tweet|email|print|facebook|twitter|x|linkedin|whatsapp|reddit|copy link))*\.?",
    r"share (this|on|via)\b(\s+[\w-]+){0,3}\s*[.:!]?",
    # Calls to action, whole or followed by a short tail ("Subscribe to our newsletter"), but
    # not reporting that starts with the same word ("Subscribers rose", "Sponsored by the city").
    r"(follow us|subscribe|sign up|newsletter|click here|advertisement|sponsored( content)?"
    r"|skip to (main )?content)(\s*:.{0,80}|\s+(to|for|on|now|here|today|at|with)\b.{0,60})?[.!]?",
    r"(home|menu|search|login|log in|sign in)(\s*[|/·•>»]\s*\w+)+",
    r"unless otherwise (stated|noted).*",
]
_BOILERPLATE_RE = re.compile(r"^\s*(?:" + "|".join(_BOILERPLATE) + r")\s*$", re.IGNORECASE)

# A share bar is a line made only of these words, in any order and with any separators
# ("Facebook Twitter LinkedIn Email", "Share: Facebook, X, Email"); no reporting is.
_SHARE_NETWORKS = frozenset({"share", "shares", "tweet", "email", "e-mail", "mail", "print", "pin",
                             "whatsapp", "facebook", "twitter", "x", "linkedin", "reddit",
                             "pinterest", "telegram", "messenger", "flipboard", "threads", "bluesky"})
_SHARE_FILLERS = frozenset({"this", "article", "story", "page", "post", "on", "via", "to", "a",
                            "friend", "copy", "link", "url", "save", "it"})
_SHARE_TOKEN = re.compile(r"[A-Za-z][A-Za-z-]*|[^\sA-Za-z|/·•,:]+")


def _is_share_bar(line: str) -> bool:
    tokens = [t.lower() for t in _SHARE_TOKEN.findall(line)]
    if not tokens or len(tokens) > 16:
        return False
    if not all(t in _SHARE_NETWORKS or t in _SHARE_FILLERS for t in tokens):
        return False
    return any(t in _SHARE_NETWORKS for t in tokens) or tokens[:2] == ["copy", "link"]


def is_boilerplate(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if _is_share_bar(stripped):
        return True
    if _BOILERPLATE_RE.match(stripped):
        # A long line that only mentions copyright in passing is reporting, keep it.
        return len(stripped) < 300 or "may not be" in stripped.lower()
    return False


def clean_text(text: str) -> str:
    """Drop boilerplate lines, collapse runs of blank lines, trim trailing spaces."""
    kept = [line.rstrip() for line in text.split("\n") if not is_boilerplate(line)]
    joined = "\n".join(kept)
    joined = re.sub(r"[ \t]+\n", "\n", joined)
    joined = re.sub(r"\n{3,}", "\n\n", joined)
    return joined.strip()
