"""The console at a million instances (issue 18): the process list's pages and the overview, as a real
headless Chromium shows them, 1M instances against 10k on PostgreSQL, taking turns. The overview shows
each state's count exact up to `query.count_limit` at once and the larger ones exact when counted (an
exact count reads every match: about 0.3 s per 700,000 here); both times are reported.

The instances are scale.py's realistic rows (70 % FINISHED, 15 % WAITING, 13 % FAILED, 2 % RUNNING, 20
processUris, 200 owners). A figure is the time from the user's act (opening the overview, clicking Next
page, submitting a filter) to the page showing its answer, p50 of a few. Goals: the list pages in
p50 <= 300 ms, the overview loads in under 1 s.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Callable

from playwright.sync_api import Page, sync_playwright

from tests.bench.scale import build, drop, serve
from tests.support.toolkits import require


def _ms(act: Callable[[], None]) -> float:
    started = time.perf_counter()
    act()
    return (time.perf_counter() - started) * 1000


def _overview(page: Page, console: str) -> tuple[float, float]:
    """Until the overview shows, and until its counts are all exact (past the count limit a state's count
    is first shown as "10,000+", then exact when counted)."""
    page.goto("about:blank")
    started = time.perf_counter()
    page.goto(f"{console}#/overview")
    page.wait_for_selector("main h1:text-is('Overview')")
    shown = (time.perf_counter() - started) * 1000
    page.wait_for_function("() => ![...document.querySelectorAll('[data-count]')].some(c => c.textContent.endsWith('+'))")
    return shown, (time.perf_counter() - started) * 1000


NEW_VIEW = "before => document.querySelector('main').dataset.drawn !== before"


def _acted(page: Page, act: Callable[[], None]) -> float:
    """The time from `act` until the console has drawn the view it leads to."""
    before = page.get_attribute("main", "data-drawn")
    return _ms(lambda: (act(), page.wait_for_function(NEW_VIEW, arg=before)))


def _pages(page: Page, console: str, fragment: str, turns: int) -> list[float]:
    """Open a list, then click Next page `turns` times: each click's time until its page shows."""
    page.goto(f"{console}{fragment}")
    page.wait_for_selector("#page-info")
    return [_acted(page, lambda: page.click("text=Next page")) for _ in range(turns)]


def _filtered(page: Page, console: str) -> float:
    """The filter form: WAITING processes of one definition, newest first, submitted."""
    page.goto(f"{console}#/processes")
    page.wait_for_selector("#page-info")
    page.fill("#processUri", "bench/p7.ipd")
    page.check("input[name=state][value=WAITING]")
    return _acted(page, lambda: page.click("text=Find"))


def report(rows: int = 1_000_000, small: int = 10_000, repeat: int = 5) -> str:
    chromium = require(["chromium"], ["chromium"])["chromium"]
    big_schema, small_schema = "pe_bench_console_big", "pe_bench_console_small"
    started = time.monotonic()
    try:
        urls = {"big": build(big_schema, rows, "pe-bench-console-big"),
                "small": build(small_schema, small, "pe-bench-console-small")}
        loaded = time.monotonic() - started
        with tempfile.TemporaryDirectory(prefix="pe-bench-console-") as temp, sync_playwright() as playwright:
            servers = {size: serve(Path(temp) / size, url, f"console-{size}") for size, url in urls.items()}
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                pages = {size: browser.new_page() for size in servers}
                consoles = {size: base.replace("/rest", "/console/") for size, (_, base) in servers.items()}
                figures: dict[tuple[str, str], list[float]] = {}
                for _ in range(repeat):  # the two sizes take turns
                    for size in ("big", "small"):
                        page, console = pages[size], consoles[size]
                        shown, exact = _overview(page, console)
                        figures.setdefault(("overview", size), []).append(shown)
                        figures.setdefault(("exact", size), []).append(exact)
                        figures.setdefault(("pages", size), []).extend(_pages(page, console, "#/processes", 3))
                        figures.setdefault(("deep", size), []).extend(
                            _pages(page, console, "#/processes?offset=5000", 2))
                        figures.setdefault(("filter", size), []).append(_filtered(page, console))
            finally:
                browser.close()
                for process, _ in servers.values():
                    process.terminate()
                    process.wait(timeout=40)
    finally:
        drop(big_schema)
        drop(small_schema)
    p50 = {key: median(values) for key, values in figures.items()}
    names = {"overview": "the overview, opened (goal < 1000 ms)", "exact": "… its counts all exact",
             "pages": "the process list, Next page (goal <= 300)",
             "deep": "… from offset 5000, Next page (goal <= 300)", "filter": "… a filter submitted (goal <= 300)"}
    lines = [f"Console in headless Chromium (PostgreSQL; {rows:,} and {small:,} instances loaded in {loaded:.0f} s; "
             f"p50, the sizes taking turns)", f"  {'':48} {'big ms':>8} {'small ms':>8}  big/small"]
    for key, name in names.items():
        lines.append(f"  {name:48} {p50[key, 'big']:8.0f} {p50[key, 'small']:8.0f}  {p50[key, 'big'] / p50[key, 'small']:6.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(*(int(a) for a in sys.argv[1:3])))
