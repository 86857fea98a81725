"""The demos in a real browser (Debian's Chromium driven by Playwright): draw digits with the mouse, generate images,
stream text. Screenshots go to test-artifacts/ (or $HFNETS_TEST_ARTIFACTS) to be looked at."""

import math
import os
import shutil
from pathlib import Path

import gradio as gr
import pytest

from tests.conftest import REPO_ROOT, free_port
from tests.spaces.test_apps import load_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="needs Debian's chromium (apt install chromium)"),
]
ARTIFACTS = Path(os.environ.get("HFNETS_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture
def open_demo(browser):
    """Serve a demo on a free port and open it in a new page; close both afterwards."""
    opened = []

    def start(demo, ready: str | None = None):
        """`ready`: an element to wait for, where the page never idles (an app with per-visitor state keeps a
        heartbeat connection open)."""
        demo.queue()
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load" if ready else "networkidle")
        if ready:
            page.locator(ready).wait_for(state="visible", timeout=60_000)
        opened.append((demo, page))
        return page

    yield start
    for demo, page in opened:
        page.close()
        demo.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def paper_box(page, canvas_size: tuple[int, int], canvas_id: str = "canvas") -> dict[str, float]:
    """Where the Sketchpad's paper is on screen. The canvas element fills the whole editor; the paper is drawn
    centered inside it at the editor's zoom (shown as e.g. "72%"), so strokes must be placed relative to it."""
    canvas = page.locator(f"#{canvas_id} canvas").first.bounding_box()
    zoom = float(page.locator(f"#{canvas_id} .zoom-number").first.inner_text().strip().rstrip("%")) / 100
    width, height = canvas_size[0] * zoom, canvas_size[1] * zoom
    return {
        "x": canvas["x"] + (canvas["width"] - width) / 2,
        "y": canvas["y"] + (canvas["height"] - height) / 2,
        "width": width,
        "height": height,
    }


def draw(page, demo, strokes: list[list[tuple[float, float]]], canvas_id: str = "canvas") -> None:
    """Draw strokes on the Sketchpad whose elem_id is `canvas_id` with the mouse; points are fractions of the paper's
    width and height."""
    sketchpad = next(
        block for block in demo.blocks.values() if isinstance(block, gr.Sketchpad) and block.elem_id == canvas_id
    )
    # no tool is clicked first: a fresh sketchpad draws with the mouse at once, as a visitor expects (the page
    # chooses the brush as soon as the pad is shown: Gradio's "select the draw tool" hint goes)
    pad = page.locator(f"#{canvas_id}")
    pad.get_by_text("select the draw tool to start").wait_for(state="hidden", timeout=10_000)
    pad.scroll_into_view_if_needed()
    box = paper_box(page, sketchpad.canvas_size, canvas_id)
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for (x0, y0), (x, y) in zip(stroke, stroke[1:]):
            # intermediate mouse events as a hand makes them, about one per 2.5% of the paper: each is a browser
            # round trip, so a curve of many short segments needs few per segment
            steps = max(1, round(math.hypot(x - x0, y - y0) * 40))
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=steps)
        page.mouse.up()


def slide(page, slider_id: str, value: int, then: tuple[str, str]) -> None:
    """Set a slider by typing in its number box, as a user can, and wait for the element `then[0]` to show the text
    `then[1]`."""
    box = page.locator(f"#{slider_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    page.locator(f"#{then[0]}").get_by_text(then[1]).wait_for(timeout=60_000)


def predicted_label(page) -> str:
    value = page.locator('#prediction [data-testid="label-output-value"]')
    value.wait_for(state="visible", timeout=60_000)
    return value.inner_text().strip()


def circle(cx: float, cy: float, rx: float, ry: float, points: int = 24) -> list[tuple[float, float]]:
    return [
        (cx + rx * math.sin(2 * math.pi * i / points), cy - ry * math.cos(2 * math.pi * i / points))
        for i in range(points + 1)
    ]


@pytest.mark.parametrize(
    ("digit", "strokes"),
    [
        ("1", [[(0.5, 0.2), (0.5, 0.8)]]),
        ("0", [circle(0.5, 0.5, 0.18, 0.28)]),
        ("1", [[(0.15, 0.08), (0.17, 0.38)]]),
    ],
    ids=["one", "zero", "one-in-a-corner"],
)
def test_a_digit_drawn_with_the_mouse_is_recognized(open_demo, shipped_mlp_dir, digit, strokes, request):
    demo = load_app("classifier").build_demo(str(shipped_mlp_dir))
    page = open_demo(demo)
    draw(page, demo, strokes)
    page.locator("#classify-drawing").click()
    label = predicted_label(page)
    screenshot(page, f"classifier-{request.node.callspec.id}")
    assert label == digit


def test_an_oversized_photo_is_refused_on_the_upload_itself(open_demo, shipped_mlp_dir, tmp_path):
    from PIL import Image

    Image.new("L", (6000, 5000), 200).save(tmp_path / "big.png")  # 30 megapixels
    page = open_demo(load_app("classifier").build_demo(str(shipped_mlp_dir)))
    page.get_by_role("tab", name="Upload").click()
    page.locator("input[type=file]").last.set_input_files(tmp_path / "big.png")
    page.get_by_role("button", name="Classify the photo").click()
    message = page.get_by_text("The image is 6000x5000 pixels: upload one of at most 25 megapixels")
    message.wait_for(timeout=60_000)
    screenshot(page, "classifier-oversized-upload")


def test_gan_and_ddpm_demos_show_generated_images(open_demo, trained_dirs):
    for name in ("gan", "ddpm"):
        page = open_demo(load_app(name).build_demo(str(trained_dirs[name])), ready="#generate")
        page.locator("#generate").click()
        page.locator("#samples img").first.wait_for(state="visible", timeout=120_000)
        if name == "ddpm":
            page.wait_for_function(
                "() => document.querySelector('#status textarea').value.startsWith('done')", timeout=120_000
            )
        screenshot(page, f"{name}-generated")
        assert page.locator("#samples img").first.get_attribute("src")


def test_gpt_and_rnn_stream_text_side_by_side(open_demo, trained_dirs):
    page = open_demo(load_app("gallery").text_demo(str(trained_dirs["gpt"]), str(trained_dirs["rnn"])))
    page.locator("#write").click()
    for box in ("#text", "#rnn-text"):  # one click, both networks writing
        page.wait_for_function(
            f"() => document.querySelector('{box} textarea').value.length > 'ROMEO:'.length + 20", timeout=120_000
        )
    screenshot(page, "gpt-and-rnn-streamed")
    assert page.locator("#text textarea").input_value().startswith("ROMEO:")
    assert page.locator("#rnn-text textarea").input_value().startswith("ROMEO:")


def test_the_playground_follows_a_digit_forward_learns_from_it_trains_and_compares(
    open_demo, shipped_mlp_dir, tmp_path
):
    """As a learner uses it: draw a 1 and follow it forward; say it is a 7 and take backward steps (the loss on 7
    falls, the prediction moves toward it); train a network live; compare the activation functions."""
    import re
    import time

    from tests.helpers.datasets import make_image_dataset

    digits = make_image_dataset(tmp_path / "digits", num_rows=200, num_classes=10)
    demo = load_app("playground").build_demo(str(shipped_mlp_dir), str(digits))
    page = open_demo(demo, ready="#train")

    page.get_by_role("tab", name="Forward pass").click()
    draw(page, demo, [[(0.5, 0.2), (0.5, 0.8)]])
    page.locator("#forward").click()
    answer = page.locator('#probabilities [data-testid="label-output-value"]')
    answer.wait_for(state="visible", timeout=60_000)
    assert answer.inner_text().strip() == "1"
    page.locator("#top-units img").first.wait_for(state="visible", timeout=30_000)
    screenshot(page, "playground-forward")

    page.get_by_role("tab", name="Backward step").click()
    page.locator("#label input").click()
    page.get_by_role("option", name="7", exact=True).click()
    losses, text = [], page.locator("#backward-explanation")
    for _ in range(2):  # press again: keep learning from the same example
        previous = f"{losses[-1][0]:.3f}" if losses else ""
        page.locator("#backward").click()
        page.wait_for_function(  # this step's numbers: a loss before it other than the last step's
            "previous => { const m = document.querySelector('#backward-explanation').innerText"
            ".match(/([0-9.]+) before this step/); return m !== null && m[1] !== previous; }",
            arg=previous,
            timeout=60_000,
        )
        before, after = map(float, re.findall(r"([\d.]+) (?:before|after)", text.inner_text()))
        losses.append((before, after))
        assert after < before
    assert losses[1][0] == pytest.approx(losses[0][1], abs=1e-3)  # the second step starts where the first ended
    screenshot(page, "playground-backward")

    page.get_by_role("tab", name="Train").click()
    status = page.locator("#train-status")
    page.locator("#step").click()
    status.get_by_text("One step taken").wait_for(timeout=60_000)
    assert "step 1 of" in status.inner_text()
    page.get_by_label("one step at a time").check()
    page.locator("#train").click()  # Play, slowly: each step is drawn
    status.get_by_text("Playing").wait_for(timeout=60_000)
    page.locator("#stop").click()  # Pause
    status.get_by_text("Paused").wait_for(timeout=60_000)
    time.sleep(1.0)  # a run still playing would take about 4 steps a second
    paused_at = re.search(r"step (\d+) of", status.inner_text()).group(1)
    time.sleep(1.0)
    assert re.search(r"step (\d+) of", status.inner_text()).group(1) == paused_at
    page.get_by_label("as fast as it goes").check()
    page.locator("#train").click()  # Play on from there, to the end
    status.get_by_text("Done.").wait_for(timeout=120_000)
    page.locator("#weights img").wait_for(state="visible")
    page.locator("#curves img").wait_for(state="visible")
    screenshot(page, "playground-train")

    page.get_by_role("tab", name="Compare activations").click()
    page.locator("#compare").click()
    page.wait_for_function(
        "() => document.querySelector('#compare-table').innerText.includes('none (linear)')", timeout=180_000
    )
    screenshot(page, "playground-compare")


def test_the_gpt_inside_view_draws_attention_and_takes_one_character_at_a_time(open_demo, trained_dirs):
    demo = load_app("gpt").build_demo(str(trained_dirs["gpt"]))
    page = open_demo(demo)
    page.get_by_text("Inside the GPT: attention and the next character").click()
    page.locator("#look").click()
    page.locator("#attention img").wait_for(state="visible", timeout=60_000)
    page.locator("#inside-note").get_by_text("attends most to").wait_for(timeout=60_000)
    before = page.locator("#inside-text textarea").input_value()
    page.locator("#next-character").click()
    page.wait_for_function(
        "before => document.querySelector('#inside-text textarea').value.length === before.length + 1",
        arg=before,
        timeout=60_000,
    )
    assert page.locator("#inside-text textarea").input_value().startswith(before)
    # how the character was drawn stays, above the view of the text it ends
    page.wait_for_function(
        "() => { const t = document.querySelector('#inside-note').innerText;"
        " return t.includes('Drew') && t.includes('attends most to'); }",
        timeout=60_000,
    )
    screenshot(page, "gpt-inside")

    # at the most characters the map reads (64, or the model's context: 32 here), it is shown at its own size, so
    # its 12 px labels stay readable
    page.locator("#inside-text textarea").fill("ROMEO:\nWhat say you, my lord? Speak, for the night is long and cold.")
    page.locator("#look").click()
    page.wait_for_function(
        "() => { const img = document.querySelector('#attention img');"
        " return img !== null && img.complete && img.naturalWidth > 24 + 32 * 16; }",
        timeout=60_000,
    )
    shown = page.locator("#attention img").evaluate("img => img.getBoundingClientRect().width / img.naturalWidth")
    assert shown >= 0.9

    # one position followed through the block: every step, ending on the logits
    position = page.locator("#walk-position input[type=number]")
    position.fill("3")
    position.press("Enter")
    page.locator("#walk").click()
    steps = page.locator("#walk-steps")
    steps.get_by_text("Position 3 holds").wait_for(timeout=60_000)
    text = steps.inner_text()
    assert all(f"{n}. " in text for n in range(1, 8)) and "softmax" in text.lower()
    page.locator("#walk-chart img").wait_for(state="visible")
    screenshot(page, "gpt-walk")


def test_the_rnn_inside_view_colours_a_unit_along_the_text_and_picks_units_from_the_table(open_demo, trained_dirs):
    demo = load_app("rnn").build_demo(str(trained_dirs["rnn"]))
    page = open_demo(demo)
    page.get_by_text("Inside the RNN: one unit along a text").click()
    page.locator("#show-unit").click()
    page.locator("#rnn-inside-note").get_by_text("Layer 1, unit 0").wait_for(timeout=60_000)
    assert page.locator("#unit-text span").count() > 50  # a span per character
    cell = page.locator('#responsive-units [data-testid="cell-0-1"]')  # the first row's unit
    unit = cell.inner_text().strip()
    cell.click()  # selecting a row shows its unit
    page.locator("#rnn-inside-note").get_by_text(f"Layer 1, unit {unit}:").wait_for(timeout=60_000)
    screenshot(page, "rnn-inside")


def test_the_cnn_inside_view_shows_feature_maps_for_a_drawn_digit(open_demo, shipped_mlp_dir):
    cnn = REPO_ROOT / "pretrained" / "mnist-cnn"
    if not (cnn / "model.safetensors").is_file():
        pytest.skip(f"needs the shipped CNN at {cnn}")
    demo = load_app("classifier").build_demo(str(cnn), str(shipped_mlp_dir))
    page = open_demo(demo, ready="#classify-drawing")
    draw(page, demo, [[(0.5, 0.2), (0.5, 0.8)]])
    page.get_by_text("Inside the CNN: feature maps and filters").click()
    page.locator("#cnn-look").click()
    page.locator("#cnn-note").get_by_text("The CNN reads").wait_for(timeout=60_000)
    assert "reads 1" in page.locator("#cnn-note").inner_text()
    page.locator("#cnn-maps img").first.wait_for(state="visible", timeout=30_000)
    screenshot(page, "cnn-inside")

    # one filter, one position: follow it, click a place on the feature map, slide it along that row
    page.locator("#kernel-follow").click()
    arithmetic = page.locator("#kernel-arithmetic")
    arithmetic.get_by_text("Filter 0 at row 14, column 14").wait_for(timeout=60_000)
    kernel_picture = page.locator("#kernel-picture img")
    box = kernel_picture.bounding_box()
    natural = kernel_picture.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    scale = box["width"] / natural[0]
    kernel = load_app("classifier", "kernel")
    # the map's cell (row 5, column 20): its centre, in the picture's own pixels, then on screen
    x = 28 * kernel.ZOOM + kernel.GAP + 20 * kernel.ZOOM + kernel.ZOOM / 2
    y = kernel.TOP + 5 * kernel.ZOOM + kernel.ZOOM / 2
    page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
    arithmetic.get_by_text("Filter 0 at row 5, column 20").wait_for(timeout=60_000)
    page.locator("#kernel-slide").click()
    arithmetic.get_by_text("Filter 0 at row 5, column 27").wait_for(timeout=60_000)  # the end of the row
    screenshot(page, "cnn-kernel")


def test_the_gan_inside_view_slides_through_training_and_asks_the_discriminator(
    open_demo, trained_dirs, shipped_mlp_dir
):
    demo = load_app("gan").build_demo(str(trained_dirs["gan"]), str(shipped_mlp_dir))
    page = open_demo(demo, ready="#generate")
    page.get_by_role("tab", name="Inside the GAN").click()
    page.locator("#history-note").get_by_text("Epoch 2").wait_for(timeout=30_000)  # the last epoch first
    slide(page, "history-epoch", 1, then=("history-note", "Epoch 1"))
    page.locator("#history-grid img").wait_for(state="visible")
    page.locator("#gan-losses").wait_for(state="visible")
    page.locator("#score-generated").click()
    page.locator("#scored-note").get_by_text("of the generator's 8 digits").wait_for(timeout=60_000)
    draw(page, demo, [[(0.5, 0.2), (0.5, 0.8)]], canvas_id="gan-canvas")
    page.locator("#score-drawing").click()
    page.locator("#verdict-note").get_by_text("your drawing looks most real").wait_for(timeout=60_000)
    page.locator("#verdict img").wait_for(state="visible")
    screenshot(page, "gan-inside")


def test_the_diffusion_inside_view_noises_a_drawn_digit_and_steps_through_the_denoising(
    open_demo, trained_dirs, shipped_mlp_dir
):
    demo = load_app("ddpm").build_demo(str(trained_dirs["ddpm"]), str(shipped_mlp_dir))
    page = open_demo(demo, ready="#generate")
    page.get_by_text("Inside the diffusion: step by step").click()
    draw(page, demo, [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]], canvas_id="ddpm-canvas")
    page.locator("#noise-digit").click()
    page.locator("#forward-note").get_by_text("At t = 250").wait_for(timeout=60_000)
    slide(page, "noise-t", 700, then=("forward-note", "At t = 700"))
    page.locator("#forward-strip img").wait_for(state="visible")
    page.locator("#trace").click()
    page.locator("#trace-note").get_by_text("Step 1 of 50").wait_for(timeout=120_000)
    slide(page, "trace-step", 40, then=("trace-note", "Step 40 of 50"))
    page.locator("#play-denoising").click()  # the denoising as an animation, from step 40 on to the last
    page.locator("#trace-note").get_by_text("Step 50 of 50").wait_for(timeout=60_000)
    slide(page, "trace-step", 2, then=("trace-note", "Step 2 of 50"))
    page.locator("#play-denoising").click()
    page.wait_for_function(  # a few frames on, then paused
        "() => Number(document.querySelector('#trace-step input[type=number]').value) >= 6", timeout=60_000
    )
    page.locator("#pause-denoising").click()
    page.wait_for_timeout(1000)
    paused_at = page.locator("#trace-step input[type=number]").input_value()
    page.wait_for_timeout(1000)  # a playing animation would be 5 steps further
    assert page.locator("#trace-step input[type=number]").input_value() == paused_at
    assert f"Step {paused_at} of 50" in page.locator("#trace-note").inner_text()
    page.locator("#compare-ddpm").click()
    page.locator("#compare-status").get_by_text("Done.").wait_for(timeout=180_000)  # every sampler drawn
    page.locator("#samplers img").wait_for(state="visible")
    screenshot(page, "ddpm-inside")


def test_offline_with_an_empty_home_hfnets_demo_trains_in_the_playground(browser, tmp_path):
    """A newcomer's first run: no Hub, nothing cached, `hfnets demo`; the Playground's Play trains on the digits
    that ship with it."""
    import re
    import subprocess
    import sys
    import time

    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    for variable in ("HF_HOME", "HF_DATASETS_CACHE", "DATASET", "MLP_MODEL_ID"):
        env.pop(variable, None)
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "hfnets.cli", "demo", "--server_port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        deadline = time.monotonic() + 180
        while True:
            try:
                page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
                break
            except Exception:  # not serving yet
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        page.get_by_role("tab", name="Playground: see an MLP learn").click()
        page.locator("#train").click()
        status = page.locator("#train-status")
        try:  # the default 2 epochs of the 6,000 shipped digits are one frame or a few
            status.get_by_text("Done").wait_for(timeout=180_000)
        except Exception as error:
            screenshot(page, "playground-offline-failed")
            raise AssertionError(
                f"Play never trained. Status: {status.inner_text()!r}\nServer log:\n{log.read_text()[-6000:]}"
            ) from error
        text = status.inner_text()
        assert "6,000 training and 1,000 test digits of MNIST that ship with the Playground" in text
        assert float(re.search(r"accuracy ([0-9.]+)%", text).group(1)) > 80
        page.locator("#curves img").wait_for(state="visible")
        screenshot(page, "playground-offline")
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_playgrounds_2d_mode_plays_and_draws_every_unit_over_the_plane(open_demo, shipped_mlp_dir, tmp_path):
    from tests.helpers.datasets import make_image_dataset

    digits = make_image_dataset(tmp_path / "digits", num_rows=50, num_classes=10)
    demo = load_app("playground").build_demo(str(shipped_mlp_dir), str(digits))
    page = open_demo(demo, ready="#train")
    page.get_by_role("tab", name="2-D data").click()
    page.locator("#plane-step").click()
    status = page.locator("#plane-status")
    status.get_by_text("One step taken").wait_for(timeout=60_000)
    page.locator("#plane-play").click()
    status.get_by_text("Done").wait_for(timeout=180_000)  # 100 epochs of 200 points
    accuracy = float(status.inner_text().split("test accuracy ")[1].split("%")[0]) / 100
    assert accuracy > 0.9  # the circle, learned by 4 tanh units
    page.locator("#plane-view img").wait_for(state="visible")
    page.locator("#plane-curves img").wait_for(state="visible")
    screenshot(page, "playground-plane")


def test_a_gan_trains_live_in_the_page_and_pauses(open_demo, trained_dirs):
    import re

    demo = load_app("gan").build_demo(str(trained_dirs["gan"]))
    page = open_demo(demo, ready="#generate")
    page.get_by_role("tab", name="Train one live").click()
    page.locator("#live-play").click()
    status = page.locator("#live-status")
    page.wait_for_function(
        "() => { const m = document.querySelector('#live-status').innerText.match(/Step ([0-9,]+):/);"
        " return m !== null && Number(m[1].replace(/,/g, '')) >= 200; }",
        timeout=120_000,
    )
    page.locator("#live-pause").click()
    status.get_by_text("Paused").wait_for(timeout=60_000)
    paused_at = re.search(r"Step ([\d,]+):", status.inner_text()).group(1)
    page.wait_for_timeout(1000)
    assert re.search(r"Step ([\d,]+):", status.inner_text()).group(1) == paused_at
    page.locator("#live-picture img").wait_for(state="visible")
    screenshot(page, "gan-live")
