"""Remove what is not reporting, and undo hard wrapping.

Boilerplate is recognised only as a whole line that matches a narrow pattern: a copyright or
legal notice, a comment prompt, a share bar, a newsletter or follow prompt, page furniture
("Skip to content", "Back to top", breadcrumbs). Never by a word inside a sentence: "The judge
ruled that the names cannot be published." and "Sign up for the marathon closes on Friday." are
reporting. The rules are measured on evals/datasets/cleaning (our own labelled lines plus every
line of the user's articles): see the README's figures.
"""

from __future__ import annotations

import re

# Each pattern must match a whole line (after trimming, and after dropping decorative marks
# at its ends: "— Advertisement —", "↑ Back to top"). Caps on the free tails keep a long
# paragraph of reporting from ever matching.
_SEP = r"\s*(?::|\||»|›|–|—|-)\s*"
_NOTICE = [
    # Copyright lines: a notice mark or "Copyright <year>" first, a short tail.
    r"(?:©|\(c\)|copyright\s*(?:©|\(c\)|\d{4}|by\b)).{0,160}",
    r"(?:all )?(?:text|photos?|images?|content|material|pictures?)(?: and (?:text|photos?|images?|"
    r"video))? ©.{0,120}",
    r"(?:all )?(?:material|content|text|images|photos)(?: and images)? (?:on|of|from) this "
    r"(?:site|website|page).{0,40}(?:copyright|©).{0,100}",
    # "All rights reserved" opening the line or after a stop or separator, not in a sentence.
    r"(?:.{0,120}[.,|—–-]\s*)?all rights reserved\.?(?:\s*(?:[|—–-]|©).{0,100})?",
    # Wire-service legal notice: "may not be published, broadcast, rewritten or redistributed".
    r"(?:[\w ]{0,40} )?may not be (?:published|reproduced|copied|republished)(?:,? (?:or )?"
    r"(?:broadcast|rebroadcast|rewritten|redistributed|reproduced|copied|derived from|distributed))"
    r"{2,}.{0,60}",
    r"(?:(?:this|the) \w+ )?may not be (?:reproduced|copied|republished|used) in whole or in part.{0,80}",
    r"(?:content|text|photos?|images?|material) copyright (?:©\s*)?\d{4}.{0,100}",
    r"no part of this (?:publication|article|site|website|story).{0,40}may be (?:reproduced|copied|"
    r"stored|transmitted).{0,200}",
    r"(?:republication|redistribution|reproduction).{0,80}(?:prohibited|not permitted|forbidden).{0,150}",
    r"unless otherwise (?:stated|noted|indicated),? .{0,80}(?:©|copyright|licen[cs]ed).{0,80}",
    r"for (?:reprints?|licensing|permissions?|syndication)(?: and (?:reprints?|licensing|"
    r"permissions?))? (?:requests|enquiries|inquiries|information).{0,120}",
    r"the views expressed (?:in this|here|are).{0,200}",
    r"we (?:may )?earn (?:a )?(?:small )?(?:commission|money|a fee).{0,120}",
    r"your email address will not be published.{0,80}",
    r"required fields are marked.{0,20}",
]
_PROMPT = [
    # Comments.
    r"(?:leave|post|add|write|join) (?:a|the) (?:comment|reply|conversation|discussion)s?\b.{0,40}",
    r"\d[\d,]*\s+comments?\.?",
    r"comments?\s*(?:\(\d+\)|:\s*\d+)?",
    r"(?:show|view|load|see|read) (?:all )?(?:\d+ )?comments?",
    r".{0,60}\b(?:in|to|below in) the comments(?: section)?(?: below)?[.!]?",
    r"have your say\b.{0,80}",
    r"comment on this (?:story|article|post)\.?",
    r"comments (?:are|have been) (?:closed|disabled|turned off|switched off)\b.{0,40}",
    r"sort by\s*:.{0,80}",
    # Newsletters, subscriptions, paywalls.
    r"(?:subscribe|sign up|register)(?: now| today| free| here)?(?: (?:to|for) .{0,40})?"
    r"(?:newsletter|briefing|bulletin|updates|alerts|digest|podcast|mailing list|emails?)s?\b.{0,40}",
    r"(?:subscribe|sign up|register|log ?in|sign ?in)(?:\s*(?:now|today|here))?[.!]?",
    r"sign up\s*:.{0,80}",
    r".{0,60}\b(?:sign up|subscribe)\b(?: (?:to|for))? (?:to receive |for )?(?:our|the) .{0,60}"
    r"(?:newsletter|briefing|roundup|digest|bulletin|updates)\b.{0,40}",
    r"get (?:the|our) .{0,40}(?:newsletter|briefing|digest)\b.{0,60}",
    r".{0,40}\bdelivered (?:straight )?to your inbox.{0,40}",
    r"(?:want|like) more (?:stories|news|articles) like this\?.{0,80}",
    r"already a (?:subscriber|member)\?.{0,40}",
    r"(?:this|the) (?:article|story|content) is (?:for|available to|only available to|reserved for) "
    r"(?:subscribers|members)(?: only)?\b.{0,60}",
    r"enter your email(?: address)?\b.{0,100}",
    r"thanks?(?: you)? for (?:signing up|subscribing|registering)\b.{0,100}",
    r"you(?:'ve| have) read \d+ of (?:your )?\d+ (?:free )?(?:articles|stories)\b.{0,40}",
    r"(?:unlock|get|enjoy) (?:unlimited|full|digital|premium) access\b.{0,120}",
    r"start your (?:\d+-day )?free trial\b.{0,60}",
    r"(?:get it on google play|download (?:it )?on the app store|open (?:in|the) app)",
    r"(?:this|the) (?:post|article|story|page) (?:contains|may contain|includes) affiliate links.{0,120}",
    r"by subscribing,? you agree.{0,120}",
    r"get (?:unlimited|full|digital) access.{0,120}",
    r"subscribe (?:now|today)\b.{0,60}",
    r"you have (?:\d+|one|two|three|four|five) free (?:articles?|stories|story)\b.{0,60}",
    r"(?:support|help fund) (?:our |independent |quality |local )*journalism.{0,80}",
    r"become a (?:member|subscriber|supporter)\b.{0,100}",
    r"cancel any ?time\.?",
    # Follow, share, contact.
    r"(?:stay connected\W+)?(?:follow|like) us\b.{0,80}",
    r"(?:connect|stay connected|keep in touch) with us\b.{0,80}",
    r"follow (?:the |this )?(?:author|writer|reporter|topic|story)\b.{0,40}",
    r"(?:send|email|forward) (?:this|the) (?:story|article|page|post) to a friend\b.{0,10}",
    r"follow [\w .&'-]{1,40} on (?:facebook|x|twitter|instagram|threads|youtube|tiktok|linkedin|"
    r"bluesky)\b.{0,60}",
    r"(?:get|download) (?:our|the) (?:[\w .&'-]{1,40} )?app\b.{0,60}",
    r"follow @\w+.{0,60}",
    r"(?:print|email|save|bookmark|share|gift) (?:this )?(?:page|article|story|post)\b.{0,20}",
    r"got a (?:news )?tip\?.{0,100}",
    r"spotted an? (?:error|mistake|typo).{0,60}",
    # Advertising.
    r"(?:advertisement|advertising|ad|sponsored(?: content| post)?|paid (?:content|post)|"
    r"promoted(?: content| stories)?)(?:" + _SEP + r"(?:scroll|continue|story continues|article "
    r"continues).{0,60})?",
    r"(?:article|story) continues (?:after|below) (?:this )?(?:ad|advertisement|advert)\b.{0,20}",
    r"(?:content|stories|more) from our (?:partners|sponsors)\b.{0,20}",
    # Page furniture.
    r"(?:skip|jump) to (?:main )?(?:content|navigation|search|footer)",
    r"(?:load|show|see|view) more(?: (?:stories|articles|news|results|posts))?",
    r"(?:reading|read) time\s*:?\s*\d+\s*min(?:ute)?s?",
    r"(?:view|see|read) (?:all|more) (?:articles|stories|posts) (?:by|from) .{1,60}",
    r"(?:previous|prev|next|older|newer)(?:\s*(?:[|/·•]\s*)?(?:previous|next|older|newer))*",
    r"back to (?:top|home(?:page)?)",
    r"listen to (?:this )?(?:article|story)(?:\s*[·•|-]?\s*\d+ min(?:ute)?s?)?",
    r"(?:\d+ )?min(?:ute)?s? read",
    r"page \d+ of \d+",
    r"(?:continue|keep) reading(?:" + _SEP + r".{1,80})?",
    r"(?:log ?in|sign ?in|register|sign up|subscribe)(?:\s*[|/·•]\s*(?:log ?in|sign ?in|register|"
    r"sign up|subscribe|my account))+",
    r"by using this (?:site|website|service|app).{0,120}",
    r"(?:loading|please wait)\W*",
    r"(?:most (?:read|popular|viewed|shared)|recommended(?: for you| stories)?|trending(?: now)?|"
    r"you (?:may|might) also like|more (?:stories|news|from [\w .&]{1,40})|top stories|"
    r"editor'?s picks|related (?:stories|articles|coverage|content))\s*:?",
    r"(?:read (?:more|next|also)|also read|see also|more|related(?: coverage| topics| stories| "
    r"articles| content)?|watch|listen|video|podcast|explainer|gallery|newsletter)"
    r"(?:" + _SEP + r".{1,160})?",
    r"click here to (?:read|subscribe|sign up|see|view|watch|download|learn|find out|continue)"
    r"(?! ?,).{0,60}",
    r"(?:tags?|filed under|topics?|categories|category)\s*:\s*.{1,160}",
    r"(?:you are here\s*:\s*)?(?:home|news|menu)(?:\s*[|/·•>»›]\s*[\w&',. -]{1,30}){1,8}",
    r"(?:«\s*)?(?:older|newer|previous|next) (?:posts?|articles?|stories|entries)\b.{0,60}",
    r"(?:search|menu|home|cookie policy|privacy policy|privacy notice|cookie settings|"
    r"terms(?: (?:of (?:use|service)|and conditions|& conditions))?|contact us|about us|"
    r"accessibility|sitemap)",
    # Cookie banners.
    r"we value your privacy\.?",
    r"(?:we|we and our partners|this (?:site|website)) uses? cookies(?: and similar technologies)?"
    r"(?:\.| to (?:personali[sz]e|improve|enhance|give you|provide|analy[sz]e|offer|remember|"
    r"deliver|ensure)).{0,200}",
    r"by continuing to (?:browse|use).{0,100}cookies.{0,40}",
    r"(?:accept|reject|allow|decline|manage)(?: all| non-essential| essential| necessary| optional)?"
    r"(?: cookies)?(?:\s*(?:[|/·•]\s*)?"
    r"(?:accept|reject|allow|decline|manage|settings|preferences|cookies)(?: all)?)*",
]
_BOILERPLATE_RE = re.compile(r"^\s*(?:" + "|".join(_NOTICE + _PROMPT) + r")\s*$", re.IGNORECASE)
# A media teaser: a play mark, then a short title ("▶ Watch the full interview").
_MEDIA_TEASER = re.compile(r"^\s*[▶►▷]\s*.{1,100}$")
# Marks that decorate a line of furniture without changing what it is.
_DECORATION = "—–-|•·↑↓→←»«›‹▸▹►▶☰✉+*#=_~ \t"
_PIECES = re.compile(r"\s+[|·•]\s+")
# Menu and footer link bars: three or more short items between separators, no sentence.
_LINK_BAR_SPLIT = re.compile(r"\s*[|·•]\s*|\s{2,}")


def _is_link_bar(line: str) -> bool:
    items = [i for i in _LINK_BAR_SPLIT.split(line) if i]
    return (len(items) >= 3 and all(len(i.split()) <= 4 and not i.endswith((".", "?", "!"))
                                     and i[:1].isupper() for i in items))


# A share bar is a line made only of these words, in any order and with any separators
# ("Facebook Twitter LinkedIn Email", "Share: Facebook, X, Email"); no reporting is.
_SHARE_NETWORKS = frozenset({"share", "shares", "tweet", "email", "e-mail", "mail", "print", "pin",
                             "whatsapp", "facebook", "twitter", "x", "linkedin", "reddit",
                             "pinterest", "telegram", "messenger", "flipboard", "threads", "bluesky",
                             "instagram", "youtube", "tiktok"})
_SHARE_FILLERS = frozenset({"this", "article", "story", "page", "post", "on", "via", "to", "a",
                            "friend", "copy", "link", "url", "save", "it", "with"})
_SHARE_TOKEN = re.compile(r"[A-Za-z][A-Za-z-]*")


def _is_share_bar(line: str) -> bool:
    tokens = [t.lower() for t in _SHARE_TOKEN.findall(line)]
    if not tokens or len(tokens) > 16:
        return False
    if not all(t in _SHARE_NETWORKS or t in _SHARE_FILLERS for t in tokens):
        return False
    return any(t in _SHARE_NETWORKS for t in tokens) or tokens[:2] == ["copy", "link"]


def is_boilerplate(line: str) -> bool:
    """Whether a whole line is page furniture, a prompt or a legal notice (not reporting)."""
    if _MEDIA_TEASER.match(line):
        return True
    stripped = line.strip().strip(_DECORATION)
    if not stripped:
        return False
    if _is_share_bar(stripped) or _is_link_bar(stripped) or _BOILERPLATE_RE.match(stripped):
        return True
    # Furniture strung together on one line ("Log in | Register", "Get it on Google Play ·
    # Download on the App Store"): every separated piece is furniture on its own.
    pieces = [p.strip(_DECORATION) for p in _PIECES.split(stripped)]
    return len(pieces) > 1 and all(p and _BOILERPLATE_RE.match(p) for p in pieces)


# Hard wrapping: a paragraph whose lines all stop near one width (60-100 columns is what
# editors and mail clients wrap at). A line well short of that width is a real break: a
# headline, the paragraph's last line, an item of a list.
_MAX_WRAP_WIDTH = 100
_MIN_WRAP_WIDTH = 40
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")


_SENTENCE_END = (".", "!", "?", ":", ";", '"', "\u201d", "'", "\u2019", ")")


def reflow(paragraph: str) -> str:
    """Join the lines of a hard-wrapped paragraph with spaces; leave any other text as it is.

    A line break is a wrap when the line before it has no closing punctuation and either reaches
    the width the paragraph's lines stop near, or is followed by a line that starts in lower
    case or with a digit (a sentence going on: "said the" / "results were"). A line that ends a
    sentence keeps its break: the sentence ends there either way, and a list of one-line items
    stays a list."""
    lines = paragraph.split("\n")
    if len(lines) < 2:
        return paragraph
    width = max(len(line.rstrip()) for line in lines)
    by_width = _MIN_WRAP_WIDTH <= width <= _MAX_WRAP_WIDTH
    out = [lines[0]]
    for line in lines[1:]:
        previous = out[-1].rstrip()
        head = line.strip()[:1]
        continues = bool(head) and (head.islower() or head.isdigit()) \
            and not previous.endswith(_SENTENCE_END)
        wrapped = (line.strip() and not _LIST_ITEM.match(line) and not previous.endswith(":")
                   and ((by_width and len(previous) >= 0.6 * width
                         and not previous.endswith(_SENTENCE_END)) or continues))
        if wrapped:
            out[-1] = previous.rstrip() + " " + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


# A widget heading whose list of headlines follows it ("Most read", "Related stories").
_WIDGET_HEADING = re.compile(
    r"^\W*(?:most (?:read|popular|viewed|shared)|recommended(?: for you| stories)?|trending(?: now)?|"
    r"top stories|more (?:stories|news)|related(?: stories| articles| coverage)?|read (?:more|next)|"
    r"you (?:may|might) also like|editor'?s picks)\W*$", re.IGNORECASE)
_LIST_HEADLINE = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+\S.{0,120}$")
_MENU_ITEM = re.compile(r"^\s*[A-Z][\w&'-]*(?: [A-Z&][\w&'-]*)?\s*$")


def _furniture(lines: list[str]) -> set[int]:
    """Lines that are furniture only in context: the list of headlines under a widget heading,
    and a menu (three or more consecutive lines of one or two capitalised words)."""
    drop: set[int] = set()
    i = 0
    while i < len(lines):
        if _WIDGET_HEADING.match(lines[i]):
            j = i + 1
            while j < len(lines) and _LIST_HEADLINE.match(lines[j]) \
                    and not lines[j].rstrip().endswith("."):
                drop.add(j)
                j += 1
        run = i
        while run < len(lines) and _MENU_ITEM.match(lines[run]):
            run += 1
        if run - i >= 3:
            drop.update(range(i, run))
            i = run
            continue
        i += 1
    return drop


def clean_text(text: str) -> str:
    """Drop boilerplate lines, reflow hard-wrapped paragraphs, collapse runs of blank lines and
    trim trailing spaces."""
    lines = text.split("\n")
    in_context = _furniture(lines)
    kept = [line.rstrip() for i, line in enumerate(lines)
            if i not in in_context and not is_boilerplate(line)]
    joined = "\n".join(kept)
    joined = re.sub(r"\n{3,}", "\n\n", joined).strip()
    return "\n\n".join(reflow(p) for p in joined.split("\n\n"))
