"""Each Gradio demo launched on 127.0.0.1 with a small trained model, called through gradio_client as a user's
browser or script would: every endpoint answers with the right types, bad input gets the friendly message."""

import concurrent.futures
import importlib
import re

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, ValidationError
from PIL import Image

from tests.conftest import REPO_ROOT, free_port

SPACES = REPO_ROOT / "spaces"


def load_app(name: str, module: str = "app"):
    """A module of the demos' package: `spaces/<name>/<module>.py` (a demo's page is its `app`), or `spaces/<name>.py`
    for a module they share (`load_app("settings", None)`)."""
    return importlib.import_module(f"spaces.{name}" + (f".{module}" if module else ""))


@pytest.fixture(scope="module")
def serve():
    """Launch a Blocks on a free local port; yield a client; close everything at the end of the module."""
    launched = []

    def start(demo, concurrency: int = 2) -> Client:
        demo.queue(default_concurrency_limit=concurrency)
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        launched.append(demo)
        return Client(f"http://127.0.0.1:{port}/", verbose=False)

    yield start
    for demo in launched:
        demo.close()


def image_size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


@pytest.fixture(scope="module")
def classifier(serve, trained_dirs):
    return serve(load_app("classifier").build_demo(str(trained_dirs["mlp"])), concurrency=4)


def test_classifier_answers_an_upload_with_labels_input_view_and_activations(classifier):
    label, seen, hidden = classifier.predict(
        handle_file(SPACES / "classifier" / "examples" / "seven_drawn_rgba.png"), api_name="/classify"
    )
    assert len(label["confidences"]) == 3 and label["label"] in [str(d) for d in range(10)]
    assert abs(sum(c["confidence"] for c in label["confidences"])) <= 1.0 + 1e-6
    assert image_size(seen) == (28 * 8, 28 * 8)  # the 28x28 input, enlarged
    assert image_size(hidden) == (44 + 16 * 22 + 8, 32 + 8 * 22 + 40)  # 128 hidden units as 8 labelled rows of 16


def test_classifier_reads_the_sketchpad_and_asks_for_a_drawing_when_empty(classifier, tmp_path):
    canvas = np.zeros((400, 400, 4), dtype=np.uint8)
    canvas[80:320, 190:210] = (0, 0, 0, 255)  # a black stroke on a transparent canvas: a "1"
    Image.fromarray(canvas).save(tmp_path / "one.png")
    drawing = {"background": None, "layers": [], "composite": handle_file(tmp_path / "one.png")}
    label, seen, _ = classifier.predict(drawing, api_name="/classify_drawing")
    assert label["label"] in [str(d) for d in range(10)] and image_size(seen) == (224, 224)

    with pytest.raises(AppError, match="Draw a digit first"):
        classifier.predict({"background": None, "layers": [], "composite": None}, api_name="/classify_drawing")
    Image.fromarray(np.zeros((400, 400, 4), dtype=np.uint8)).save(tmp_path / "blank.png")
    blank = {"background": None, "layers": [], "composite": handle_file(tmp_path / "blank.png")}
    with pytest.raises(AppError, match="Draw a digit first"):
        classifier.predict(blank, api_name="/classify_drawing")


def test_the_cnn_inside_view_shows_the_models_own_feature_maps_and_filters_beside_the_mlp(
    serve, trained_dirs, tmp_path
):
    import torch

    app = load_app("classifier")
    processor, model = load_app("classifier", "classify").load(str(trained_dirs["cnn"]))
    pixel_values = torch.randn(1, 1, 28, 28)
    inside = load_app("classifier", "cnn_inside").cnn_inside(model, pixel_values)
    with torch.no_grad():
        own = model(pixel_values=pixel_values, output_hidden_states=True)
    maps = [state for state in own.hidden_states if state.dim() == 4]
    assert len(inside["maps"]) == len(model.config.conv_channels) == len(maps)
    for shown, computed in zip(inside["maps"], maps, strict=True):
        np.testing.assert_array_equal(shown, computed[0].numpy())
    first_conv = next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d))
    np.testing.assert_array_equal(inside["filters"], first_conv.weight.detach().numpy())

    client = serve(app.build_demo(str(trained_dirs["cnn"]), str(trained_dirs["mlp"])))
    canvas = np.zeros((400, 400, 4), dtype=np.uint8)
    canvas[80:320, 190:210] = (0, 0, 0, 255)
    Image.fromarray(canvas).save(tmp_path / "one.png")
    drawing = {"background": None, "layers": [], "composite": handle_file(tmp_path / "one.png")}
    picture, note = client.predict(drawing, api_name="/cnn_inside")
    captions = [line[2:] for line in note.splitlines() if line.startswith("- ")]
    blocks = len(model.config.conv_channels)
    assert [c.startswith(f"block {i + 1}:") for i, c in enumerate(captions[:blocks])] == [True] * blocks
    assert "filters" in captions[blocks] and "the MLP's" in captions[blocks + 1] and "The CNN reads" in note
    assert Image.open(picture).size[1] > 30 * len(captions)  # a picture under each caption
    with pytest.raises(AppError, match="Draw a digit first"):
        client.predict({"background": None, "layers": [], "composite": None}, api_name="/cnn_inside")


def test_the_sliding_filters_arithmetic_is_the_first_convolutions_own_output(serve, trained_dirs, tmp_path):
    """One position written out (patch x kernel + bias) is what the model's first convolution computes there, at the
    centre and at the padded edges; over the API, the filter follows a drawing and slides along a row."""
    import torch

    kernel = load_app("classifier", "kernel")
    _, model = load_app("classifier", "classify").load(str(trained_dirs["cnn"]))
    pixel_values = torch.randn(1, 1, 28, 28)
    conv = kernel.first_convolution(model)
    with torch.no_grad():
        own = conv(pixel_values)[0]
    for channel, row, column in [(0, 14, 14), (3, 0, 0), (1, 27, 13)]:
        result = kernel.position(model, pixel_values, channel, row, column)
        assert result["sum"] == pytest.approx(float(own[channel, row, column]), abs=1e-5)
        assert result["relu"] == pytest.approx(max(float(own[channel, row, column]), 0.0), abs=1e-5)
    np.testing.assert_array_equal(kernel.feature_map(model, pixel_values, 2), own[2].numpy())

    client = serve(load_app("classifier").build_demo(str(trained_dirs["cnn"])))
    canvas = np.zeros((400, 400, 4), dtype=np.uint8)
    canvas[80:320, 190:210] = (0, 0, 0, 255)
    Image.fromarray(canvas).save(tmp_path / "one.png")
    drawing = {"background": None, "layers": [], "composite": handle_file(tmp_path / "one.png")}
    picture, sums = client.predict(drawing, 2, 14, 13, api_name="/kernel")
    assert "Filter 2 at row 14, column 13" in sums and "ReLU keeps it" in sums
    assert image_size(picture) == (2 * 28 * kernel.ZOOM + kernel.GAP, kernel.TOP + 28 * kernel.ZOOM + 4)
    frames = list(client.submit(2, 14, api_name="/kernel_slide"))
    assert [frame[0] for frame in frames] == list(range(28))  # the column, one position at a time
    with pytest.raises(AppError, match="Draw a digit first"):
        client.predict({"background": None, "layers": [], "composite": None}, 0, 0, 0, api_name="/kernel")


def test_a_cmyk_photo_is_read_as_the_ink_it_shows(classifier, tmp_path):
    """A print-colour (CMYK) JPEG has four channels, the fourth black ink: read as the digit the same photo in RGB
    shows, not refused as transparent."""
    photo = Image.open(SPACES / "classifier" / "examples" / "two_on_paper.png").convert("RGB")
    photo.save(tmp_path / "two-rgb.jpg", quality=95)
    photo.convert("CMYK").save(tmp_path / "two-cmyk.jpg", quality=95)
    _, seen_rgb, _ = classifier.predict(handle_file(tmp_path / "two-rgb.jpg"), api_name="/classify")
    label, seen_cmyk, _ = classifier.predict(handle_file(tmp_path / "two-cmyk.jpg"), api_name="/classify")
    assert label["label"] in [str(d) for d in range(10)]
    rgb, cmyk = (np.asarray(Image.open(path).convert("L"), dtype=float) for path in (seen_rgb, seen_cmyk))
    assert rgb.max() > 0 and np.abs(rgb - cmyk).mean() < 8  # the same strokes, up to JPEG's colour rounding


def test_classifier_refuses_hostile_uploads_in_plain_words_and_keeps_answering(classifier, tmp_path):
    Image.new("L", (9000, 9000), "white").save(tmp_path / "huge.png")  # 81 MP, a few hundred kB on disk
    (tmp_path / "notes.png").write_text("not an image")
    faint = np.full((64, 64, 3), 128, dtype=np.uint8)
    faint[20:40, 30:34] = 131  # a stroke too faint to be a digit
    Image.fromarray(faint).save(tmp_path / "faint.png")
    refusals = {
        "huge.png": "9000x9000 pixels: upload one of at most 25 megapixels",
        "notes.png": "cannot be read as an image",
        "faint.png": "No digit found",
    }
    example = handle_file(SPACES / "classifier" / "examples" / "two_on_paper.png")
    hostile = [
        classifier.submit(handle_file(tmp_path / name), api_name="/classify") for name in refusals for _ in (0, 1)
    ]
    good = [classifier.submit(example, api_name="/classify") for _ in range(4)]
    labels = [job.result(timeout=120)[0]["label"] for job in good]  # a 2-step model: any digit, but all alike
    assert len(set(labels)) == 1 and labels[0] in [str(d) for d in range(10)]
    for job, name in zip(hostile, [name for name in refusals for _ in (0, 1)]):
        # Files refused from their header are refused before they join the queue (Gradio's validator).
        refusal = AppError if name == "faint.png" else ValidationError
        with pytest.raises(refusal, match=refusals[name]):
            job.result(timeout=120)


def test_a_refused_input_leaves_no_traceback_in_the_servers_log(classifier, tmp_path, capfd):
    """An ordinary mistake (nothing drawn) is the visitor's to fix: said in the page, not logged as a crash."""
    Image.fromarray(np.zeros((64, 64, 4), dtype=np.uint8)).save(tmp_path / "blank.png")
    blank = {"background": None, "layers": [], "composite": handle_file(tmp_path / "blank.png")}
    capfd.readouterr()
    with pytest.raises(AppError, match="Draw a digit first"):
        classifier.predict(blank, api_name="/classify_drawing")
    assert "Traceback" not in capfd.readouterr().err


def test_classifier_answers_twenty_clients_at_once(classifier):
    example = SPACES / "classifier" / "examples" / "two_on_paper.png"
    jobs = [classifier.submit(handle_file(example), api_name="/classify") for _ in range(20)]
    labels = [job.result(timeout=120)[0]["label"] for job in jobs]
    assert len(labels) == 20 and len(set(labels)) == 1  # every client answered, all alike


def test_the_live_gan_learns_every_mode_of_the_ring_and_the_page_steps_and_plays_it(serve, trained_dirs):
    import time

    import torch

    live = load_app("gan", "live")
    gan = live.LiveGan("ring of 8")
    for _ in range(2500):
        gan.step()
    with torch.no_grad():
        fakes = gan.generator(gan.noise)
    modes = 1.4 * torch.stack(
        [torch.cos(torch.arange(8) * torch.pi / 4), torch.sin(torch.arange(8) * torch.pi / 4)], 1
    )
    nearest = torch.cdist(fakes, modes).min(1)
    assert float(nearest.values.median()) < 0.2  # on the modes (spread 0.08), not between them
    assert torch.bincount(nearest.indices, minlength=8).min() >= 0.05 * len(fakes)  # every mode, no collapse

    client = serve(load_app("gan").build_demo(str(trained_dirs["gan"])))
    picture, status = client.predict("circle", api_name="/live_new")
    assert "A new GAN on the circle" in status and image_size(picture) == (live.SIZE + 230, live.SIZE + 10)
    _, status = client.predict("circle", api_name="/live_step")
    assert status.startswith("Step 1:")
    job = client.submit("circle", api_name="/live_play")
    while len(job.outputs()) < 2:
        time.sleep(0.05)
    client.predict(api_name="/live_pause")  # Play draws the paused state itself, after its frame under way
    frames = list(job)
    assert "Paused" in frames[-1][-1] and job.status().code.name == "FINISHED"


def test_gan_generates_a_grid_and_a_latent_walk(serve, trained_dirs):
    client = serve(load_app("gan").build_demo(str(trained_dirs["gan"])))
    grid = client.predict("3", 7, 10, api_name="/generate")
    assert image_size(grid) == ((8 * 28) * 3, (2 * 28) * 3)  # 10 images, 8 per row, enlarged 3x
    again = client.predict("3", 7, 10, api_name="/generate")
    assert np.array_equal(np.asarray(Image.open(grid)), np.asarray(Image.open(again)))  # a seed is a seed
    strip = client.predict("5", 0, 1, 6, api_name="/interpolate")
    assert image_size(strip) == (6 * 28 * 3, 28 * 3)
    with pytest.raises(AppError, match="Ask for 1 to 64 images"):
        client.predict("3", 7, 500, api_name="/generate")
    with pytest.raises(AppError, match="The seed must be a whole number from 0"):
        client.predict("3", -1, 4, api_name="/generate")
    with pytest.raises(AppError, match="The seed must be a whole number from 0"):  # said, not an empty error
        client.predict("3", "lots", 4, api_name="/generate")


def drawn_one(tmp_path) -> dict:
    """A sketchpad's value as the browser sends it: a black stroke on a transparent canvas, a "1"."""
    canvas = np.zeros((400, 400, 4), dtype=np.uint8)
    canvas[80:320, 190:210] = (0, 0, 0, 255)
    Image.fromarray(canvas).save(tmp_path / "one.png")
    return {"background": None, "layers": [], "composite": handle_file(tmp_path / "one.png")}


def test_the_gan_inside_view_is_its_training_history_and_the_discriminators_own_scores(serve, trained_dirs, tmp_path):
    import json

    import torch

    app, inside = load_app("gan"), load_app("gan", "inside")
    folder = trained_dirs["gan"]
    pipe = load_app("gan", "generate").load(str(folder))
    # the history is what the training script kept: each epoch's losses and its fixed-noise grid
    epochs, missing = inside.training_history(str(folder))
    history = json.loads((folder / "all_results.json").read_text())["history"]
    assert missing is None and [entry["step"] for entry in epochs] == [entry["step"] for entry in history]
    assert [entry["grid"] for entry in epochs] == [str(folder / "samples" / f"step-{e['step']}.png") for e in history]
    table = inside.losses_table(epochs)
    assert len(table) == 3 * len(epochs) and set(table["series"]) == {
        "discriminator loss",
        "generator loss",
        "fakes caught (share)",
    }
    # the scores shown are the discriminator's own, on the images shown (scaled to its [-1, 1])
    shown = inside.scored_samples(pipe, label=3, seed=5)
    assert shown["labels"].tolist() == [3] * inside.NUM_SCORED
    expected = pipe(
        batch_size=inside.NUM_SCORED, class_labels=3, generator=torch.Generator().manual_seed(5), output_type="pt"
    ).images
    torch.testing.assert_close(shown["fakes"], expected)  # the pipeline's own digits for that seed
    for images, scores in ((shown["fakes"], shown["fake_scores"]), (shown["noise"], shown["noise_scores"])):
        torch.testing.assert_close(scores, pipe.discriminator(images * 2 - 1, shown["labels"]).logits)
    # a drawing: the classifier's image processor makes it an MNIST digit, scored alone as each class
    inputs = load_app("inputs", None)
    processor = inputs.load_processor(str(trained_dirs["mlp"]))
    canvas = np.zeros((400, 400, 4), dtype=np.uint8)
    canvas[80:320, 190:210] = (0, 0, 0, 255)
    digit = inputs.drawn_digit(processor, {"composite": canvas}, 28)
    torch.testing.assert_close(digit, processor(canvas, do_normalize=False, return_tensors="pt")["pixel_values"])
    alone = torch.cat([pipe.discriminator(digit * 2 - 1, torch.tensor([c])).logits for c in range(10)])
    torch.testing.assert_close(inside.drawing_scores(pipe, digit), alone)

    client = serve(app.build_demo(str(folder), str(trained_dirs["mlp"])))
    grid, note = client.predict(len(epochs), api_name="/history_epoch")
    assert f"**Epoch {len(epochs)}**" in note and image_size(grid) == image_size(epochs[-1]["grid"])
    sheet, note = client.predict("3", 5, api_name="/score_generated")
    assert note.startswith(f"{int((shown['fake_scores'] > 0).sum())} of the generator's {inside.NUM_SCORED} digits")
    assert image_size(sheet)[0] > inside.NUM_SCORED * 28 * 3
    verdict, note = client.predict(drawn_one(tmp_path), api_name="/score_drawing")
    assert f"As a **{int(alone.argmax())}**" in note and image_size(verdict)[1] > 28 * 4
    with pytest.raises(AppError, match="Draw a digit first"):
        client.predict({"background": None, "layers": [], "composite": None}, api_name="/score_drawing")
    with pytest.raises(AppError, match="Pick an epoch|maximum value"):
        client.predict(len(epochs) + 1, api_name="/history_epoch")

    # a folder saved without its discriminator, or its history: the page says so and the rest works
    bare = tmp_path / "generator-only"
    type(pipe)(generator=pipe.generator).save_pretrained(bare)
    demo = app.build_demo(str(bare), str(trained_dirs["mlp"]))
    notes = [block.value for block in demo.blocks.values() if type(block).__name__ == "Markdown"]
    assert any("saved without its discriminator" in note for note in notes)
    assert any("saved without its training history" in note for note in notes)


def test_ddpm_streams_previews_then_the_samples(serve, trained_dirs):
    client = serve(load_app("ddpm").build_demo(str(trained_dirs["ddpm"])), concurrency=1)
    job = client.submit("4", 1.5, "DDIM", 10, 3, 0, api_name="/generate")
    final_image, status = job.result(timeout=300)
    outputs = job.outputs()
    assert status.startswith("done: 3 images, DDIM, 10 steps")
    assert len(outputs) >= 3 and outputs[0][1].startswith("step ")  # intermediate images came first
    assert image_size(final_image) == (3 * 28 * 3, 28 * 3)
    with pytest.raises(AppError, match="DPM-Solver takes 1 to 100 steps"):
        client.predict("4", 1.5, "DPM-Solver", 500, 2, 0, api_name="/generate")
    with pytest.raises(AppError, match="Guidance runs from 1 to 10"):
        client.predict("4", 0.5, "DDIM", 5, 2, 0, api_name="/generate")


def test_ddpm_answers_four_clients_at_once(serve, trained_dirs):
    client = serve(load_app("ddpm").build_demo(str(trained_dirs["ddpm"])), concurrency=1)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(client.predict, str(d), 1.0, "DPM-Solver", 4, 2, d, api_name="/generate") for d in range(4)
        ]
        results = [future.result(timeout=300) for future in futures]
    assert [status for _, status in results] == ["done: 2 images, DPM-Solver, 4 steps"] * 4


def test_gpt_streams_growing_text_with_the_rnn_beside_it_in_the_gallery(serve, trained_dirs):
    client = serve(load_app("gallery").text_demo(str(trained_dirs["gpt"]), str(trained_dirs["rnn"])))
    job = client.submit("Shall I", 0.8, 10, 0.95, 12, api_name="/write")
    final = job.result(timeout=120)
    outputs = job.outputs()
    assert final.startswith("Shall I") and len(final) > len("Shall I")
    assert len(outputs) >= 2 and all(b.startswith(a) for a, b in zip(outputs, outputs[1:]))  # it grew
    longer = client.predict("Shall", 0.8, 10, 0.95, 80, api_name="/write")  # past the 32-character context
    assert longer.startswith("Shall") and len(longer) == len("Shall") + 80
    with pytest.raises(AppError, match="Type a prompt first"):
        client.predict("   ", 0.8, 10, 0.95, 12, api_name="/write")
    with pytest.raises(AppError, match="Ask for 1 to 1000 new characters"):
        client.predict("Shall", 0.8, 10, 0.95, 5000, api_name="/write")
    rnn = client.submit("Shall I", 0.8, 10, 0.95, 12, api_name="/write_rnn")  # the RNN beside it, same controls
    assert rnn.result(timeout=120).startswith("Shall I") and len(rnn.outputs()) >= 2


def test_the_rnn_alone_streams_growing_text(serve, trained_dirs):
    client = serve(load_app("rnn").build_demo(str(trained_dirs["rnn"])))
    job = client.submit("Shall I", 0.8, 10, 0.95, 40, api_name="/write")
    assert job.result(timeout=120).startswith("Shall I") and len(job.outputs()) >= 2
    with pytest.raises(AppError, match="Type a prompt first"):
        client.predict("", 0.8, 10, 0.95, 12, api_name="/write")


def test_the_diffusion_trace_is_the_pipelines_own_steps_and_the_schedulers_formula(serve, trained_dirs):
    import torch

    app, sampling = load_app("ddpm"), load_app("ddpm", "sample")
    pipe = sampling.load(str(trained_dirs["ddpm"]))
    record = load_app("ddpm", "reverse").trace(pipe, label=3, guidance_scale=2.0, seed=0, steps=5)
    scheduler = sampling.pipeline_with(pipe, "DDPM").scheduler
    scheduler.set_timesteps(5)
    assert record["timesteps"] == scheduler.timesteps.tolist() and len(record["x0"]) == 5
    for x_t, noise, x0, t in zip(record["x_t"], record["noise"], record["x0"], record["timesteps"], strict=True):
        alpha = scheduler.alphas_cumprod[t]
        expected = (x_t - (1 - alpha).sqrt() * noise) / alpha.sqrt()  # the clean image the noise implies
        if scheduler.config.clip_sample:
            expected = expected.clamp(-scheduler.config.clip_sample_range, scheduler.config.clip_sample_range)
        torch.testing.assert_close(x0, expected, rtol=1e-4, atol=1e-4)
    # the trace starts from the seed's noise, as the sampler does
    side = pipe.unet.config.sample_size
    start = torch.randn(1, pipe.unet.config.in_channels, side, side, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(record["x_t"][0], start[0])

    client = serve(app.build_demo(str(trained_dirs["ddpm"])))
    _, step_picture, schedule, note = client.predict("3", 2.0, 0, api_name="/trace")
    assert "Step 1 of 50" in note and Image.open(step_picture).size[0] > 3 * 28 and Image.open(schedule).size[1] > 100
    guided, samplers, status = client.predict("3", 0, api_name="/compare")
    assert status == "Done."
    assert Image.open(guided).size[0] > 4 * 28 and Image.open(samplers).size[0] > 2 * 28
    with pytest.raises(AppError, match="Guidance needs a digit"):
        client.predict("random", 0, api_name="/compare")


def test_the_forward_process_is_the_schedulers_noising_and_the_models_own_x0(serve, trained_dirs, tmp_path):
    from types import SimpleNamespace

    import torch

    app, sampling, forward = load_app("ddpm"), load_app("ddpm", "sample"), load_app("ddpm", "forward")
    pipe = sampling.load(str(trained_dirs["ddpm"]))
    scheduler = sampling.pipeline_with(pipe, "DDPM").scheduler
    side = pipe.unet.config.sample_size
    clean = torch.rand(1, pipe.unet.config.in_channels, side, side) * 2 - 1
    shown = forward.forward_process(pipe, scheduler, clean, timestep=300, seed=4, label=2)
    alpha = scheduler.alphas_cumprod[300]
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(shown["noise"], noise)
    torch.testing.assert_close(shown["x_t"], alpha.sqrt() * clean + (1 - alpha).sqrt() * noise)  # q(x_t | x0)
    with torch.no_grad():
        prediction = pipe.unet(shown["x_t"], torch.tensor([300]), class_labels=torch.tensor([2])).sample
    if scheduler.config.prediction_type == "v_prediction":
        x0 = alpha.sqrt() * shown["x_t"] - (1 - alpha).sqrt() * prediction
    else:
        x0 = (shown["x_t"] - (1 - alpha).sqrt() * prediction) / alpha.sqrt()
    if scheduler.config.clip_sample:
        x0 = x0.clamp(-scheduler.config.clip_sample_range, scheduler.config.clip_sample_range)
    torch.testing.assert_close(shown["x0"], x0, rtol=1e-4, atol=1e-4)
    # "no digit" is the null class, the UNet's last class embedding
    unguided = forward.forward_process(pipe, scheduler, clean, timestep=300, seed=4, label=None)
    null = pipe.unet.config.num_class_embeds - 1
    with torch.no_grad():
        prediction = pipe.unet(shown["x_t"], torch.tensor([300]), class_labels=torch.tensor([null])).sample
    assert not torch.allclose(unguided["x0"], shown["x0"])
    torch.testing.assert_close(unguided["x0"], scheduler.step(prediction, 300, shown["x_t"]).pred_original_sample)

    # a drawing becomes the clean sample as the training script pads it: [-1, 1], background -1 around, centred
    padded = SimpleNamespace(unet=SimpleNamespace(config=SimpleNamespace(sample_size=32, in_channels=1)))
    digit = torch.rand(1, 1, 28, 28)
    sample = forward.clean_sample(padded, digit)
    assert sample.shape == (1, 1, 32, 32) and (sample[..., :2, :] == -1).all() and (sample[..., -2:] == -1).all()
    torch.testing.assert_close(sampling.crop(sample, 28), digit * 2 - 1)

    client = serve(app.build_demo(str(trained_dirs["ddpm"]), str(trained_dirs["mlp"])))
    strip, picture, schedule, note = client.predict(drawn_one(tmp_path), 250, "3", 0, api_name="/noise_digit")
    assert note.startswith("At t = 250, x_t keeps") and "told the digit is a 3" in note
    assert image_size(strip)[0] > len(forward.FORWARD_SHOWN) * 28 * 3 and image_size(picture)[0] > 4 * 28 * 5
    picture, schedule, note = client.predict(900, "random", 0, api_name="/noise_step")  # the digit kept per visitor
    assert note.startswith("At t = 900") and "told no digit" in note and image_size(schedule)[1] > 100
    with pytest.raises(AppError, match="Draw a digit first"):
        client.predict({"background": None, "layers": [], "composite": None}, 10, "3", 0, api_name="/noise_digit")
    with pytest.raises(AppError, match="Draw a digit and press"):
        Client(client.src, verbose=False).predict(10, "3", 0, api_name="/noise_step")  # a new visitor drew nothing


def test_rnn_inside_view_shows_a_units_own_activation_along_the_text(serve, trained_dirs):
    import torch

    app, inside = load_app("rnn"), load_app("rnn", "inside")
    tokenizer, rnn = load_app("writing", None).load(str(trained_dirs["rnn"]))
    text = "Shall I compare thee\nTo a summer's day?"
    captured = []
    hooks = [layer.register_forward_hook(lambda m, args, out: captured.append(out[0][0])) for layer in rnn.layers]
    characters, layers = inside.unit_activations(tokenizer, rnn, text)
    for hook in hooks:
        hook.remove()
    assert "".join(characters) == text and len(layers) == rnn.config.num_layers
    for shown, own in zip(layers, captured, strict=True):  # each recurrent layer's own output, character by character
        torch.testing.assert_close(shown, own)

    activations = torch.randn(40, 6, generator=torch.Generator().manual_seed(0)) * 0.1
    selected = torch.zeros(40, dtype=torch.bool)
    selected[::5] = True
    activations[selected, 4] += 1.0  # unit 4 fires on the selected characters
    assert inside.responsive_units(activations, selected)[0][0] == 4
    shown = inside.colored_text(list("ab"), torch.tensor([1.0, -0.5]))
    assert "rgb(8, 119, 189)" in shown and 'title="+1.000"' in shown and 'title="-0.500"' in shown

    client = serve(app.build_demo(str(trained_dirs["rnn"])))
    layer = rnn.config.num_layers
    colored, table, note = client.predict(text, layer, 3, api_name="/rnn_unit")
    assert note.startswith(f"Layer {layer}, unit 3") and colored.count("<span") == len(text)
    assert table["data"] and {row[0] for row in table["data"]} <= set(inside.KINDS)
    with pytest.raises(AppError, match="Choose a unit from 0 to"):
        client.predict(text, layer, 10**6, api_name="/rnn_unit")


@pytest.mark.parametrize("positions", ["rotary", "learned"])
def test_one_position_followed_through_a_block_is_the_models_own_computation(serve, trained_dirs, positions):
    """The walkthrough recomputes a head's softmax weights and the block's output from the block's modules: they are
    the model's own `attentions` and `hidden_states`, with rotary or learned positions."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    walk = load_app("gpt", "walk")
    tokenizer = AutoTokenizer.from_pretrained(trained_dirs["gpt"], trust_remote_code=True)
    model = AutoModelForCausalLM.from_pretrained(trained_dirs["gpt"], trust_remote_code=True).eval()
    if positions != model.config.position_embedding_type:
        torch.manual_seed(0)
        config = type(model.config)(**{**model.config.to_dict(), "position_embedding_type": positions})
        model = type(model)(config).eval()
    text = "ROMEO:\nWhat say you?"
    for position, layer, head in [(0, 0, 0), (9, model.config.n_layer - 1, model.config.n_head - 1)]:
        view = walk.follow(tokenizer, model, text, position, layer, head, 0.8)
        torch.testing.assert_close(view["weights"], view["model_weights"])
        torch.testing.assert_close(view["block_output_as_recorded"], view["model_block_output"], atol=1e-5, rtol=1e-5)
        assert len(view["weights"]) == position + 1 and float(view["weights"].sum()) == pytest.approx(1.0)

    client = serve(load_app("gpt").build_demo(str(trained_dirs["gpt"])))
    chart, steps = client.predict(text, 9, 1, 1, 0.8, api_name="/follow_position")
    assert "Position 9 holds" in steps and "**7. Logits.**" in steps and image_size(chart)[0] > 20 * 12
    with pytest.raises(AppError, match="Pick a position from 0 to 19"):
        client.predict(text, 40, 1, 1, 0.8, api_name="/follow_position")


def test_gpt_inside_view_is_the_models_own_attention_and_sampling_distribution(serve, trained_dirs):
    import torch

    app, inside = load_app("gpt"), load_app("gpt", "inside")
    tokenizer, model = load_app("writing", None).load(str(trained_dirs["gpt"]))
    ids = tokenizer("Shall I", return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        own = model(input_ids=ids, output_attentions=True)
    logits = own.logits[0, -1].float()
    logits[tokenizer.all_special_ids] = float("-inf")

    view = inside.inside_view(tokenizer, model, "Shall I", 1.0, 0, 1.0)
    assert "".join(view["characters"]) == "Shall I"
    for shown, weights in zip(view["attentions"], own.attentions, strict=True):
        torch.testing.assert_close(shown, weights[0])
    torch.testing.assert_close(view["probabilities"], logits.softmax(-1))
    torch.testing.assert_close(view["sampling"], logits.softmax(-1))  # temperature 1, no top-k, top-p 1: as is
    warped = inside.inside_view(tokenizer, model, "Shall I", 0.5, 3, 1.0)["sampling"]
    top = logits.topk(3).indices
    expected = torch.zeros_like(logits)
    expected[top] = (logits[top] / 0.5).softmax(-1)  # the 3 likeliest, sharpened by temperature 0.5
    torch.testing.assert_close(warped, expected)

    client = serve(app.build_demo(str(trained_dirs["gpt"])))
    attention, chart, note = client.predict("Shall I", 1, 2, 0.8, 40, 0.95, api_name="/inside")
    assert Image.open(attention).size == (24 + 7 * 28 + 1, 24 + 7 * 28 + 1)  # a cell per character pair (28 px: few)
    assert "Layer 1, head 2" in note and "attends most to" in note
    text, seed, note = client.predict("Shall I", 0.8, 40, 0.95, 0, api_name="/next_character")
    assert text.startswith("Shall I") and len(text) == len("Shall I") + 1 and seed == 1 and "Drew" in note
    with pytest.raises(AppError, match="Choose a head from 1 to 2"):
        client.predict("Shall I", 1, 9, 0.8, 40, 0.95, api_name="/inside")


def trained_models(trained_dirs) -> dict[str, str]:
    return {family: str(folder) for family, folder in trained_dirs.items()}


def test_gallery_serves_every_demo_as_a_tab(serve, trained_dirs):
    gallery = load_app("gallery")
    demo = gallery.build_gallery(trained_models(trained_dirs))
    text = " ".join(str(getattr(block, "value", "")) for block in demo.blocks.values())
    assert "A small convolutional network: 2 blocks" in text and "The textbook 784-128-10 network" in text
    client = serve(demo)
    endpoints = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {
        "/classify",
        "/classify_drawing",
        "/interpolate",
        "/write",
        "/write_rnn",
        "/play",
        "/step",
        "/plane_play",
        "/forward",
    } <= endpoints
    assert sum(name.startswith("/classify_drawing") for name in endpoints) == 2  # the MLP's and the CNN's
    assert sum(name.startswith("/generate") for name in endpoints) == 2  # the GAN's and the DDPM's
    assert client.predict("Shall", 0.8, 10, 0.95, 4, api_name="/write").startswith("Shall")
    assert client.predict("Shall", 0.8, 10, 0.95, 4, api_name="/write_rnn").startswith("Shall")


def test_every_tab_that_uses_an_mlp_shows_the_one_given(trained_dirs, shipped_mlp_dir):
    """`hfnets demo --mlp X`: the MLP tab, the MLP beside the CNN, the GAN's and the diffusion's drawings (read by its
    image processor) and the Playground all take X, not the shipped MLP."""
    gallery = load_app("gallery")
    models = gallery.settings.model_ids({"mlp": str(trained_dirs["mlp"])}, environ={})
    assert models["mlp"] == str(trained_dirs["mlp"]) != str(shipped_mlp_dir)
    plan = {title: arguments for title, _, _, arguments in gallery.tabs(models, "digits")}
    assert plan["Digits: MLP"][0] == plan["Digits: CNN"][1] == plan["GAN"][1] == plan["Diffusion"][1] == models["mlp"]
    assert plan["Playground: see an MLP learn"][0] == models["mlp"]
    for title, arguments in plan.items():
        assert str(shipped_mlp_dir) not in arguments, title


def test_a_gallery_tab_without_a_model_says_how_to_give_it_one(serve, trained_dirs):
    gallery = load_app("gallery")
    demo = gallery.build_gallery(trained_models(trained_dirs) | {"ddpm": None})
    text = " ".join(str(getattr(block, "value", "")) for block in demo.blocks.values())
    assert "No diffusion model here yet" in text and "DDPM_MODEL_ID" in text
    assert "accelerate launch scripts/train_ddpm.py" in text
    assert "hfnets demo --ddpm FOLDER_OR_HUB_ID" in text
    client = serve(demo)
    endpoints = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/classify", "/write"} <= endpoints and sum(name.startswith("/generate") for name in endpoints) == 1


def test_each_demo_takes_its_models_from_the_one_table_read_at_start_up(monkeypatch, tmp_path):
    settings = load_app("settings", None)
    monkeypatch.setattr(settings, "SHIPPED", tmp_path / "nothing shipped")  # as on a Space
    assert settings.space_models("gan", environ={}) == [None, None]
    environ = {"MODEL_ID": "you/gan", "GAN_MODEL_ID": "you/other-gan", "MLP_MODEL_ID": "you/mlp"}
    assert settings.space_models("gan", environ) == ["you/gan", "you/mlp"]  # MODEL_ID: the Space's own model
    assert settings.space_models("classifier", {"MODEL_ID": "you/cnn"}) == ["you/cnn", None]
    assert settings.model_ids({"gpt": "folder"}, {"GPT_MODEL_ID": "you/gpt", "RNN_MODEL_ID": "you/rnn"}) == {
        **dict.fromkeys(settings.FAMILIES),
        "gpt": "folder",
        "rnn": "you/rnn",
    }
    assert set(settings.DEMOS) == {path.parent.name for path in SPACES.glob("*/app.py")}
    # a Space with no model anywhere stops at start-up, naming the variables to set
    for name in ("MODEL_ID", "GAN_MODEL_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit, match="set GAN_MODEL_ID \\(a Space alone: MODEL_ID\\)"):
        load_app("gan").main()


GARBAGE = [None, "abc", float("nan"), float("inf"), -1, 1e20, 12.5, True, [1], {"a": 1}]


def refused_in_plain_words(function, good: list, position: int, value) -> bool:
    import gradio as gr

    arguments = list(good)
    arguments[position] = value
    try:
        result = function(*arguments)
        if hasattr(result, "__next__"):
            list(result)
    except gr.Error:
        return True
    return False


@pytest.fixture(scope="module")
def generative_functions(trained_dirs):
    """Each generative demo's functions, with good arguments and the positions of the numbers they take."""
    import torch

    gan, gan_inside = load_app("gan", "generate"), load_app("gan", "inside")
    gan_pipe = gan.load(str(trained_dirs["gan"]))
    generate, interpolate = gan.make_functions(gan_pipe)
    epochs = gan_inside.training_history(str(trained_dirs["gan"]))[0]
    show_epoch, score_generated, _ = gan_inside.make_inside(gan_pipe, epochs, None)
    writing = load_app("writing", None)
    write = writing.make_writer(*writing.load(str(trained_dirs["gpt"])))
    ddpm, forward = load_app("ddpm", "sample"), load_app("ddpm", "forward")
    pipe = ddpm.load(str(trained_dirs["ddpm"]))
    sample = ddpm.make_sampler(pipe, load_app("lanes", None).LongRunLane("long runs", "ask for less"))
    _, noise_step = forward.make_forward(pipe, None)
    clean = forward.clean_sample(pipe, torch.rand(1, 1, 28, 28))
    return [
        (generate, ["3", 0, 4], [1, 2]),
        (interpolate, ["3", 0, 1, 4], [1, 2, 3]),
        (show_epoch, [1], [0]),
        (score_generated, ["3", 0], [1]),
        (write, ["Shall", 0.8, 10, 0.9, 4], [1, 2, 3, 4]),
        (lambda *a: sample(*a, progress=lambda *_, **__: None), ["3", 1.2, "DPM-Solver", 2, 1, 0], [0, 1, 3, 4, 5]),
        (noise_step, [clean, 100, "3", 0], [1, 3]),
    ]


@pytest.mark.parametrize("value", GARBAGE)
def test_every_number_the_generative_demos_take_is_checked_whatever_an_api_caller_sends(generative_functions, value):
    # What an API caller (not the sliders) can send: strings, NaN, infinities, fractions, booleans, lists.
    cases = generative_functions
    for function, good, positions in cases:
        for position in positions:
            if value is None and position == 0:
                continue  # no digit chosen: random digits
            assert refused_in_plain_words(function, good, position, value), (function, position, value)


def test_the_gan_demo_draws_random_digits(serve, trained_dirs):
    client = serve(load_app("gan").build_demo(str(trained_dirs["gan"])))
    assert image_size(client.predict("random", 42, 8, api_name="/generate")) == (8 * 28 * 3, 28 * 3)


@pytest.mark.parametrize("space", sorted(p.parent.name for p in (REPO_ROOT / "spaces").glob("*/requirements.txt")))
def test_each_space_pins_the_versions_it_was_tested_with(space):
    """A Space installs exactly what ran here: every requirement pinned, and Gradio by the card's sdk_version."""
    folder = REPO_ROOT / "spaces" / space
    requirements = [line for line in (folder / "requirements.txt").read_text().splitlines() if line.strip()]
    assert requirements and all(re.fullmatch(r"[\w-]+==[\w.]+", line) for line in requirements), requirements
    assert re.search(r"^sdk_version: \d+\.\d+\.\d+$", (folder / "README.md").read_text(), re.MULTILINE)


# What a Space's app imports, by the name pip installs it under; gradio (and huggingface_hub, which it installs) come
# with the Space's SDK.
DISTRIBUTIONS = {"PIL": "pillow"}
FROM_THE_SDK = {"gradio", "gradio_client", "huggingface_hub"}


def imported_modules(path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("space", sorted(p.parent.name for p in (REPO_ROOT / "spaces").glob("*/requirements.txt")))
def test_each_space_requires_everything_its_apps_import(space):
    import sys

    from hfnets.hub.space_files import demo_files

    folder = REPO_ROOT / "spaces" / space
    required = {line.split("==")[0].lower() for line in (folder / "requirements.txt").read_text().split()}
    for code in (path for path in demo_files(folder) if path.suffix == ".py"):  # what its Space carries
        third_party = imported_modules(code) - set(sys.stdlib_module_names) - FROM_THE_SDK
        missing = {DISTRIBUTIONS.get(name, name) for name in third_party} - required
        assert not missing, f"{code.relative_to(REPO_ROOT)} imports {sorted(missing)}, not in {space}/requirements.txt"


def test_each_space_runs_alone_from_the_files_it_carries(tmp_path):
    """Each Space laid out as `hfnets space` uploads it imports its app from what it carries, without hfnets or the
    repository (the demo packages import each other relatively, as they do here). One process tries them all."""
    import shutil

    from hfnets.hub.push import space_files
    from tests.helpers.isolated import run_without_hfnets

    spaces = sorted(p.parent.name for p in SPACES.glob("*/requirements.txt"))
    for space in spaces:
        for source, destination in space_files(SPACES / space):
            (tmp_path / space / destination).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                (tmp_path / space / destination).write_bytes(source)
            else:
                shutil.copyfile(source, tmp_path / space / destination)
        launcher = (tmp_path / space / "app.py").read_text()
        assert f"from demos.{space}.app import main" in launcher and launcher.rstrip().endswith("main()")
    result = run_without_hfnets(
        f"""
        import importlib, sys

        for space in {spaces!r}:
            sys.path.insert(0, space)
            print(importlib.import_module(f"demos.{{space}}.app").main.__module__)
            sys.path.pop(0)
            for name in [name for name in sys.modules if name == "demos" or name.startswith("demos.")]:
                del sys.modules[name]
        """,
        cwd=tmp_path,
    )
    assert result.stdout.split() == [f"demos.{space}.app" for space in spaces]
