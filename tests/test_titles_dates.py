"""Titles and dates read from the top of a news text (issue #23, "Sources in plain language").

A photo caption, a byline or a "Published" stamp is never a .txt file's title; a date is read
from a "Published/Updated/Posted" line or a wire dateline at the top when no metadata gives one,
and never from the story's sentences. The news files here are synthetic (the user's articles
are under copyright and stay in ../shared/articles).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from index.loaders import load_file

HEADLINE = "Tram Line to Carrow Opens Two Years Late"
BODY = ("The new tram line to Carrow opened on Monday, two years behind schedule.\n\n"
        "The city said the line cost 40 million euros.")


def write(folder: Path, name: str, content: str) -> Path:
    path = folder / name
    path.write_text(content, encoding="utf-8")
    return path


def topmatter() -> ModuleType:
    # Imported in each test, so that on code without the module every test fails on its own.
    return importlib.import_module("index.topmatter")


# ---------------------------------------------------------------------------------------------
# Titles

CAPTIONS = [
    "Officials and residents ride the first tram despite the rain/Reuters",
    "Officials ride the first tram on Monday (Reuters)",
    "Officials ride the first tram on Monday. REUTERS/Jane Doe",
    "The first tram leaves the depot (AP Photo/John Roe)",
    "The first tram leaves the depot | Getty Images",
    "The first tram leaves the depot. Photo: Jane Doe",
    "The first tram leaves the depot. Photograph: John Roe/AP",
    "Photo: Jane Doe/Carrow Council",
    "Credit: Carrow Council",
    "FILE PHOTO: A tram on its test run in Carrow",
    "Image: Carrow Council",
    "The first tram at the depot, JOHN ROE/AFP via Getty Images",
]


@pytest.mark.parametrize("caption", CAPTIONS)
def test_photo_caption_is_not_the_title_and_stays_in_the_text(tmp_path: Path, caption: str) -> None:
    path = write(tmp_path, "tram.txt", f"\n{caption}\n\n{HEADLINE}\n\n{BODY}\n")
    [article] = load_file(path).articles
    assert article.title == HEADLINE
    # A caption is text a reader may cite: only the title line leaves the text.
    assert article.text == f"{caption}\n\n{BODY}"


BYLINES = [
    "By Jane Doe",
    "By Jane Doe and John Roe",
    "By Jane Doe, Reuters",
    "Jane Doe | Reporter",
    "BY JANE DOE",
    "By Jane Doe, John Roe and Ann Poe",
    "By J. R. Hartley | Staff Writer",
    "By Jane Doe, The Associated Press",
    "By Seán O'Neill in Moscow",
]


@pytest.mark.parametrize("byline", BYLINES)
def test_byline_is_not_the_title(tmp_path: Path, byline: str) -> None:
    path = write(tmp_path, "tram.txt", f"{byline}\n\n{HEADLINE}\n\n{BODY}\n")
    [article] = load_file(path).articles
    assert article.title == HEADLINE
    assert article.text == f"{byline}\n\n{BODY}"


def test_headline_followed_by_byline_without_blank_line_is_the_title(tmp_path: Path) -> None:
    path = write(tmp_path, "tram.txt", f"{HEADLINE}\nBy Jane Doe\n\n{BODY}\n")
    [article] = load_file(path).articles
    assert article.title == HEADLINE
    assert article.text == f"By Jane Doe\n\n{BODY}"


def test_caption_then_standfirst_then_dateline_takes_the_standfirst(tmp_path: Path) -> None:
    # The shape of the user's news file: a blank line, a caption with a wire credit, a
    # one-sentence standfirst, then the dateline paragraph, with no blank lines between.
    content = ("\nOfficials ride the first tram despite the rain/Reuters\n"
               "The tram reached Carrow for the first time in 50 years on Monday.\n"
               "CARROW – The new tram line opened on Monday, two years late.\n"
               "The city said the line cost 40 million euros.\n")
    [article] = load_file(write(tmp_path, "tram.txt", content)).articles
    assert article.title == "The tram reached Carrow for the first time in 50 years on Monday."
    # The caption stays text (clean.py's reflow may join it to the next short line).
    assert article.text.startswith("Officials ride the first tram despite the rain/Reuters")
    assert article.date == ""  # "CARROW –" names no date


# Headlines that contain "By", a name, a wire's name or a picture word: each is still the title
# after a caption is passed over.
HEADLINES_NOT_BYLINES = [
    "By the Numbers: How the Tram Line Was Built",
    "By Any Means Necessary",
    "By Popular Demand, the Night Tram Returns",
    "By Design",
    "Prices Pushed Up By Drought and Heat",
    "Stand By Me Author Dies at 90",
    "Mayor Stunned By Council Vote, Aides Say",
    "Jane Doe Wins Mayoral Race in Carrow",
    "Doe, Roe Clash Over Tram Budget",
    "Reuters/Ipsos Poll: Most Riders Back the Tram",
    "Tram Line Opens Two Years Late - Reuters",
    "Tram Line Opens Two Years Late | Reuters",
    "The First Tram Leaves the Depot (Photos)",
    "Photos: The First Tram Leaves the Depot",
    "Published Works of Carrow Poets Go on Show",
]


@pytest.mark.parametrize("headline", HEADLINES_NOT_BYLINES)
def test_headline_with_by_or_a_name_is_still_the_title(tmp_path: Path, headline: str) -> None:
    caption = "Officials ride the first tram on Monday/Reuters"
    path = write(tmp_path, "tram.txt", f"{caption}\n\n{headline}\n\n{BODY}\n")
    [article] = load_file(path).articles
    assert article.title == headline
    assert article.text == f"{caption}\n\n{BODY}"


@pytest.mark.parametrize("line", HEADLINES_NOT_BYLINES)
def test_headline_is_neither_caption_nor_byline(line: str) -> None:
    module = topmatter()
    assert not module.is_caption(line)
    assert not module.is_byline(line)
    assert not module.is_not_headline(line)


def test_dateline_paragraph_is_not_a_caption() -> None:
    # "(Reuters)" opens a dateline; only at a line's end is it a credit.
    assert not topmatter().is_caption(
        "CARROW, Aug 15 (Reuters) - The new tram line opened on Monday, two years late.")


# ---------------------------------------------------------------------------------------------
# Dates

@pytest.mark.parametrize(("top", "date"), [
    ("Published: 15 August 2025", "2025-08-15"),
    ("Published Aug. 15, 2025 3:04 p.m. ET", "2025-08-15"),
    ("Updated 2025-08-16", "2025-08-16"),
    ("Posted Friday, Sept. 5, 2025", "2025-09-05"),
    ("By Jane Doe | Published Aug 15, 2025", "2025-08-15"),
    ("Published 08/15/2025", "2025-08-15"),
])
def test_published_line_gives_the_date_and_is_not_the_title(tmp_path: Path, top: str,
                                                            date: str) -> None:
    path = write(tmp_path, "tram.txt", f"{top}\n\n{HEADLINE}\n\n{BODY}\n")
    [article] = load_file(path).articles
    assert article.date == date
    assert article.title == HEADLINE
    assert top in article.text  # the stamp is not deleted from the text


def test_published_line_below_the_headline_and_byline(tmp_path: Path) -> None:
    content = (f"{HEADLINE}\n\nBy Jane Doe\nPublished: 15 August 2025\n"
               "Updated: 16 August 2025\n\n" + BODY)
    [article] = load_file(write(tmp_path, "tram.txt", content)).articles
    assert article.title == HEADLINE
    assert article.date == "2025-08-15"  # the original date, not the update


@pytest.mark.parametrize(("dateline", "date"), [
    ("WASHINGTON, Aug. 15, 2025 (AP) —", "2025-08-15"),
    ("CARROW, Ireland, Aug 15, 2025 (Reuters) -", "2025-08-15"),
    ("LONDON, 15 August 2025 (AFP) -", "2025-08-15"),
    ("August 15, 2025 3:04 PM GMT+1 CARROW, Aug 15 (Reuters) -", "2025-08-15"),
])
def test_wire_dateline_gives_the_date(tmp_path: Path, dateline: str, date: str) -> None:
    content = f"{HEADLINE}\n\n{dateline} The new tram line opened on Monday.\n\nIt cost a lot.\n"
    [article] = load_file(write(tmp_path, "tram.txt", content)).articles
    assert article.date == date
    assert article.text.startswith(dateline)


@pytest.mark.parametrize("text", [
    # A dateline without a year: no year is guessed, not from the clock, not from the story.
    "CARROW, Aug 15 (Reuters) - The line, first planned for the 2019 budget, opened.",
    "WASHINGTON (AP) — The line opened on Monday.",
    # Dates inside the story's sentences.
    "On August 3, 2025 the council met. The 2019 race was close.",
    "The study was published Aug. 15, 2025 in Nature.",
    "Published in 2019, the report found the line too costly.",
    # A stamp without a year, and one whose day and month could be either way round.
    "Published Aug 15\n\nThe line opened.",
    "Published 05/08/2025\n\nThe line opened.",
    # An impossible date.
    "Published: 31 September 2025\n\nThe line opened.",
])
def test_no_date_is_taken_from_unmarked_or_yearless_text(text: str) -> None:
    assert topmatter().date_from_top(f"{HEADLINE}\n\n{text}") == ""


def test_published_line_far_below_the_top_is_not_read() -> None:
    story = "\n".join(f"Paragraph {n} of the story." for n in range(12))
    assert topmatter().date_from_top(f"{HEADLINE}\n\n{story}\nPublished: 15 August 2025") == ""


def test_markdown_without_front_matter_date_reads_its_published_line(tmp_path: Path) -> None:
    dated = write(tmp_path, "a.md", f"# {HEADLINE}\n\n*Published: 15 August 2025*\n\n{BODY}\n")
    [article] = load_file(dated).articles
    assert (article.title, article.date) == (HEADLINE, "2025-08-15")
    # Front matter's date is metadata and wins over a line of text.
    meta = write(tmp_path, "b.md", f"---\ndate: 2025-02-01\n---\n# {HEADLINE}\n\n"
                 f"Published: 15 August 2025\n\n{BODY}\n")
    assert load_file(meta).articles[0].date == "2025-02-01"


PAGE = """<!doctype html><html><head><title>Tram | Carrow News</title>{meta}</head><body>
<article><h1>{headline}</h1>
<p>WASHINGTON, Aug. 15, 2025 (AP) — The new tram line to Carrow opened on Monday, two years
behind schedule, officials said at the depot.</p>
<p>The city said the line cost 40 million euros and would carry 20,000 riders a day.</p>
<p>Work on a second line is due to begin in the spring, the transport minister said.</p>
</article></body></html>"""


def test_html_without_a_date_reads_its_dateline(tmp_path: Path) -> None:
    bare = write(tmp_path, "a.html", PAGE.format(meta="", headline=HEADLINE))
    [article] = load_file(bare).articles
    assert (article.title, article.date) == (HEADLINE, "2025-08-15")
    dated = write(tmp_path, "b.html", PAGE.format(
        meta='<meta property="article:published_time" content="2025-03-04T10:00:00Z">',
        headline=HEADLINE))
    assert load_file(dated).articles[0].date == "2025-03-04"
