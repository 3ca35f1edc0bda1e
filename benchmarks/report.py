"""Turn a benchmark run's results into JSON, a Markdown table and an SVG chart.

The chart is hand-written SVG: no plotting library is a dependency of the project, and an SVG
renders on GitHub and in any browser.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

TARGET_ANSWER_P95_MS = 200.0
TARGET_REINGEST_SHARE = 0.05


def write_reports(results: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = "full" if 100000 in results["meta"].get("sizes", []) else "latest"
    json_path = out / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    md_path = out / f"{stem}.md"
    chart_name = "chart-full.svg" if stem == "full" else "chart.svg"
    md_path.write_text(markdown(results, chart_name), encoding="utf-8")
    paths = [json_path, md_path]
    if results.get("scale"):
        chart = out / chart_name
        chart.write_text(svg_chart(results["scale"]), encoding="utf-8")
        paths.append(chart)
    return paths


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def projected_ingest_s(row: dict[str, Any], ceiling: dict[str, Any]) -> float | None:
    """First ingest with the real model: measured pooled ingest plus the model's own time for
    the tokens it would embed (at the measured ceiling rate)."""
    tokens = _get(row, "ingest", "tokens_embedded")
    rate = ceiling.get("tokens_per_s")
    if not tokens or not rate:
        return None
    return row["ingest"]["seconds"] + tokens / rate


def markdown(r: dict[str, Any], chart_name: str) -> str:
    meta = r["meta"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {meta.get('started', '?')} on {meta.get('cpus')} × {meta.get('cpu', '?')}, "
        f"{meta.get('memory_gb')} GB, Python {meta.get('python')}; "
        + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
        + f". Whole run: {_fmt(meta.get('wall_s'), 0)} s. Load average at start "
        f"{meta.get('load_avg_start')}, at end {meta.get('load_avg_end')}: the machine is shared, "
        "so timings are noisy (a few tens of percent between runs).",
        "",
    ]
    lines += _headline(r)
    lines += _scale(r, chart_name)
    lines += _server(r)
    return "\n".join(lines) + "\n"


def _headline(r: dict[str, Any]) -> list[str]:
    side, ceiling = r.get("side_by_side"), r.get("ceiling", {})
    if not side:
        return []
    ours, base = side["ours"], side["baseline"]
    cold, quality = r.get("cold_start", {}), r.get("quality", {})
    c = side["corpus"]
    rows: list[tuple[str, Any, Any, str | None]] = []

    def add(label: str, a: Any, b: Any, ratio: str | None = None, digits: int = 1) -> None:
        rows.append((label, _fmt(a, digits) if not isinstance(a, str) else a,
                     _fmt(b, digits) if not isinstance(b, str) else b,
                     ratio if ratio is not None else _ratio(a, b)
                     if isinstance(a, (int, float)) and isinstance(b, (int, float)) else "–"))

    add("Ingest, articles/s", ours["articles_per_s"], base["articles_per_s"])
    add("Ingest, corpus tokens/s", ours["tokens_per_s"], base["tokens_per_s"], digits=0)
    add("… as a share of the model's own throughput", _pct(ours["share_of_ceiling"]),
        _pct(base["share_of_ceiling"]), _ratio(ours["share_of_ceiling"], base["share_of_ceiling"]))
    ot, bt = _get(ours, "ingest", "tokens_embedded"), _get(base, "ingest", "tokens_embedded")
    add("Tokens the model embeds (share of the corpus)",
        f"{_fmt(ot)} ({_pct(ot / c['tokens'] if ot else None)})",
        f"{_fmt(bt)} ({_pct(bt / c['tokens'] if bt else None)})", _ratio(ot, bt))
    add("First ingest, s", ours["ingest"]["seconds"], base["ingest"]["seconds"], digits=2)
    oa, ba = ours["reingest"]["seconds"], base["reingest"]["seconds"]
    add("Re-ingest unchanged corpus, s (share of first)",
        f"{oa:.3f} ({_pct(oa / ours['ingest']['seconds'])})",
        f"{ba:.3f} ({_pct(ba / base['ingest']['seconds'])})", _ratio(oa, ba))
    for mode, label in (("retrieve", "Retrieval"), ("answer", "Full answer")):
        for p in ("p50", "p95"):
            add(f"{label} latency {p}, ms", _get(ours, mode, "latency_ms", p),
                _get(base, mode, "latency_ms", p))
    add("Cold start to first answer, s (median)", _get(cold, "ours", "median_s"),
        _get(cold, "baseline", "median_s"), digits=2)
    add("Peak RSS, ingest process, MB", _get(ours, "ingest", "peak_rss_mb"),
        _get(base, "ingest", "peak_rss_mb"), digits=0)
    add("Peak RSS, query process, MB", _get(ours, "answer", "peak_rss_mb"),
        _get(base, "answer", "peak_rss_mb"), digits=0)
    add("Peak RSS, cold `ask` process, MB", _get(cold, "ours", "peak_rss_mb"),
        _get(cold, "baseline", "peak_rss_mb"), digits=0)
    add("Index size on disk, MB", ours["index_mb"], base["index_mb"], digits=2)
    q_o, q_b = quality.get("ours", {}), quality.get("baseline", {})
    add(f"{quality.get('dataset', 'squad2')}: answer holds a gold answer "
        f"({q_o.get('answerable', '?')} answerable)", _pct(q_o.get("holds_gold")),
        _pct(q_b.get("holds_gold")), _ratio(q_o.get("holds_gold"), q_b.get("holds_gold")))
    add(f"{quality.get('dataset', 'squad2')}: abstains on unanswerable "
        f"({q_o.get('unanswerable', '?')})", _pct(q_o.get("abstain_unanswerable")),
        _pct(q_b.get("abstain_unanswerable")), "–")
    add(f"{quality.get('dataset', 'squad2')}: wrongly abstains on answerable",
        _pct(q_o.get("false_abstain")), _pct(q_b.get("false_abstain")), "–")
    add("Generated corpus: answer holds the fact asked for", _pct(ours.get("generated_holds_gold")),
        _pct(base.get("generated_holds_gold")),
        _ratio(ours.get("generated_holds_gold"), base.get("generated_holds_gold")))

    out = [
        "## Side by side: Article Assistant vs plain LlamaIndex",
        "",
        f"{c['articles']} generated articles ({_fmt(c['words'])} words, {_fmt(c['sentences'])} "
        f"sentences, {_fmt(c['tokens'])} model tokens), both embedded for real with the same "
        f"model. The model alone embeds these sentences at {_fmt(ceiling.get('tokens_per_s'), 0)} "
        f"tokens/s ({_fmt(ceiling.get('sentences_per_s'), 0)} sentences/s), the ingest ceiling, "
        "measured right after each system's ingest in the same process; each system's share is "
        "against its own. "
        f"Latency: {_get(ours, 'retrieve', 'latency_ms', 'n')} retrieval and "
        f"{_get(ours, 'answer', 'latency_ms', 'n')} answer queries about the corpus, top-k 6, "
        "after 3 warm-up queries, the two systems taking turns query by query in one process. "
        "Peak RSS of queries: a process of each system's own. Quality: "
        + (f"{quality['questions']} of the {quality['questions_total']} questions"
           if quality.get("questions_total", quality.get("questions")) != quality.get("questions")
           else "all questions")
        + " of the dataset over its one article.",
        "",
        "| | Article Assistant | LlamaIndex baseline | ours ÷ baseline |",
        "|---|---:|---:|---:|",
    ]
    out += [f"| {label} | {a} | {b} | {ratio} |" for label, a, b, ratio in rows]
    lead = quality.get("baseline_lead2")
    if lead:
        out += ["", f"Baseline answering with the top node's first two sentences instead: holds a gold "
                f"answer {_pct(lead['holds_gold'])}."]
    out.append("")
    return out


def _scale(r: dict[str, Any], chart_name: str) -> list[str]:
    scale, ceiling = r.get("scale"), r.get("ceiling", {})
    if not scale:
        return []
    pool = r.get("pool", {})
    out = [
        "## Scale",
        "",
        f"Pooled corpora: articles composed from the paragraphs of {pool.get('articles')} fresh "
        f"articles ({_fmt(pool.get('sentences'))} distinct sentences, embedded once and cached), so "
        "ingest here is everything except the model. *Projected* adds the model's time for the "
        f"tokens embedded at the measured {_fmt(ceiling.get('tokens_per_s'), 0)} tokens/s. Queries "
        "embed the question with the real model; every size and system takes turns query by query "
        "in one process, so the load of the shared machine hits all alike. Peak RSS: a process "
        "of its own for each.",
        "",
        "| articles | system | ingest s | projected with model, s "
        "| re-ingest s (share of ingest; of projected) | retrieval p50 / p95 ms "
        "| answer p50 / p95 ms | peak RSS ingest / query MB | index MB (per 1,000 articles) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in scale:
        for system in ("ours", "baseline"):
            s = row.get(system)
            if not s:
                continue
            projected = projected_ingest_s(s, ceiling)
            again = s["reingest"]["seconds"]
            out.append(
                f"| {row['articles']:,} | {'ours' if system == 'ours' else 'LlamaIndex'} "
                f"| {s['ingest']['seconds']:.1f} | {_fmt(projected, 0)} "
                f"| {again:.2f} ({_pct(again / s['ingest']['seconds'])}; "
                f"{_pct(again / projected) if projected else '–'}) "
                f"| {_fmt(_get(s, 'retrieve', 'latency_ms', 'p50'))} / "
                f"{_fmt(_get(s, 'retrieve', 'latency_ms', 'p95'))} "
                f"| {_fmt(_get(s, 'answer', 'latency_ms', 'p50'))} / "
                f"{_fmt(_get(s, 'answer', 'latency_ms', 'p95'))} "
                f"| {_fmt(s['ingest']['peak_rss_mb'], 0)} / {_fmt(_get(s, 'answer', 'peak_rss_mb'), 0)} "
                f"| {_fmt(s['index_mb'])} ({_fmt(1000 * s['index_mb'] / row['articles'])}) |")
    out += ["", *_growth(scale), *_targets(scale, ceiling), "",
            f"![latency and memory against corpus size]({chart_name})", ""]
    return out


def _growth(scale: list[dict[str, Any]]) -> list[str]:
    out = []
    for lo, hi in itertools.pairwise(scale):
        for system, name in (("ours", "Ours"), ("baseline", "LlamaIndex")):
            a, b = lo.get(system), hi.get(system)
            if not a or not b:
                continue

            def grow(*path: str, a: dict[str, Any] = a, b: dict[str, Any] = b) -> str:
                before, after = _get(a, *path), _get(b, *path)
                return f"×{after / before:.2f}" if before and after else "–"

            out.append(
                f"- {name}, {lo['articles']:,} → {hi['articles']:,} articles "
                f"(×{hi['articles'] / lo['articles']:g}): ingest {grow('ingest', 'seconds')}, "
                f"retrieval p95 {grow('retrieve', 'latency_ms', 'p95')}, "
                f"answer p95 {grow('answer', 'latency_ms', 'p95')}, "
                f"query RSS {grow('answer', 'peak_rss_mb')}, ingest RSS {grow('ingest', 'peak_rss_mb')}, "
                f"index {grow('index_mb')}.")
    return out


def _targets(scale: list[dict[str, Any]], ceiling: dict[str, Any]) -> list[str]:
    row = next((x for x in scale if x["articles"] == 10000), None)
    if not row or "ours" not in row:
        return []
    s = row["ours"]
    p95 = _get(s, "answer", "latency_ms", "p95")
    share = s["reingest"]["seconds"] / s["ingest"]["seconds"]
    projected = projected_ingest_s(s, ceiling)
    real_share = s["reingest"]["seconds"] / projected if projected else None

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    return [
        "",
        f"Targets at 10,000 articles: extractive answer p95 {p95:.0f} ms (target ≤ "
        f"{TARGET_ANSWER_P95_MS:.0f} ms: {verdict(p95 <= TARGET_ANSWER_P95_MS)}); re-ingest of the "
        f"unchanged corpus {s['reingest']['seconds']:.2f} s = {_pct(share)} of the pooled first "
        f"ingest and {_pct(real_share)} of the projected real one (target ≤ 5%: "
        f"{verdict(share <= TARGET_REINGEST_SHARE)} against the pooled ingest, which excludes the "
        "model and so is the harder test).",
    ]


def _server(r: dict[str, Any]) -> list[str]:
    server = r.get("server")
    if not server:
        return []
    out = [
        f"## Chroma server on loopback ({server['articles']:,} articles)",
        "",
        "Each system ingests the scale corpus through a real `chroma run` started on an empty "
        "folder (pooled vectors, so no model time; ours keeps its article records and state on "
        "the server, its catalog is the local cache), then the same questions go through the "
        "embedded client over the scale series' store and through the server, alternating query "
        "by query in one process so that load on the shared machine hits both alike. The "
        "overhead is the per-query difference.",
        "",
        "| system | query | embedded p50 / p95 ms | server p50 / p95 ms | overhead p50 / p95 ms "
        "| ingest through the server s | server peak RSS MB | server data MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for system in ("ours", "baseline"):
        row = server.get(system)
        if not row:
            continue
        name = "ours" if system == "ours" else "LlamaIndex"
        for mode, label in (("retrieve", "retrieval"), ("answer", "full answer")):
            m = row.get(mode)
            if not m:
                continue
            out.append(
                f"| {name} | {label} | {_fmt(_get(m, 'embedded', 'p50'))} / "
                f"{_fmt(_get(m, 'embedded', 'p95'))} | {_fmt(_get(m, 'server', 'p50'))} / "
                f"{_fmt(_get(m, 'server', 'p95'))} | {_fmt(_get(m, 'difference_ms', 'p50'))} / "
                f"{_fmt(_get(m, 'difference_ms', 'p95'))} "
                f"| {_fmt(_get(row, 'ingest', 'seconds'))} | {_fmt(row.get('server_peak_rss_mb'), 0)} "
                f"| {_fmt(row.get('server_data_mb'))} |")
    out.append("")
    return out


# --- chart -------------------------------------------------------------------------------------

COLOURS = {"ours": "#1f6feb", "baseline": "#d97706"}


def _panel(x0: float, title: str, ylabel: str, series: list[tuple[str, str, bool, list[tuple[int, float]]]],
           target: tuple[float, str] | None = None, width: float = 420, height: float = 380) -> str:
    """One log-x line panel with its legend underneath. series: (label, colour, dashed, points)."""
    left, right, top, bottom = 62, 16, 34, 110
    xs = sorted({x for *_, pts in series for x, _ in pts})
    ys = [y for *_, pts in series for _, y in pts] + ([target[0]] if target else [])
    if not xs or not ys:
        return ""
    lx0, lx1 = math.log10(min(xs)), math.log10(max(xs))
    if lx1 == lx0:
        lx0, lx1 = lx0 - 0.5, lx1 + 0.5
    ymax = max(ys) * 1.12 or 1.0
    step = 10 ** math.floor(math.log10(ymax / 4)) if ymax > 0 else 1
    while ymax / step > 6:
        step *= 2
    plot_bottom = height - bottom

    def px(x: float) -> float:
        return x0 + left + (math.log10(x) - lx0) / (lx1 - lx0) * (width - left - right)

    def py(y: float) -> float:
        return top + (1 - y / ymax) * (plot_bottom - top)

    parts = [f'<text x="{x0 + width / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>']
    tick = 0.0
    while tick <= ymax:
        parts.append(f'<line x1="{x0 + left}" x2="{x0 + width - right}" y1="{py(tick):.1f}" '
                     f'y2="{py(tick):.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{x0 + left - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    if target:
        parts.append(f'<line x1="{x0 + left}" x2="{x0 + width - right}" y1="{py(target[0]):.1f}" '
                     f'y2="{py(target[0]):.1f}" stroke="#dc2626" stroke-dasharray="2 3"/>')
        parts.append(f'<text x="{x0 + width - right}" y="{py(target[0]) - 4:.1f}" text-anchor="end" '
                     f'fill="#dc2626">{target[1]}</text>')
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{plot_bottom + 16}" text-anchor="middle">{x:,}</text>')
    parts.append(f'<text x="{x0 + width / 2}" y="{plot_bottom + 32}" text-anchor="middle">'
                 "articles (log scale)</text>")
    parts.append(f'<text transform="translate({x0 + 14},{(top + plot_bottom) / 2}) rotate(-90)" '
                 f'text-anchor="middle">{ylabel}</text>')
    for i, (label, colour, dashed, pts) in enumerate(series):
        pts = sorted(pts)
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in pts]
        # Legend in two columns under the axis label.
        lx = x0 + left + (i % 2) * 180
        ly = plot_bottom + 54 + 16 * (i // 2)
        parts.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{ly}" y2="{ly}" '
                     f'stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{lx + 26}" y="{ly + 4}">{label}</text>')
    return "\n".join(parts)


def svg_chart(scale: list[dict[str, Any]]) -> str:
    def points(system: str, *path: str) -> list[tuple[int, float]]:
        return [(row["articles"], float(v)) for row in scale
                if (v := _get(row, system, *path)) is not None]

    latency, memory = [], []
    for system, name in (("ours", "ours"), ("baseline", "LlamaIndex")):
        if not any(system in row for row in scale):
            continue
        colour = COLOURS[system]
        latency.append((f"{name} answer p95", colour, False, points(system, "answer", "latency_ms", "p95")))
        latency.append((f"{name} retrieval p95", colour, True,
                        points(system, "retrieve", "latency_ms", "p95")))
        memory.append((f"{name} query process", colour, False, points(system, "answer", "peak_rss_mb")))
        memory.append((f"{name} ingest process", colour, True, points(system, "ingest", "peak_rss_mb")))
    body = _panel(0, "Query latency (p95)", "ms", latency,
                  target=(TARGET_ANSWER_P95_MS, "target: answer p95 ≤ 200 ms at 10,000")) + "\n" + \
        _panel(440, "Peak RSS", "MB", memory)
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="880" height="380" '
            'font-family="sans-serif" font-size="11">\n<rect width="880" height="380" fill="white"/>\n'
            f"{body}\n</svg>\n")
