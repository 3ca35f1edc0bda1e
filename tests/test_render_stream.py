"""An answer streaming in looks like the final one: footnote pills from the first marker, and a
marker still being written never shows as raw text."""

from __future__ import annotations

import re

from ui.render import streaming_html


def test_markers_stream_in_as_footnote_pills_and_half_written_ones_wait() -> None:
    html = streaming_html("The talks lasted four hours [1]. They met in Alaska [2, 3")
    assert '<span class="aa-cite aa-pending">1</span>' in html
    assert "[" not in re.sub(r"<[^>]+>", "", html)  # no raw or half-written marker
    assert "They met in Alaska" in html and "aa-pending\">2" not in html
    done = streaming_html("The talks lasted four hours [1]. They met in Alaska [2, 3].")
    assert done.count('class="aa-cite aa-pending"') == 3
    # Article text stays text.
    assert "&lt;script&gt;" in streaming_html("<script>alert(1)</script> [1]")
