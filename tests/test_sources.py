"""Ingest sources: HTML extraction, PDFs, pages by URL and RSS/Atom feeds.

Everything runs against real inputs: PDFs written byte by byte here, and a real HTTP server on
127.0.0.1 whose handlers serve news pages, redirects, errors, a slow and an oversized page, a
PDF and feeds, and which records every request so tests can tell what was (not) fetched.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trafilatura
from conftest import run_cli
from pypdf import PdfReader, PdfWriter

from index.article import LoadError, article_id_for, stable_article_id
from index.feeds import load_feed
from index.fetch import fetch_with, http_client
from index.html import extract_html, html_to_text
from index.sources import load_pdf, load_url

# -- news pages -----------------------------------------------------------------------------------

BRIDGE = [
    "The Harbour Council voted on Tuesday evening to close the old Riverside bridge to cars from the "
    "first of May, ending months of argument over the crumbling structure that carries eleven "
    "thousand vehicles a day.",
    "Engineers told councillors that corrosion in the steel girders had advanced faster than expected "
    "since the last inspection in 2021, and that heavy lorries had already been banned from the bridge "
    "in January as a precaution.",
    "The vote was seven to four.",
    "Local traders on Quay Street said the closure would cut their footfall at the worst possible "
    "moment, just as the summer season begins and the harbour festival draws visitors from across the "
    "region.",
    "The council's transport chair, Miriam Okafor, said the decision was not taken lightly but that "
    "public safety had to come first, adding that a replacement crossing could open within three years "
    "if funding is approved.",
]
SUBHEAD = "What happens next"
FERRY = [
    "A temporary ferry will link the two quays every fifteen minutes while the Riverside bridge is "
    "closed to cars, the operator Alder Boats confirmed on Wednesday.",
    "Tickets will cost one pound for adults and children will travel free, with season passes on sale "
    "from the harbour office from the middle of April.",
]
# Lines of a news page that are not the article; none may reach the extracted text.
BOILERPLATE = [
    "Weather",  # menu
    "Share on Facebook",
    "Ferry operator posts record profits",  # related stories
    "Get the best local news in your inbox",  # promo box inside the article
    "Great article, thanks for covering this",  # reader comment
    "Privacy policy",  # footer
    "We use cookies to improve your experience",
    "Most read",
]
MENU = ('<ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>'
        '<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul>')


def news_page(title: str, paragraphs: list[str], *, canonical: str | None = None,
              published: str | None = "2024-03-12T18:30:00Z", site: str = "Harbour Gazette") -> str:
    """A news page laid out like real ones: menu, share bar, promo inside the article, related
    stories, comments, newsletter box, footer."""
    head = [f"<title>{title} | {site}</title>", f'<meta property="og:title" content="{title}">',
            f'<meta property="og:site_name" content="{site}">',
            '<meta name="author" content="Tom Reyes">']
    if published:
        head.append(f'<meta property="article:published_time" content="{published}">')
        head.append('<meta property="article:modified_time" content="2024-04-02T09:00:00Z">')
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    body = "".join(f"<p>{p}</p>" for p in paragraphs[:3])
    if len(paragraphs) > 3:
        body += f"<h2>{SUBHEAD}</h2>" + "".join(f"<p>{p}</p>" for p in paragraphs[3:])
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{"".join(head)}</head><body>
<div class="cookie-banner"><p>We use cookies to improve your experience</p><button>OK</button></div>
<header><nav class="main-nav">{MENU}</nav></header>
<main><article>
<h1>{title}</h1><div class="meta"><span class="byline">By Tom Reyes</span></div>
<div class="share-bar"><ul><li><a href="https://facebook.com/x">Share on Facebook</a></li>
<li><a href="https://twitter.com/x">Share on Twitter</a></li></ul></div>
<figure><img src="bridge.jpg"><figcaption>The bridge in 1936.</figcaption></figure>
{body.replace("</p><p>", '</p><div class="inline-promo"><p>Get the best local news in your inbox every '
              'morning with our free newsletter.</p></div><p>', 1)}
</article>
<aside class="related"><h3>Related stories</h3><ul>
<li><a href="/a">Ferry operator posts record profits</a></li>
<li><a href="/b">Mayor opens new library wing</a></li></ul></aside>
<section id="comments" class="comments"><h3>Leave a comment</h3>
<div class="comment"><p>Great article, thanks for covering this</p></div></section>
</main>
<div class="sidebar"><h3>Most read</h3>
<ol><li><a href="/c">Ferry operator posts record profits</a></li></ol></div>
<footer><ul><li><a href="/contact">Contact us</a></li><li><a href="/privacy">Privacy policy</a></li></ul>
<p>© 2024 Harbour Gazette</p></footer></body></html>"""


def blocks(text: str) -> list[str]:
    return text.split("\n\n")


def assert_no_boilerplate(text: str) -> None:
    leaked = [b for b in BOILERPLATE if b in text]
    assert not leaked, f"boilerplate kept: {leaked}"


def assert_one_line(message: str, starts: str) -> None:
    assert "\n" not in message
    assert message.startswith(f"{starts}:"), message


# -- HTML extraction ------------------------------------------------------------------------------


def test_html_keeps_body_paragraphs_as_blocks_and_drops_boilerplate() -> None:
    page = extract_html(news_page("Riverside bridge to close to cars in May", BRIDGE), "https://example.org/a")
    found = blocks(page.text)
    for paragraph in BRIDGE:
        assert paragraph in found  # whole paragraphs, each a block of its own
    assert SUBHEAD in found  # the subheading on a line of its own
    assert found[0] == BRIDGE[0]  # the headline is the title, not repeated as body text
    assert found.index(BRIDGE[2]) < found.index(SUBHEAD) < found.index(BRIDGE[3])
    assert_no_boilerplate(page.text)


MENU_BULLETS = "".join(f"<li><a href='/s{i}'>Section {i}</a></li>" for i in range(8))
UNCLOSED = {
    # The menu's <nav> is never closed: lxml nests the rest of the page inside it.
    "nav before a div":
        f"<nav class=menu><ul>{MENU_BULLETS}</ul><div class=story><h1>Bridge</h1>{{body}}</div>",
    "nav before bare paragraphs": f"<nav><ul>{MENU_BULLETS}</ul><h1>Bridge</h1>{{body}}",
    "aside before bare paragraphs": f"<h1>Bridge</h1><aside class=related><ul>{MENU_BULLETS}</ul>{{body}}",
}


@pytest.mark.parametrize("layout", UNCLOSED)
def test_html_unclosed_nav_or_aside_keeps_the_body(layout: str) -> None:
    body = "".join(f"<p>{p}</p>" for p in BRIDGE)
    raw = f"<html><head><title>Bridge</title></head><body>{UNCLOSED[layout].format(body=body)}</body></html>"
    page = extract_html(raw, "https://example.org/bridge")
    for paragraph in BRIDGE:
        assert paragraph in blocks(page.text)
    assert "Section 3" not in page.text


def test_html_metadata() -> None:
    raw = news_page("Riverside bridge to close to cars in May", BRIDGE, canonical="/local/riverside-bridge")
    page = extract_html(raw, "https://news.example.org/go/123?utm_source=rss")
    assert page.title == "Riverside bridge to close to cars in May"  # without the " | site" suffix
    assert page.date == "2024-03-12"  # published, not the later modified date
    assert page.publisher == "Harbour Gazette"
    assert page.author == "Tom Reyes"
    assert page.url == "https://news.example.org/local/riverside-bridge"  # relative canonical resolved


def test_html_date_is_not_guessed_from_years_in_the_text() -> None:
    raw = news_page("Riverside bridge", BRIDGE, published=None)  # body says "in 2021", footer "© 2024"
    assert extract_html(raw, "https://example.org/a").date == ""


def test_html_canonical_to_the_front_page_is_ignored() -> None:
    raw = news_page("Riverside bridge", BRIDGE, canonical="https://example.org/")
    assert extract_html(raw, "https://example.org/news/bridge").url == "https://example.org/news/bridge"


def test_html_short_page_in_a_layout_table_keeps_its_paragraphs() -> None:
    raw = ("<html><head><title>Flood warning lifted</title></head><body><table><tr><td>"
           "<p>The flood warning for the Alder valley was lifted after two dry days.</p>"
           "<p>Roads reopen tonight.</p></td></tr></table></body></html>")
    page = extract_html(raw)
    assert blocks(page.text) == ["The flood warning for the Alder valley was lifted after two dry days.",
                                 "Roads reopen tonight."]
    assert page.title == "Flood warning lifted"


def test_html_falls_back_to_paragraph_text_when_trafilatura_keeps_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """trafilatura's balanced mode kept some text on every short page tried, so "keeps nothing"
    is simulated; the fallback itself runs for real on the page."""
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *args, **kwargs: None)
    raw = (f"<html><head><title>Road closures</title></head><body><nav>{MENU}</nav>"
           "<h1>Road closures</h1><p>Two streets close for resurfacing on Monday.</p>"
           "<ul><li>Quay Street, <b>all day</b></li><li>Mill Lane, mornings</li></ul>"
           "<footer><p>Privacy policy</p></footer></body></html>")
    page = extract_html(raw, "https://example.org/closures")
    assert blocks(page.text) == ["Two streets close for resurfacing on Monday.", "Quay Street, all day",
                                 "Mill Lane, mornings"]
    assert page.title == "Road closures"


@pytest.mark.parametrize("raw", ["", "   ", "<<<>>>", "\x00\x01\x02", "<html>", "<p", "<div>" * 3000,
                                 "<?xml version='1.0' encoding='latin-1'?><html><body><p>x</p></body></html>",
                                 "<html><body><script>var a = '<p>not text</p>';</script></body></html>"])
def test_html_malformed_input_never_raises(raw: str) -> None:
    page = extract_html(raw, "https://example.org/x")
    assert isinstance(page.text, str)
    assert "not text" not in page.text


def test_html_to_text_keeps_blocks_and_lines() -> None:
    fragment = ("<p>One <b>bold</b> claim.</p><p>Two<br>lines</p><ul><li>first</li><li>second</li></ul>"
                "<!-- a comment --><script>track()</script>Tail")
    assert html_to_text(fragment) == "One bold claim.\n\nTwo\nlines\n\nfirst\nsecond\n\nTail"


# -- PDF ------------------------------------------------------------------------------------------


def make_pdf(pages: list[list[str] | None], title: str | None = None) -> bytes:
    """A valid PDF with one Helvetica text line per string; a None page holds only a drawn
    rectangle, like a scanned page without a text layer."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    objects: list[bytes] = [b"", b"", font]  # catalog and page tree are filled in below
    kids = []
    for lines in pages:
        if lines:
            ops = "BT /F1 11 Tf 14 TL 72 720 Td " + " ".join(f"({esc(line)}) Tj T*" for line in lines) + " ET"
        else:
            ops = "0.5 g 72 300 400 300 re f"
        stream = ops.encode("cp1252")
        objects.append(b"<< /Length %d >>\nstream\n%b\nendstream" % (len(stream), stream))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (len(objects)))
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    objects[1] = b"<< /Type /Pages /Kids [%b] /Count %d >>" % (refs, len(kids))
    info = b""
    if title is not None:
        objects.append(b"<< /Title (%b) >>" % esc(title).encode("cp1252"))
        info = b" /Info %d 0 R" % len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%b >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


REPORT_PAGES: list[list[str] | None] = [
    ["Harbour Council Annual Report", "The council met eleven times in 2023 (twice in May).",
     "Copyright 2024 Harbour Council. All rights reserved."],
    None,
    ["Budget", "Spending rose by 4% to 12.5 million pounds."],
]
REPORT_PAGE_1 = "Harbour Council Annual Report\nThe council met eleven times in 2023 (twice in May)."
REPORT_PAGE_3 = "Budget\nSpending rose by 4% to 12.5 million pounds."


def test_pdf_pages_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "annual-report.pdf"
    path.write_bytes(make_pdf(REPORT_PAGES, title="Annual Report 2023"))
    result = load_pdf(path)
    assert result.errors == []
    [article] = result.articles
    assert article.key == str(path)
    assert article.article_id == stable_article_id("", article.title, article.text)
    assert article.title == "Annual Report 2023"
    (s1, e1), (s2, e2), (s3, e3) = article.pages
    assert article.text[s1:e1] == REPORT_PAGE_1  # page 1 without its copyright line
    assert s2 == e2 == e1  # the page with no text is an empty span where it falls
    assert article.text[s3:e3] == REPORT_PAGE_3
    assert article.text == REPORT_PAGE_1 + "\n\n" + REPORT_PAGE_3


def test_pdf_title_without_metadata(tmp_path: Path) -> None:
    first_line = tmp_path / "first-line.pdf"
    first_line.write_bytes(make_pdf(REPORT_PAGES, title="Microsoft Word - report_v3.docx"))
    article = load_pdf(first_line).articles[0]
    assert article.title == "Harbour Council Annual Report"
    assert article.text.startswith("Harbour Council Annual Report\n")  # the line stays in the text

    long_line = "A report on the condition of every bridge, culvert and quay wall owned by the council, " * 2
    stem = tmp_path / "bridges-2023.pdf"
    stem.write_bytes(make_pdf([[long_line.strip()]]))
    assert load_pdf(stem).articles[0].title == "bridges-2023"


def test_pdf_without_text_needs_ocr(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([None, None]))
    with pytest.raises(LoadError) as error:
        load_pdf(path)
    assert str(error.value) == f"{path}: no text in the PDF (scanned pages need OCR)"


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(REPORT_PAGES))))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("garbage", lambda: b"%PDF-1.4\n1 0 obj << /Type /Catalog broken", "not a readable PDF"),
    ("truncated", lambda: make_pdf(REPORT_PAGES)[:300], "not a readable PDF"),
    ("text", lambda: b"Minutes of the meeting, saved with the wrong name.", "not a PDF file"),
    ("encrypted", lambda: _encrypted("secret"), "encrypted with a password"),
])
def test_pdf_corrupt_or_encrypted_is_one_line_error(tmp_path: Path, name: str, make: Callable[[], bytes],
                                                    reason: str) -> None:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(make())
    with pytest.raises(LoadError) as error:
        load_pdf(path)
    assert_one_line(str(error.value), str(path))
    assert reason in str(error.value)


def test_pdf_encrypted_without_user_password_is_read(tmp_path: Path) -> None:
    path = tmp_path / "restricted.pdf"
    path.write_bytes(_encrypted(""))  # only editing is restricted; anyone may read it
    assert load_pdf(path).articles[0].text == REPORT_PAGE_1 + "\n\n" + REPORT_PAGE_3


# -- a real local web server ----------------------------------------------------------------------

FULL_CONTENT = [
    "The harbour budget for the coming year was approved on Monday after a four hour debate in which "
    "councillors argued over dredging costs and the price of mooring permits.",
    "Spending on the quay walls will double to two million pounds, while the fee for a summer mooring "
    "rises by eight percent, the first increase in five years.",
    "The opposition group said the rise would drive small fishing boats out of the harbour, but the "
    "finance chair said the fees still lagged behind every other port on the coast.",
]
ATOM_FULL = [p.replace("harbour", "valley") for p in FULL_CONTENT]


class Site:
    """A loopback web server whose handlers are the methods below, keyed by path."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (path with query, User-Agent)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site.lock:
                    site.requests.append((self.path, self.headers.get("User-Agent", "")))
                route = getattr(site, "page_" + urlsplit(self.path).path.strip("/").replace("/", "__")
                                .replace("-", "_").replace(".", "_"), None)
                try:
                    if route is None:
                        self.reply(404, b"<html><body><p>Not here.</p></body></html>", "text/html")
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as the oversize and timeout tests make it do

            def reply(self, status: int, body: bytes, ctype: str,
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for requested, _ in self.requests if urlsplit(requested).path == path)

    # Handlers: page_<path with / as __ and - or . as _>.
    def page_go__bridge(self, h) -> None:
        h.reply(302, b"", "text/html", {"Location": "/news/bridge?utm_source=feed"})

    def page_news__bridge(self, h) -> None:
        raw = news_page("Riverside bridge to close to cars in May", BRIDGE,
                        canonical="/news/riverside-bridge")
        h.reply(200, raw.encode(), "text/html; charset=utf-8")

    def page_news__no_canonical(self, h) -> None:
        h.reply(200, news_page("Riverside bridge", BRIDGE).encode(), "text/html; charset=utf-8")

    def page_news__latin1(self, h) -> None:
        paragraphs = [p.replace("Quay Street", "the Café Royal") for p in BRIDGE]
        raw = news_page("Café owners welcome the ferry", paragraphs)
        h.reply(200, raw.encode("latin-1", "replace"), "text/html; charset=iso-8859-1")

    def page_news__ferry_service(self, h) -> None:
        h.reply(200, news_page("Ferry service to start in May", FERRY).encode(), "text/html")

    def page_news__harbour_budget(self, h) -> None:
        h.reply(200, news_page("Council approves harbour budget", FULL_CONTENT).encode(), "text/html")

    def page_news__mill_museum(self, h) -> None:
        h.reply(200, news_page("Mill reopens as museum", FERRY).encode(), "text/html")

    def page_news__flood_defences(self, h) -> None:
        h.reply(200, news_page("Flood defences finished", ATOM_FULL).encode(), "text/html")

    def page_loop(self, h) -> None:
        h.reply(302, b"", "text/html", {"Location": "/loop"})

    def page_to_ftp(self, h) -> None:
        h.reply(302, b"", "text/html", {"Location": "ftp://127.0.0.1/file.txt"})

    def page_slow(self, h) -> None:
        self.stop.wait(5)  # longer than the client's timeout; cut short at teardown
        h.reply(200, b"<html><body><p>Too late.</p></body></html>", "text/html")

    def page_big(self, h) -> None:
        """2 MB streamed without a Content-Length, so only counting bytes can stop it."""
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.end_headers()
        chunk = b"<p>" + b"filler text " * 5000 + b"</p>\n"
        for _ in range(40):
            h.wfile.write(chunk)

    def page_big_declared(self, h) -> None:
        h.reply(200, b"<p>" + b"x" * 200_000 + b"</p>", "text/html")

    def page_notes_txt(self, h) -> None:
        h.reply(200, b"Tram line opens in Port Alder\n\nThe first tram left the depot at six.\n"
                     b"Riders queued from five.\n", "text/plain; charset=utf-8")

    def page_memo_txt(self, h) -> None:
        h.reply(200, b"The council said on Friday that the ferry will run on Sundays too.\n", "text/plain")

    def page_files__annual_report_pdf(self, h) -> None:
        h.reply(200, make_pdf(REPORT_PAGES, title="Annual Report 2023"), "application/pdf")

    def page_image_png(self, h) -> None:
        h.reply(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")

    def page_with_feed_link(self, h) -> None:
        raw = news_page("Front page", BRIDGE).replace(
            "<head>", '<head><link rel="alternate" type="application/rss+xml" href="/feed.rss">')
        h.reply(200, raw.encode(), "text/html")

    def page_feed_rss(self, h) -> None:
        h.reply(200, rss_feed(self.base).encode(), "application/rss+xml; charset=utf-8")

    def page_feed_atom(self, h) -> None:
        h.reply(200, atom_feed(self.base).encode(), "application/atom+xml")


def rss_feed(base: str) -> str:
    content = "".join(f"<p>{p}</p>" for p in FULL_CONTENT)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Harbour Gazette: Local</title><link>{base}/</link><description>Local news</description>
<item><title>Council approves harbour budget</title><link>{base}/news/harbour-budget</link>
<guid>{base}/news/harbour-budget</guid><pubDate>Mon, 11 Mar 2024 09:00:00 +0000</pubDate>
<description>Budget approved after a long debate.</description>
<content:encoded><![CDATA[{content}]]></content:encoded></item>
<item><title>Ferry service to start in May</title><link>{base}/news/ferry-service</link>
<pubDate>Tue, 12 Mar 2024 10:00:00 +0000</pubDate>
<description>&lt;p&gt;A &lt;b&gt;temporary&lt;/b&gt; ferry will link the two quays.&lt;/p&gt;</description>
</item>
<item><title>Quay Street traders worried</title><link>{base}/news/gone</link>
<pubDate>Wed, 13 Mar 2024 08:15:00 +0000</pubDate>
<description>Traders fear a quiet summer.</description></item>
</channel></rss>"""


def atom_feed(base: str) -> str:
    content = "".join(f"&lt;p&gt;{p}&lt;/p&gt;" for p in ATOM_FULL)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Alder Valley Courier</title><id>urn:courier</id>
<updated>2024-02-26T12:00:00Z</updated>
<entry><title>Flood defences finished</title><link href="{base}/news/flood-defences"/>
<id>{base}/news/flood-defences</id><published>2024-02-20T08:00:00Z</published>
<updated>2024-02-21T08:00:00Z</updated><content type="html">{content}</content></entry>
<entry><title>Mill reopens as museum</title><link href="{base}/news/mill-museum"/><id>urn:mill</id>
<updated>2024-02-25T12:00:00Z</updated>
<summary>The old mill opens its doors again on Saturday.</summary></entry>
<entry><title>Road works end</title><id>urn:uuid:road-works</id><updated>2024-02-26T12:00:00Z</updated>
<summary>Road works on the valley road end this week.</summary></entry>
</feed>"""


@pytest.fixture(scope="module")
def running_site() -> Iterator[Site]:
    site = Site()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.stop.set()
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture
def site(running_site: Site) -> Site:
    with running_site.lock:
        running_site.requests.clear()
    return running_site


# -- pages by URL ---------------------------------------------------------------------------------


def test_url_follows_redirect_and_keys_by_canonical_url(site: Site) -> None:
    result = load_url(f"{site.base}/go/bridge")
    [article] = result.articles
    key = f"{site.base}/news/riverside-bridge"
    assert (article.key, article.url, article.source) == (key, key, key)
    assert article.article_id == article_id_for(key)
    assert article.title == "Riverside bridge to close to cars in May"
    assert (article.date, article.publisher) == ("2024-03-12", "Harbour Gazette")
    for paragraph in BRIDGE:
        assert paragraph in blocks(article.text)
    assert_no_boilerplate(article.text)
    assert site.count("/go/bridge") == 1 and site.count("/news/bridge") == 1
    assert {agent for _, agent in site.requests} == {"ArticleAssistant/0.1"}


def test_url_without_canonical_is_keyed_by_final_url_without_fragment(site: Site) -> None:
    article = load_url(f"{site.base}/news/no-canonical#comments").articles[0]
    assert article.key == f"{site.base}/news/no-canonical"
    assert BRIDGE[0] in article.text


def test_fetch_reports_final_url_type_and_charset(site: Site) -> None:
    with http_client(20) as client:
        fetched = fetch_with(client, f"{site.base}/go/bridge", timeout=20, max_bytes=1_000_000)
    assert fetched.url == f"{site.base}/news/bridge?utm_source=feed"
    assert (fetched.content_type, fetched.charset) == ("text/html", "utf-8")
    assert b"Riverside bridge" in fetched.body


def test_url_page_in_latin1_is_decoded(site: Site) -> None:
    article = load_url(f"{site.base}/news/latin1").articles[0]
    assert article.title == "Café owners welcome the ferry"
    assert "the Café Royal" in article.text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("path", "kwargs", "reason"), [
    ("/missing", {}, "HTTP 404 Not Found"),
    ("/slow", {"timeout": 0.5}, "timed out after 0.5 s"),
    ("/big", {"max_bytes": 50_000}, "page is larger than 50000 bytes"),
    ("/big-declared", {"max_bytes": 50_000}, "page is larger than 50000 bytes"),
    ("/loop", {}, "more than 5 redirects"),
    ("/to-ftp", {}, "not http:// or https://"),
    ("/image.png", {}, "unsupported content type image/png"),
    ("/feed.rss", {}, "ingest it with --feed"),
])
def test_url_failures_are_one_line_errors_naming_the_url(site: Site, path: str, kwargs: dict[str, float],
                                                         reason: str) -> None:
    url = f"{site.base}{path}"
    started = time.monotonic()
    with pytest.raises(LoadError) as error:
        load_url(url, **kwargs)
    assert_one_line(str(error.value), url)
    assert reason in str(error.value)
    assert time.monotonic() - started < 4  # the slow page is abandoned, not waited for


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/news.txt", "file:///etc/hostname", "127.0.0.1/news"])
def test_url_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(LoadError) as error:
        load_url(url)
    assert_one_line(str(error.value), url)
    assert "only http:// and https://" in str(error.value)


def test_url_connection_refused() -> None:
    url = f"http://127.0.0.1:{_free_port()}/news"
    with pytest.raises(LoadError) as error:
        load_url(url, timeout=3)
    assert_one_line(str(error.value), url)
    assert "could not connect" in str(error.value)


def test_url_plain_text(site: Site) -> None:
    headline = load_url(f"{site.base}/notes.txt").articles[0]
    assert headline.title == "Tram line opens in Port Alder"
    assert headline.text == "The first tram left the depot at six.\nRiders queued from five."
    sentence = load_url(f"{site.base}/memo.txt").articles[0]  # a sentence is not a headline
    assert sentence.title == "memo"
    assert sentence.text == "The council said on Friday that the ferry will run on Sundays too."


def test_url_pdf(site: Site) -> None:
    url = f"{site.base}/files/annual-report.pdf"
    article = load_url(url).articles[0]
    assert (article.key, article.url, article.title) == (url, url, "Annual Report 2023")
    assert [article.text[s:e] for s, e in article.pages] == [REPORT_PAGE_1, "", REPORT_PAGE_3]


# -- feeds ----------------------------------------------------------------------------------------


def test_rss_feed_gives_one_article_per_entry(site: Site) -> None:
    result = load_feed(f"{site.base}/feed.rss")
    assert result.errors == []
    by_key = {a.key: a for a in result.articles}
    assert list(by_key) == [f"{site.base}/news/harbour-budget", f"{site.base}/news/ferry-service",
                            f"{site.base}/news/gone"]
    budget, ferry, gone = result.articles
    assert [a.date for a in result.articles] == ["2024-03-11", "2024-03-12", "2024-03-13"]
    assert {a.publisher for a in result.articles} == {"Harbour Gazette: Local"}
    assert budget.title == "Council approves harbour budget"
    assert blocks(budget.text) == FULL_CONTENT  # content:encoded, not the one-line description
    assert ferry.text == "A temporary ferry will link the two quays."  # HTML stripped from the summary
    assert gone.text == "Traders fear a quiet summer."
    assert ferry.article_id == article_id_for(ferry.key) and ferry.url == ferry.key
    assert site.count("/feed.rss") == 1 and len(site.requests) == 1  # no page fetched


def test_rss_fetch_pages_reads_summary_only_entries(site: Site) -> None:
    result = load_feed(f"{site.base}/feed.rss", fetch_pages=True)
    budget, ferry, gone = result.articles
    assert blocks(ferry.text) == FERRY  # the linked page's text, not the teaser
    assert ferry.key == f"{site.base}/news/ferry-service"
    assert blocks(budget.text) == FULL_CONTENT
    assert site.count("/news/harbour-budget") == 0  # full content in the feed: page not fetched
    assert gone.text == "Traders fear a quiet summer."  # its page is a 404: the summary stays
    [error] = result.errors
    assert_one_line(error, f"{site.base}/news/gone")
    assert "HTTP 404" in error


def test_feed_known_keys_are_skipped_without_fetching_their_pages(site: Site) -> None:
    known = {f"{site.base}/news/ferry-service", f"{site.base}/news/gone"}
    result = load_feed(f"{site.base}/feed.rss", fetch_pages=True, known_keys=known)
    assert [a.key for a in result.articles] == [f"{site.base}/news/harbour-budget"]
    assert result.errors == []
    assert site.count("/news/ferry-service") == 0 and site.count("/news/gone") == 0


def test_atom_feed_from_a_file_with_fetch_pages(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "courier.atom"
    path.write_text(atom_feed(site.base), encoding="utf-8")
    result = load_feed(str(path), fetch_pages=True)
    assert result.errors == []
    flood, mill, road = result.articles
    assert flood.key == f"{site.base}/news/flood-defences"
    assert flood.date == "2024-02-20"  # published, not updated
    assert blocks(flood.text) == ATOM_FULL
    assert mill.date == "2024-02-25"  # only <updated>
    assert blocks(mill.text) == FERRY  # summary-only: its page was read
    assert road.key == "urn:uuid:road-works" and road.url == ""  # no link: keyed by its id
    assert road.text == "Road works on the valley road end this week."
    assert {a.publisher for a in result.articles} == {"Alder Valley Courier"}
    assert site.count("/news/flood-defences") == 0 and site.count("/news/mill-museum") == 1


def test_atom_feed_by_url(site: Site) -> None:
    result = load_feed(f"{site.base}/feed.atom")
    assert [a.title for a in result.articles] == ["Flood defences finished", "Mill reopens as museum",
                                                  "Road works end"]
    assert result.articles[1].text == "The old mill opens its doors again on Saturday."


def test_malformed_feed_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("this is { not a feed at all", encoding="utf-8")
    with pytest.raises(LoadError) as error:
        load_feed(str(path))
    assert_one_line(str(error.value), str(path))
    assert "not an RSS or Atom feed" in str(error.value)


def test_web_page_given_as_feed_names_its_feed(site: Site) -> None:
    url = f"{site.base}/with-feed-link"
    with pytest.raises(LoadError) as error:
        load_feed(url)
    assert_one_line(str(error.value), url)
    assert f"the page names a feed at {site.base}/feed.rss" in str(error.value)


def test_feed_missing_file_and_bad_scheme(tmp_path: Path) -> None:
    for source, reason in [(str(tmp_path / "none.rss"), "no such file"),
                           ("ftp://127.0.0.1/feed.rss", "only http:// and https://")]:
        with pytest.raises(LoadError) as error:
            load_feed(source)
        assert_one_line(str(error.value), source)
        assert reason in str(error.value)


# -- end to end: `assistant ingest` with pages, feeds and PDFs, then `assistant ask` --------------


def test_cli_ingests_a_page_by_url_once_and_answers_from_it(site: Site, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    first = run_cli("ingest", f"{site.base}/go/bridge", "--store", store)
    assert "added 1," in first.stdout, first.stderr
    again = run_cli("ingest", f"{site.base}/news/bridge", "--store", store)
    assert "unchanged 1" in again.stdout, "the same page by another URL is one article"
    sources = run_cli("sources", "--store", store, "--json")
    [source] = json.loads(sources.stdout)
    assert source["url"] == f"{site.base}/news/riverside-bridge"
    answer = run_cli("ask", "How many vehicles a day does the bridge carry?", "--store", store)
    assert "eleven thousand vehicles" in answer.stdout, answer.stdout
    failed = run_cli("ingest", f"{site.base}/missing-page", "--store", store)
    assert failed.returncode == 1
    assert [line for line in failed.stderr.splitlines() if line.startswith("error:")] == [
        line for line in failed.stderr.splitlines() if "missing-page" in line]


def test_cli_feed_adds_only_new_entries_and_fetches_pages_once(site: Site, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    first = run_cli("ingest", "--feed", f"{site.base}/feed.rss", "--fetch-pages", "--store", store)
    assert "added 3," in first.stdout, (first.stdout, first.stderr)
    fetched = site.count("/news/ferry-service")
    assert fetched == 1, "the summary-only entry's page was fetched"
    again = run_cli("ingest", "--feed", f"{site.base}/feed.rss", "--fetch-pages", "--store", store)
    assert "added 0," in again.stdout, again.stdout
    assert site.count("/news/ferry-service") == fetched, "a known entry's page was fetched again"
    answer = run_cli("ask", "How often will the temporary ferry run?", "--store", store)
    assert "every fifteen minutes" in answer.stdout, answer.stdout


def test_cli_pdf_citations_name_their_page(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(REPORT_PAGES, title="Annual Report 2023"))
    store = str(tmp_path / "store")
    assert "added 1," in run_cli("ingest", str(path), "--store", store).stdout
    answer = run_cli("ask", "How much did spending rise?", "--store", store, "--json")
    citation = json.loads(answer.stdout)["citations"][0]
    assert "12.5 million pounds" in citation["text"] and citation["page"] == 3
    shown = run_cli("ask", "How much did spending rise?", "--store", store).stdout
    assert "p. 3, chars" in shown, shown
