"""Take the README's screenshots of the gallery of `hfnets demo` on the shipped models: a 7 drawn with the mouse on
the MLP's tab, and the GPT and the RNN writing from the same prompt on the text tab.

python docs/screenshot.py            # writes docs/images/gallery.png and text.png (needs chromium and playwright)
"""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from hfnets.demo import FAMILIES, resolve_model  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.spaces.test_apps import load_app  # noqa: E402
from tests.spaces.test_browser import CHROMIUM, draw, predicted_label  # noqa: E402

SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)], [(0.42, 0.52), (0.62, 0.52)]]


def main() -> None:
    no_cache = Path("/nonexistent")
    models = {spec.demo: resolve_model(family, None, no_cache, False, {}) for family, spec in FAMILIES.items()}
    demo = load_app("gallery").build_gallery(models)
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
        draw(page, demo, SEVEN)
        page.locator("#classify-drawing").click()
        print("the gallery read the drawing as", predicted_label(page))
        page.wait_for_timeout(1000)
        output = REPO_ROOT / "docs" / "images" / "gallery.png"
        output.parent.mkdir(exist_ok=True)
        page.screenshot(path=output, full_page=True)
        print(f"wrote {output}")

        page.get_by_role("tab", name="Text: GPT and RNN").click()
        page.locator("#write:visible").click()
        for box in ("#text", "#rnn-text"):
            page.wait_for_function(
                f"() => document.querySelector('{box} textarea').value.length > 300", timeout=120_000
            )
        page.wait_for_timeout(1000)
        output = REPO_ROOT / "docs" / "images" / "text.png"
        page.screenshot(path=output, full_page=True)
        print(f"wrote {output}")
        browser.close()
    demo.close()


if __name__ == "__main__":
    main()
