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
    assert first.size == (16 * 58 + 2, 2 * 58 + 2)  # 20 tiles of 28x28 at 2x, 16 to a row, 2-pixel gaps
    assert output.size == (20 * max(2, min(12, 640 // 20)), 10 * 12)  # a row per digit, a column per hidden unit
    no_hidden = playground.new_model([], "relu", seed=2)
    np.testing.assert_array_equal(
        charts.incoming_weights(no_hidden).reshape(10, -1), no_hidden.classifier.weight.detach()
    )


@pytest.mark.parametrize("name", ["ReLU", "sigmoid", "tanh", "none (linear)"])
def test_the_curve_drawn_is_the_models_activation_function(playground, name):
    model = playground.new_model([8], training.ACTIVATIONS[name], seed=0)
    x = torch.linspace(-5, 5, 41)
    torch.testing.assert_close(charts.ACTIVATION_FUNCTIONS[training.ACTIVATIONS[name]](x), model.activation(x))


def test_training_goes_live_over_the_api_and_the_download_loads_with_the_reported_accuracy(
    serve,  # noqa: F811
    playground,
    digits,
    tmp_path,
):
    from transformers import AutoModelForImageClassification

    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    job = client.submit(1, 24, 8, 8, "tanh", 0.01, 32, "Adam", 2, api_name="/train")
    updates = list(job)
    statuses = [update[-1] for update in updates]
    assert len(updates) >= 3 and "Done" in statuses[-1]
    reported = float(re.search(r"test accuracy \*\*([\d.]+)%\*\*", statuses[-1]).group(1)) / 100

    archive = client.predict(api_name="/download")
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path)
    folder = tmp_path / "mnist-mlp-playground"
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert model.config.hidden_sizes == [24] and model.config.hidden_act == "tanh"
    images, labels = playground.data()["test"]
    assert training.accuracy(model, images, labels) == pytest.approx(reported, abs=1e-4)


def test_the_playground_refuses_what_it_cannot_do_in_plain_words(serve, playground, tmp_path):  # noqa: F811
    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    # the sliders' and fields' bounds, checked before the request runs
    with pytest.raises(AppError, match="50 is greater than maximum value 10"):
        client.predict(1, 24, 8, 8, "ReLU", 0.01, 32, "Adam", 50, api_name="/train")
    with pytest.raises(AppError, match="5.0 is greater than maximum value 1"):
        client.predict(1, 24, 8, 8, "ReLU", 5.0, 32, "Adam", 1, api_name="/train")
    with pytest.raises(AppError, match="1000000 is not in the list of choices"):
        client.predict(1, 24, 8, 8, "ReLU", 0.01, 10**6, "Adam", 1, api_name="/train")
    Image.fromarray(np.zeros((64, 64, 4), dtype=np.uint8)).save(tmp_path / "blank.png")
    blank = {"background": None, "layers": [], "composite": handle_file(tmp_path / "blank.png")}
    with pytest.raises(AppError, match="Draw a digit first"):
        client.predict(blank, api_name="/forward")


def test_the_comparison_trains_every_activation_with_the_same_budget(serve, playground):  # noqa: F811
    client = serve(app.build_demo(playground.model_id, playground.dataset, playground))
    curves, table = client.predict(2, api_name="/compare")
    names = [row[0] for row in table["data"]]
    assert names == list(training.ACTIVATIONS) and table["headers"] == ["activation", "test accuracy", "seconds"]
    plot_area = np.asarray(Image.open(curves).convert("RGB"))[:, :-170]  # left of the legend
    for color in charts.COMPARE_COLORS.values():  # every activation's curve is drawn, in its colour
        assert (plot_area == color).all(-1).sum() > 100


def test_stop_ends_a_live_training_run_where_it_is(playground):
    """Closing the page's generator (what the Stop button does) stops the training thread within a step."""
    import threading
    import time

    model = playground.new_model([16], "relu", seed=0)
    stop = threading.Event()
    # 10,000 epochs: hours if not stopped
    records = training.train(model, playground.data(), 0.01, 16, "SGD", 10_000, seed=0, stop=stop)
    live = training.in_background(records, stop)
    first = next(live)
    assert first and first[0]["epoch"] <= 1
    live.close()
    assert stop.is_set()
    time.sleep(0.5)  # the step under way ends
    weights = model.classifier.weight.detach().clone()
    time.sleep(0.5)
    assert torch.equal(weights, model.classifier.weight.detach())


def test_digits_that_cannot_load_say_how_to_name_a_local_copy(shipped_mlp_dir, tmp_path):
    """Offline with ylecun/mnist not in the cache (or any missing dataset), the Playground's Train tells the visitor
    how to start the demo on local digits, rather than only what went wrong."""
    import gradio as gr

    handlers = load_app("playground", "handlers")
    missing = training.Playground(str(shipped_mlp_dir), str(tmp_path / "no-digits-here"))
    with pytest.raises(gr.Error, match=r"hfnets demo --dataset path/to/mnist") as error:
        handlers.digits(missing)
    assert str(tmp_path / "no-digits-here") in str(error.value)
