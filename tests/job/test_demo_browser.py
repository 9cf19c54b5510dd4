"""The draw-a-digit page in a real browser: headless Chromium draws digits on ``digit-canvas``
with pointer events and reads what the page shows.

Needs selenium (pip) and Debian's ``chromium`` and ``chromium-driver``; skipped without them,
except under CNN_EXT_REQUIRE_EXTRAS=1 (CI), where their absence fails. With
CNN_EXT_SCREENSHOT_DIR set, the screenshot is also written there (the docs' picture comes so).
"""

import math
import os
import shutil
from pathlib import Path

import pytest

from demo_client import CHROMEDRIVER, CHROMIUM, chromium, draw, running_server, wait_until
from extras import optional


def stroke(points):
    return [(round(x), round(y)) for x, y in points]


def ellipse(rx, ry, steps=36):
    return stroke((rx * math.sin(2 * math.pi * k / steps), -ry * math.cos(2 * math.pi * k / steps))
                  for k in range(steps + 1))


def line(start, end, steps=12):
    return stroke((start[0] + (end[0] - start[0]) * k / steps,
                   start[1] + (end[1] - start[1]) * k / steps) for k in range(steps + 1))


# Each digit: its strokes, each a list of points (x, y) from the canvas's centre.
DIGITS = {
    1: [line((4, -95), (-4, 95))],
    7: [line((-55, -85), (55, -85)) + line((55, -85), (-10, 95))[1:]],
    0: [ellipse(50, 85)],
}


@pytest.fixture(scope="module")
def browser():
    optional("selenium.webdriver", "pip install selenium")
    if not (CHROMIUM and CHROMEDRIVER):
        message = "Chromium and its driver are absent (apt-get install chromium chromium-driver)"
        if os.environ.get("CNN_EXT_REQUIRE_EXTRAS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(browser):
    with running_server() as server:
        browser.get(server.url)
        wait_until(browser, lambda: len(browser.find_elements("css selector", "#layers .layer")) > 0)
        yield browser


@pytest.mark.parametrize("digit", [1, 7, 0])
def test_a_drawn_digit_is_predicted_and_every_layer_shown(page, digit, tmp_path):
    page.find_element("id", "clear-button").click()
    assert page.find_element("id", "prediction").text == "?"
    draw(page, DIGITS[digit])
    wait_until(page, lambda: page.find_element("id", "prediction").text == str(digit))
    layer_count = len(page.execute_script("return page.model.layers"))
    sections = page.find_elements("css selector", "#layers .layer")
    assert layer_count == 12 and len(sections) == layer_count
    for section in sections:
        pictures = section.find_elements("css selector", "canvas")
        assert pictures, section.text
        assert all(picture.get_property("width") > 0 for picture in pictures)
    maps = sections[0].find_elements("css selector", "canvas.map")
    assert len(maps) == 6
    bars = page.find_elements("css selector", "#probabilities .probability.best")
    assert len(bars) == 1 and bars[0].text.startswith(str(digit))
    assert len(page.find_elements("css selector", "#filters canvas")) == 6
    seen = page.execute_script(
        "const c = document.getElementById('input-canvas').getContext('2d');"
        "return Array.from(c.getImageData(0, 0, 28, 28).data).filter((v, k) => k % 4 == 0 && v > 0).length")
    assert 20 < seen < 400  # the prepared 28x28 image shows the digit
    screenshot = tmp_path / f"demo-{digit}.png"
    page.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("CNN_EXT_SCREENSHOT_DIR"):
        shutil.copy(screenshot, Path(os.environ["CNN_EXT_SCREENSHOT_DIR"]) / screenshot.name)
    assert_console_clean(page)


def test_hovering_a_feature_map_pixel_highlights_its_receptive_field(page):
    from selenium.webdriver.common.action_chains import ActionChains

    page.find_element("id", "clear-button").click()
    draw(page, DIGITS[7])
    wait_until(page, lambda: page.find_element("id", "prediction").text == "7")
    second_conv_map = page.find_elements("css selector", '#layers .layer[data-index="3"] canvas.map')[0]
    ActionChains(page).move_to_element_with_offset(second_conv_map, 0, 0).perform()
    info = page.find_element("id", "hover-info").text
    assert "map 1" in info and "it saw input rows" in info
    highlighted = page.execute_script(
        "const c = document.getElementById('field-canvas').getContext('2d');"
        "return Array.from(c.getImageData(0, 0, 168, 168).data).filter((v, k) => k % 4 == 3 && v > 0).length")
    # a 14x14 map's middle pixel saw a 14x14 window (two 5x5 convolutions and a 2x2 pooling)
    assert (14 * 6) ** 2 <= highlighted <= (16 * 6) ** 2, highlighted
    ActionChains(page).move_to_element(page.find_element("css selector", "header h1")).perform()
    assert page.find_element("id", "hover-info").text == ""
    assert_console_clean(page)


def test_clear_empties_the_page(page):
    page.find_element("id", "clear-button").click()
    draw(page, DIGITS[1])
    wait_until(page, lambda: page.find_element("id", "prediction").text == "1")
    page.find_element("id", "clear-button").click()
    assert page.find_element("id", "prediction").text == "?"
    assert page.find_elements("css selector", "#layers canvas") == []
    assert_console_clean(page)


def assert_console_clean(driver):
    problems = [entry for entry in driver.get_log("browser")
                if entry["level"] in ("SEVERE", "WARNING")]
    assert problems == []
