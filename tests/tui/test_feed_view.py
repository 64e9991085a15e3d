"""Feed: `/` filters, `s` sorts, scores are coloured; detail: text first, n/p, c copies the JSON."""

from __future__ import annotations

import json

from fakes import FakeControl, make_feed
from pilot_helpers import settle, start, text

from watcher.tui.app import WatcherApp
from watcher.tui.screens.detail import DetailScreen, plain
from watcher.tui.widgets.feed import FeedView, feed_text

BIG = (120, 40)


async def test_slash_filters_the_feed_as_you_type_and_escape_clears() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        feed = app.query_one(FeedView)
        await pilot.press("slash", *"sonnet")
        await pilot.pause()
        assert feed.items and all(it.group == "Sonnet" for it in feed.items)
        assert f"/sonnet: {len(feed.items)} of 30" in text(app)
        await pilot.press("enter")  # keeps the filter; the feed has the focus again
        assert feed.has_focus and feed.query == "sonnet"
        await pilot.press("slash", *["backspace"] * 6, *"rejected kimi")  # several terms: all must match
        await pilot.pause()
        assert feed.items and all(it.kind == "rejected" and "kimi" in it.model for it in feed.items)
        await pilot.press("escape")
        await pilot.pause()
        assert feed.query == "" and len(feed.items) == 30 and feed.following
        assert "30 items · following" in text(app)


async def test_filtered_feed_keeps_adding_matching_items() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        feed = app.query_one(FeedView)
        feed.set_view(query="haiku")
        before = len(feed.items)
        fake.add_feed(make_feed(60)[30:])
        await app.poll_now()
        await pilot.pause()
        assert len(feed.items) > before and all("haiku" in (it.group + it.model).lower() for it in feed.items)


async def test_s_cycles_the_sort_time_score_down_score_up() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        feed = app.query_one(FeedView)
        await pilot.press("s")
        scores = [it.score for it in feed.items]
        assert feed.sort == "score ↓" and scores == sorted(scores, reverse=True)
        assert "sort score ↓" in text(app)
        await pilot.press("s")
        scores = [it.score for it in feed.items]
        assert scores == sorted(scores)
        await pilot.press("s")
        assert feed.sort == "time" and [it.id for it in feed.items] == [it.id for it in make_feed(30)]


def test_scores_are_coloured_by_value() -> None:
    by_score = {it.score: it for it in make_feed(30) if it.kind == "accepted"}
    styles = {}
    for it in (by_score[0.8], by_score[0.84], by_score[0.96]):
        t = feed_text(it, min_score=0.82)
        word = f"{it.score:.2f}"
        i = t.plain.index(word)
        styles[it.score] = {str(sp.style) for sp in t.spans if sp.start <= i < sp.end}
    assert "bold red" in styles[0.8] and "yellow" in styles[0.84] and "bold green" in styles[0.96]


async def test_detail_puts_the_poem_first_and_plain_values() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("enter")
        await settle(pilot)
        t = text(app)
        assert t.index("Shall I compare") < t.index("rubric") < t.index("synth trace") < t.index("backend")
        assert "passed             yes" in t and "True" not in t
        assert (plain(True), plain(1.0), plain(0.0031), plain(3)) == ("yes", "1", "0.0031", "3")


async def test_detail_n_and_p_step_through_the_feed_as_shown_and_c_copies() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        app.query_one(FeedView).set_view(query="sonnet")
        await pilot.press("enter")  # the cursor is on the newest Sonnet
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        newest = screen.item
        await pilot.press("p")
        await settle(pilot)
        assert screen.item.group == "Sonnet" and screen.item.id != newest.id
        assert screen.record is not None and screen.record["id"] == screen.item.id
        await pilot.press("n")
        await settle(pilot)
        assert screen.item.id == newest.id
        await pilot.press("n")  # nothing newer: stays
        assert screen.item.id == newest.id
        await pilot.press("c")
        assert json.loads(copied[-1])["id"] == newest.id


async def test_a_filtered_or_sorted_feed_puts_new_items_in_place_without_rebuilding() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    more = make_feed(150)[30:]
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        feed = app.query_one(FeedView)
        feed.max_items = 40  # small, so old items fall out of the view too
        rebuilds = 0
        rebuild = feed._rebuild_view

        def counted() -> None:
            nonlocal rebuilds
            rebuilds += 1
            rebuild()

        feed._rebuild_view = counted  # type: ignore[method-assign]
        for k, (query, sort) in enumerate((("sonnet", "time"), ("", "score ↓"), ("kimi", "score ↑"))):
            feed.set_view(query=query, sort=sort)
            rebuilds = 0
            for j in range(2):
                fake.add_feed(more[40 * k + 20 * j: 40 * k + 20 * (j + 1)])
                await app.poll_now()
            shown = [it.id for it in feed.items]
            assert rebuilds == 0 and shown and len(feed._all) == 40
            rebuild()  # the reference: everything re-matched and re-sorted
            assert [it.id for it in feed.items] == shown, (query, sort)
            assert [t.plain for t in feed._texts] == [feed_text(it).plain for it in feed.items]
