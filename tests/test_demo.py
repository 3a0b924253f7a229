"""`make demo`: a person draws a digit with the mouse in a real Chromium and sees the champion's answer,
which is also what the request log records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_pipeline import demo
from mnist_pipeline.inference import request_log, served_model
from test_serving import champion, free_port  # noqa: F401  (a fixture: the tiny registered champion)

pytestmark = pytest.mark.slow  # a real training, a real browser

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own browser download is not reachable
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = os.environ.get("DEMO_SCREENSHOT")  # where to keep the page as a person sees it (docs/img/demo.png)


@pytest.fixture
def page_url(champion, tmp_path, monkeypatch):  # noqa: F811
    cfg = champion[0]
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv(request_log.ENV, str(tmp_path / "requests.db"))
    monkeypatch.setenv(served_model.SOURCE_ENV, "demo")
    model, identity = demo.load_champion(cfg.tracking.tracking_uri, "tiny-classifier", "champion")
    assert identity == "tiny-classifier/1"
    port = free_port()
    app = demo.build_app(model, identity)
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}", model, tmp_path / "requests.db"
    finally:
        app.close()


def draw(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Mouse strokes with the sketchpad's brush, each point given in pixels from the drawing area's centre."""
    page.locator("#drawing").get_by_role("button", name="Brush").click()  # as a person picks the brush
    canvas = page.locator("#drawing canvas").first
    box = canvas.bounding_box()
    centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(centre_x + x, centre_y + y)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(centre_x + x, centre_y + y, steps=10)
        page.mouse.up()


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
def test_a_digit_drawn_with_the_mouse_gets_the_models_answer_and_is_logged(page_url, tmp_path):
    from playwright.sync_api import sync_playwright

    url, model, log = page_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.locator("#drawing canvas").first.wait_for(timeout=60_000)
            draw(page, [[(0, -100), (3, 0), (6, 100)]])  # a one: a single down stroke
            page.locator("#seen img").wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            shown = page.locator("#answer h2").inner_text(timeout=30_000).strip()
            page.screenshot(path=SCREENSHOT or str(tmp_path / "demo.png"), full_page=True)
        finally:
            browser.close()
    rows = request_log.read(log)
    assert shown == "1"
    assert rows["label"].tolist()[-1] == "1" and set(rows["source"]) == {"demo"}
    assert set(rows["model"]) == {"tiny-classifier/1"}
    assert 0.02 < rows["ink_area"][-1] < 0.3 and rows["ink_height"][-1] >= 18  # a tall thin stroke, as drawn
