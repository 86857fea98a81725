"""The Playground (spaces/playground): what its views show are the model's own numbers (its forward pass, autograd's
gradients, its weights), a live training run answers over the API, and the model it trained downloads as a folder
that loads with `from_pretrained` and scores what the app reported."""

import copy
import re
import zipfile

import numpy as np
import pytest
import torch
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from torch.nn import functional as F

from tests.helpers.datasets import make_image_dataset
from tests.spaces.test_apps import load_app, serve  # noqa: F401 (a fixture)

app = load_app("playground")
training, passes, charts = (load_app("playground", module) for module in ("training", "passes", "charts"))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return make_image_dataset(tmp_path_factory.mktemp("digits"), num_rows=300, num_classes=10)


@pytest.fixture(scope="module")
def playground(shipped_mlp_dir, digits):
    return training.Playground(str(shipped_mlp_dir), str(digits))


def test_the_forward_view_shows_the_models_own_weighted_sums_activations_and_outputs(playground):
    model = playground.new_model([32, 16], "tanh", seed=0)
    pixels = torch.randn(1, 784)
    weighted = []
    hooks = [layer.register_forward_hook(lambda m, i, o: weighted.append(o[0])) for layer in model.hidden_layers]
    with torch.no_grad():
        output = model(pixels, output_hidden_states=True)
    for hook in hooks:
        hook.remove()

    shown = passes.forward_pass(model, pixels)
    assert len(shown["layers"]) == 2
    for layer, sums, activations in zip(shown["layers"], weighted, output.hidden_states):
        np.testing.assert_allclose(layer["weighted_sums"], sums.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(layer["activations"], activations[0].numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(shown["logits"], output.logits[0].numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(shown["probabilities"], output.logits[0].softmax(-1).numpy(), rtol=1e-6)
    winner = int(output.logits[0].argmax())
    contributions = (model.classifier.weight[winner] * output.hidden_states[-1][0]).detach().numpy()
    assert shown["winner"] == winner
    np.testing.assert_allclose(shown["contributions"], contributions, rtol=1e-6, atol=1e-7)
    assert list(shown["top_units"]) == list(np.argsort(-contributions)[: passes.TOP_NEURONS])


def test_the_backward_step_is_autograds_gradient_and_moves_the_answer_toward_the_label(playground):
    model = playground.new_model([32], "relu", seed=1)
    reference = copy.deepcopy(model)
    pixels = torch.randn(1, 784)
    with torch.no_grad():
        label = int(model(pixels).logits.argmin())  # the answer the network believes least
    loss = F.cross_entropy(reference(pixels).logits, torch.tensor([label]))
    names, parameters = zip(*reference.named_parameters())
    gradients = dict(zip(names, torch.autograd.grad(loss, parameters)))

    shown = passes.backward_step(model, pixels, label, learning_rate=0.5)
    assert shown["loss_before"] == pytest.approx(loss.item(), rel=1e-6)
    for name, parameter in model.named_parameters():
        torch.testing.assert_close(shown["gradients"][name], gradients[name])
        torch.testing.assert_close(
            parameter.detach(), dict(reference.named_parameters())[name] - 0.5 * gradients[name]
        )
    assert shown["after"][label] > shown["before"][label] and shown["loss_after"] < shown["loss_before"]


def test_the_weight_pictures_are_each_units_incoming_weights(playground):
    model = playground.new_model([20], "sigmoid", seed=2)
    tiles = charts.incoming_weights(model)
    assert tiles.shape == (20, 28, 28)
    np.testing.assert_array_equal(tiles.reshape(20, -1), model.hidden_layers[0].weight.detach().numpy())
    first, output = charts.weight_pictures(model)
    assert first.size == (16 * 58 + 2, 2 * 58 + 2 + 34)  # 20 tiles of 28x28 at 2x, 16 to a row, 2-pixel gaps
    # a labelled row per digit, a column per hidden unit: each cell is coloured by its weight
    weights = model.classifier.weight.detach().numpy()
    cells = charts.colorize(weights, float(np.abs(weights).max()))
    drawn = np.asarray(output)
    for digit, unit in [(0, 0), (3, 7), (9, 19)]:
        np.testing.assert_array_equal(drawn[34 + 4 + digit * 18 + 9, 60 + unit * 16 + 8], cells[digit, unit])
    no_hidden = playground.new_model([], "relu", seed=2)
    np.testing.assert_array_equal(
        charts.incoming_weights(no_hidden).reshape(10, -1), no_hidden.classifier.weight.detach()
    )


@pytest.mark.parametrize("name", ["ReLU", "sigmoid", "tanh", "none (linear)"])
def test_the_curve_drawn_is_the_models_activation_function(playground, name):
    model = playground.new_model([8], training.ACTIVATIONS[name], seed=0)
    x = torch.linspace(-5, 5, 41)
    torch.testing.assert_close(charts.ACTIVATION_FUNCTIONS[training.ACTIVATIONS[name]](x), model.activation(x))


CONTROLS = [1, 24, 8, 8, "tanh", 0.01, 32, "Adam", 2]  # hidden layers, their widths, activation, lr, batch, ...


def status_numbers(status: str) -> tuple[int, float]:
    """The step and the test accuracy a Train tab status reports."""
    step = int(re.search(r"step ([\d,]+) of", status).group(1).replace(",", ""))
    return step, float(re.search(r"accuracy \*\*([\d.]+)%\*\*", status).group(1)) / 100


def test_training_plays_live_over_the_api_and_the_download_loads_with_the_reported_accuracy(
    serve,  # noqa: F811
    playground,
    tmp_path,
):
    from transformers import AutoModelForImageClassification

    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    updates = list(client.submit(*CONTROLS, "10 steps at a time", api_name="/play"))
    statuses = [update[-1] for update in updates]
    assert len(updates) >= 3 and "Done" in statuses[-1]
    steps = [status_numbers(status)[0] for status in statuses if "step" in status]
    assert steps == sorted(steps) and steps[-1] == 2 * 300 // 32 + 2  # two epochs of 300 digits, batches of 32
    playing = [status for status in statuses[:-1] if "step" in status]
    assert playing and all("Playing" in status and status_numbers(status)[0] < steps[-1] for status in playing)
    assert "Done" in client.predict(api_name="/pause")  # Pause on a finished run does not call it paused
    reported = status_numbers(statuses[-1])[1]

    archive = client.predict(api_name="/download")
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path)
    folder = tmp_path / "mnist-mlp-playground"
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert model.config.hidden_sizes == [24] and model.config.hidden_act == "tanh"
    images, labels = playground.data()["test"]  # the status's figure is on every test digit
    assert training.evaluate(model, images, labels)[1] == pytest.approx(reported, abs=1e-4)


def test_a_step_is_one_batch_and_the_curve_gains_a_point_each_time(serve, playground):  # noqa: F811
    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    *_, status = client.predict(*CONTROLS, api_name="/new_network")
    assert status_numbers(status)[0] == 0 and "of 20 (epoch" in status  # 2 epochs of 300 digits: 10 batches of 32
    assert "A new network" in status
    for expected in (1, 2, 3):
        *_, status = client.predict(*CONTROLS, api_name="/step")
        assert status_numbers(status)[0] == expected
    changed = [1, 24, 8, 8, "ReLU", 0.01, 32, "Adam", 2]  # another activation: another network, from step 0 again
    *_, status = client.predict(*changed, api_name="/step")
    assert status_numbers(status)[0] == 1 and "ReLU" in status


def test_the_run_records_every_step_on_the_whole_evaluation_set(playground):
    data = playground.data()
    model = playground.new_model([16], "relu", seed=0)
    run = training.Run(model, data, {"learning_rate": 0.05, "batch_size": 32, "optimizer": "SGD", "epochs": 1})
    run.advance(3)
    assert [point["step"] for point in run.history] == [0, 1, 2, 3]
    loss, accuracy = training.evaluate(model, *data["test"])
    assert run.history[-1]["test_accuracy"] == accuracy and run.history[-1]["test_loss"] == pytest.approx(loss)
    run.advance(None, seconds=60)  # the rest of the epoch, and no further
    assert run.done and run.seen == len(data["train"][1]) and run.steps == -(-len(data["train"][1]) // 32)


def test_l2_pulls_the_weights_toward_zero(playground):
    data = playground.data()
    norms = {}
    for l2 in (0.0, 0.1):
        run = training.Run(
            playground.new_model([16], "relu", seed=0),
            data,
            {"learning_rate": 0.05, "batch_size": 32, "optimizer": "SGD", "epochs": 2, "l2": l2},
        )
        run.advance(None, seconds=60)
        norms[l2] = float(run.model.hidden_layers[0].weight.detach().norm())
    assert norms[0.1] < 0.9 * norms[0.0]


def test_the_playground_refuses_what_it_cannot_do_in_plain_words(serve, playground, tmp_path):  # noqa: F811
    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    # the sliders' and fields' bounds, checked before the request runs
    with pytest.raises(AppError, match="50 is greater than maximum value 10"):
        client.predict(1, 24, 8, 8, "ReLU", 0.01, 32, "Adam", 50, api_name="/step")
    with pytest.raises(AppError, match="5.0 is greater than maximum value 1"):
        client.predict(1, 24, 8, 8, "ReLU", 5.0, 32, "Adam", 1, "as fast as it goes", api_name="/play")
    with pytest.raises(AppError, match="1000000 is not in the list of choices"):
        client.predict(1, 24, 8, 8, "ReLU", 0.01, 10**6, "Adam", 1, api_name="/new_network")
    Image.fromarray(np.zeros((64, 64, 4), dtype=np.uint8)).save(tmp_path / "blank.png")
    blank = {"background": None, "layers": [], "composite": handle_file(tmp_path / "blank.png")}
    with pytest.raises(AppError, match="Draw a digit first"):
        client.predict(blank, api_name="/forward")


def test_the_comparison_trains_every_activation_with_the_same_budget(serve, playground):  # noqa: F811
    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    curves, table = client.predict(2, api_name="/compare")
    names = [row[0] for row in table["data"]]
    assert names == list(training.ACTIVATIONS) and table["headers"] == [
        "activation",
        "test accuracy",
        "seconds training",
    ]
    plot_area = np.asarray(Image.open(curves).convert("RGB"))[:, :-170]  # left of the legend
    for color in charts.COMPARE_COLORS.values():  # every activation's curve is drawn, in its colour
        assert (plot_area == color).all(-1).sum() > 100


def test_pause_stops_play_where_it_is_and_step_carries_on_from_there(serve, playground):  # noqa: F811
    import time

    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    job = client.submit(1, 24, 8, 8, "tanh", 0.01, 16, "SGD", 10, "one step at a time", api_name="/play")
    while job.status().code.name != "ITERATING" or len(job.outputs()) < 3:
        time.sleep(0.05)
    client.predict(api_name="/pause")
    status = job.result()[-1]  # Play stops after its frame under way, on the paused state
    assert "Paused" in status and job.status().code.name == "FINISHED"
    paused_at = status_numbers(status)[0]
    time.sleep(1.0)  # a playing run would take about 4 steps a second
    *_, status = client.predict(1, 24, 8, 8, "tanh", 0.01, 16, "SGD", 10, api_name="/step")
    assert status_numbers(status)[0] == paused_at + 1


def test_start_over_undoes_the_backward_steps_of_the_visitors_own_network(serve, playground, tmp_path):  # noqa: F811
    from transformers import AutoModelForImageClassification

    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    client.predict(2, 24, 12, 8, "tanh", 0.01, 32, "Adam", 1, api_name="/step")  # the visitor's own 2-layer network

    def downloaded(name):
        with zipfile.ZipFile(client.predict(api_name="/download")) as zipped:
            zipped.extractall(tmp_path / name)
        return AutoModelForImageClassification.from_pretrained(
            tmp_path / name / "mnist-mlp-playground", trust_remote_code=True
        )

    trained = downloaded("trained")
    Image.fromarray(np.full((64, 64, 3), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    one = np.full((64, 64, 4), 0, dtype=np.uint8)
    one[10:54, 30:34] = (0, 0, 0, 255)
    Image.fromarray(one).save(tmp_path / "one.png")
    sketch = {"background": None, "layers": [], "composite": handle_file(tmp_path / "one.png")}
    for _ in range(2):
        client.predict(sketch, "7", 0.05, api_name="/backward")
    assert not torch.equal(downloaded("stepped").classifier.weight, trained.classifier.weight)
    *_, note = client.predict(api_name="/start_over")
    assert "2 backward steps undone" in note and "784-24-12-10" in note
    restored = downloaded("restored")
    assert restored.config.hidden_sizes == [24, 12]
    for name, weights in trained.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[name], weights)


def test_offline_without_the_hub_the_playground_trains_on_the_digits_it_ships_with(shipped_mlp_dir, tmp_path):
    """A newcomer offline, with an empty home: ylecun/mnist cannot be fetched, the shipped sample is used instead."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    env = {**os.environ, "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HOME", None), env.pop("HF_DATASETS_CACHE", None)
    # The script ends with os._exit: the Playground's daemon thread that decodes the digits in the background may
    # still be unwinding when the interpreter shuts down, and a daemon thread stopped there inside torch's C++ code
    # can abort the process ("terminate called without an active exception", once in CI) after the answer is out.
    script = (
        "import os, sys; from spaces.playground.training import Playground; "
        f"p = Playground({str(shipped_mlp_dir)!r}, 'ylecun/mnist'); d = p.data(); "
        "print(len(d['train'][1]), len(d['test'][1]), d['train'][0].shape[1]); print(p.source); "
        "sys.stdout.flush(); os._exit(0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    counts, source = result.stdout.strip().splitlines()[-2:]
    assert counts == "6000 1000 784" and "ship with the Playground" in source


def test_digits_that_cannot_load_say_how_to_name_a_local_copy(shipped_mlp_dir, tmp_path):
    """Offline with ylecun/mnist not in the cache (or any missing dataset), the Playground's Train tells the visitor
    how to start the demo on local digits, rather than only what went wrong."""
    import gradio as gr

    handlers = load_app("playground", "handlers")
    missing = training.Playground(str(shipped_mlp_dir), str(tmp_path / "no-digits-here"))
    with pytest.raises(gr.Error, match=r"hfnets demo --dataset path/to/mnist") as error:
        handlers.digits(missing)
    assert str(tmp_path / "no-digits-here") in str(error.value)


plane = load_app("playground", "plane")


@pytest.mark.parametrize("name", plane.DATASETS)
def test_the_toy_datasets_are_two_classes_of_points_on_the_plane(name):
    points, labels = plane.toy_points(name, noise=0.0)
    assert points.shape == (plane.POINTS, 2) and set(labels) == {0, 1}
    assert np.abs(points).max() < plane.SPAN  # all of them in the picture
    noisy, _ = plane.toy_points(name, noise=0.2)
    assert np.abs(noisy - points).mean() > 0.5  # noise scatters them


def test_the_circle_is_a_disc_of_blue_in_a_ring_of_orange():
    points, labels = plane.toy_points("circle", noise=0.0)
    radius = np.linalg.norm(points, axis=1)
    assert radius[labels == 1].max() <= 2.5 < 3.5 <= radius[labels == 0].min()


def test_the_2d_network_is_the_mlp_class_and_learns_the_circle(playground):
    data = plane.plane_data("circle", 0.0)
    model = plane.plane_model(playground, [6], "tanh")
    assert type(model) is type(playground.start_model) and model.config.input_size == 2
    run = training.Run(model, data, {"learning_rate": 0.1, "batch_size": 10, "optimizer": "SGD", "epochs": 60})
    while not run.done:
        run.advance(None, seconds=60)
    assert run.history[-1]["test_accuracy"] > 0.95
    view = plane.plane_view(run)
    assert view.width == 20 + (plane.THUMB + 24) + plane.SIZE + 20  # a column of 6 unit pictures, then the output


def test_the_2d_tab_steps_and_plays_over_the_api(serve, playground):  # noqa: F811
    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    controls = ["exclusive or", 0.05, 2, 4, "tanh", 0.03, 0.001, 3]
    view, chart, status = client.predict(*controls, api_name="/plane_new")
    assert status.startswith("Step 0 ") and Image.open(view).width > plane.SIZE
    *_, status = client.predict(*controls, api_name="/plane_step")
    assert status.startswith("Step 1 ")
    updates = list(client.submit(*controls, "as fast as it goes", api_name="/plane_play"))
    assert "Done" in updates[-1][-1] and "epoch 3.0 of 3" in updates[-1][-1]
    with pytest.raises(AppError, match="Choose a dataset"):
        client.predict("moons", *controls[1:], api_name="/plane_new")
