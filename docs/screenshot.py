"""Take the docs' screenshots of the demos on the shipped models: the gallery of `hfnets demo` (a 7 drawn with the
mouse on the MLP's tab; the GPT and the RNN writing from the same prompt on the text tab) and each view of the
Playground, after it trained a network live on MNIST.

python docs/screenshot.py --dataset_name ../shared/datasets/mnist   # writes docs/images/*.png (chromium, playwright)
"""

import argparse
import contextlib
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.conftest import free_port  # noqa: E402
from tests.spaces.test_apps import load_app  # noqa: E402
from tests.spaces.test_browser import CHROMIUM, draw, predicted_label, slide  # noqa: E402

MODELS = load_app("settings", None).model_ids(environ={})  # the shipped models
SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)], [(0.42, 0.52), (0.62, 0.52)]]


def gallery() -> None:
    demo = load_app("gallery").build_gallery(MODELS)
    with opened(demo, ready="#classify-drawing") as page:
        draw(page, demo, SEVEN)
        page.locator("#classify-drawing").click()
        print("the gallery read the drawing as", predicted_label(page))
        save(page, "gallery")

        page.get_by_role("tab", name="Text: GPT and RNN").click()
        page.locator("#write:visible").click()
        for box in ("#text", "#rnn-text"):
            page.wait_for_function(
                f"() => document.querySelector('{box} textarea').value.length > 300", timeout=120_000
            )
        save(page, "text")


@contextlib.contextmanager
def opened(demo, ready: str | None = None):
    """`demo` served locally and opened in Chromium; the page, once loaded (and `ready` visible, for a page with
    per-visitor state, which never goes network-idle)."""
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load" if ready else "networkidle")
        if ready:
            page.locator(ready).first.wait_for(state="visible")
        try:
            yield page
        finally:
            browser.close()
            demo.close()


def save(page, name: str) -> None:
    page.wait_for_timeout(1000)
    output = REPO_ROOT / "docs" / "images" / f"{name}.png"
    page.screenshot(path=output, full_page=True)
    print(f"wrote {output}")


def playground(dataset_name: str) -> None:
    demo = load_app("playground").build_demo(MODELS["mlp"], dataset_name)
    with opened(demo, ready="#train") as page:
        page.locator("#train").click()
        page.locator("#train-status").get_by_text("Done.").wait_for(timeout=600_000)
        save(page, "playground-train")

        page.get_by_role("tab", name="Weights").click()
        page.locator("#show-weights").click()
        page.locator("#weights-first img").wait_for(state="visible")
        save(page, "playground-weights")

        page.get_by_role("tab", name="Forward pass").click()
        draw(page, demo, SEVEN)
        page.locator("#forward").click()
        page.locator("#top-units img").first.wait_for(state="visible", timeout=60_000)
        save(page, "playground-forward")

        page.get_by_role("tab", name="Backward step").click()
        page.locator("#label input").click()
        page.get_by_role("option", name="2", exact=True).click()
        for _ in range(3):
            page.locator("#backward").click()
            page.wait_for_timeout(2000)
        save(page, "playground-backward")

        page.get_by_role("tab", name="Compare activations").click()
        page.locator("#compare").click()
        page.wait_for_function(
            "() => document.querySelector('#compare-table').innerText.includes('none (linear)')", timeout=600_000
        )
        save(page, "playground-compare")


def plane(dataset_name: str) -> None:
    demo = load_app("playground").build_demo(MODELS["mlp"], dataset_name)
    with opened(demo, ready="#train") as page:
        page.get_by_role("tab", name="2-D data").click()
        page.get_by_label("exclusive or").check()
        for slider, value in (("#plane-layers", 2), ("#plane-units", 6)):
            box = page.locator(f"{slider} input[type=number]")
            box.fill(str(value))
            box.press("Enter")
        page.locator("#plane-play").click()
        page.locator("#plane-status").get_by_text("Done").wait_for(timeout=600_000)
        save(page, "playground-plane")


def text_inside() -> None:
    with opened(load_app("gpt").build_demo(MODELS["gpt"])) as page:
        page.get_by_text("Inside the GPT: attention and the next character").click()
        page.locator("#head input").click()
        page.get_by_role("option", name="3", exact=True).click()
        for _ in range(3):
            before = page.locator("#inside-text textarea").input_value()
            page.locator("#next-character").click()
            page.wait_for_function(
                "before => document.querySelector('#inside-text textarea').value.length === before.length + 1",
                arg=before,
            )
        page.wait_for_timeout(3000)  # the view redrawn after the last draw
        page.locator("#attention img").wait_for(state="visible", timeout=60_000)
        page.locator("#inside").scroll_into_view_if_needed()
        save(page, "gpt-inside")
        position = page.locator("#walk-position input[type=number]")
        position.fill("10")
        position.press("Enter")
        page.locator("#walk").click()
        page.locator("#walk-steps").get_by_text("Position 10 holds").wait_for(timeout=60_000)
        page.locator("#walk-chart").scroll_into_view_if_needed()
        save(page, "gpt-walk")
    with opened(load_app("rnn").build_demo(MODELS["rnn"])) as page:
        page.get_by_text("Inside the RNN: one unit along a text").click()
        page.locator("#show-unit").click()
        page.locator('#responsive-units [data-testid="cell-0-1"]').click(timeout=60_000)  # the top line-end unit
        page.wait_for_timeout(3000)
        page.locator("#rnn-inside").scroll_into_view_if_needed()
        save(page, "rnn-inside")


def cnn_inside() -> None:
    demo = load_app("classifier").build_demo(MODELS["cnn"], MODELS["mlp"])
    with opened(demo, ready="#classify-drawing") as page:
        draw(page, demo, SEVEN)
        page.locator("#classify-drawing").click()
        page.get_by_text("Inside the CNN: feature maps and filters").click()
        page.locator("#cnn-look").click()
        page.locator("#cnn-note").get_by_text("The CNN reads").wait_for(timeout=60_000)
        page.locator("#cnn-maps img").first.wait_for(state="visible", timeout=30_000)
        save(page, "cnn-inside")
        page.locator("#kernel-follow").click()
        page.locator("#kernel-arithmetic").get_by_text("Filter 0 at row 14").wait_for(timeout=60_000)
        page.locator("#kernel-filter input[type=number]").fill("5")
        page.locator("#kernel-filter input[type=number]").press("Enter")
        page.locator("#kernel-slide").click()
        page.locator("#kernel-arithmetic").get_by_text("column 27").wait_for(timeout=60_000)
        page.locator("#kernel-picture").scroll_into_view_if_needed()
        save(page, "cnn-kernel")


def gan_inside() -> None:
    demo = load_app("gan").build_demo(MODELS["gan"], MODELS["mlp"])
    with opened(demo, ready="#generate") as page:
        page.get_by_role("tab", name="Inside the GAN").click()
        slide(page, "history-epoch", 3, then=("history-note", "Epoch 3"))
        page.locator("#score-generated").click()
        page.locator("#scored-note").get_by_text("of the generator's 8 digits").wait_for(timeout=60_000)
        draw(page, demo, SEVEN, canvas_id="gan-canvas")
        page.locator("#score-drawing").click()
        page.locator("#verdict-note").get_by_text("your drawing looks most real").wait_for(timeout=60_000)
        save(page, "gan-inside")
        page.get_by_role("tab", name="Train one live").click()
        page.locator("#live-play").click()
        page.wait_for_function(
            "() => { const m = document.querySelector('#live-status').innerText.match(/Step ([0-9,]+):/);"
            " return m !== null && Number(m[1].replace(/,/g, '')) >= 1500; }",
            timeout=300_000,
        )
        page.locator("#live-pause").click()
        page.locator("#live-status").get_by_text("Paused").wait_for(timeout=60_000)
        save(page, "gan-live")


def ddpm_inside() -> None:
    demo = load_app("ddpm").build_demo(MODELS["ddpm"], MODELS["mlp"])
    with opened(demo, ready="#generate") as page:
        page.get_by_text("Inside the diffusion: step by step").click()
        draw(page, demo, SEVEN, canvas_id="ddpm-canvas")
        page.locator("#noise-digit").click()
        page.locator("#forward-note").get_by_text("At t = 250").wait_for(timeout=60_000)
        slide(page, "noise-t", 500, then=("forward-note", "At t = 500"))
        page.locator("#trace").click()
        page.locator("#trace-note").get_by_text("Step 1 of 50").wait_for(timeout=120_000)
        slide(page, "trace-step", 35, then=("trace-note", "Step 35 of 50"))
        page.locator("#compare-ddpm").click()
        page.locator("#compare-status").get_by_text("Done.").wait_for(timeout=300_000)
        page.locator("#ddpm-inside").scroll_into_view_if_needed()
        save(page, "ddpm-inside")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset_name", default="ylecun/mnist", help="MNIST for the Playground: Hub id or folder.")
    parser.add_argument(
        "--only",
        choices=("gallery", "playground", "plane", "gpt", "cnn", "gan", "ddpm"),
        default=None,
        help="Take one set only.",
    )
    args = parser.parse_args()
    if args.only in (None, "gallery"):
        gallery()
    if args.only in (None, "playground"):
        playground(args.dataset_name)
    if args.only in (None, "plane"):
        plane(args.dataset_name)
    if args.only in (None, "gpt"):
        text_inside()
    if args.only in (None, "cnn"):
        cnn_inside()
    if args.only in (None, "gan"):
        gan_inside()
    if args.only in (None, "ddpm"):
        ddpm_inside()
