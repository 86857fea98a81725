"""What the Playground's views compute: every number of one forward pass, and one step of backward propagation."""

import numpy as np
import torch

from .charts import tile_grid

TOP_NEURONS = 8


def forward_pass(model, pixels: torch.Tensor) -> dict:
    """Every number of one forward pass: each hidden layer's weighted sums and activations, the logits and the
    probabilities, and the last hidden layer's units that pushed the winning digit most (weight x activation)."""
    with torch.no_grad():
        layers = []
        hidden = pixels.float()
        for layer in model.hidden_layers:
            weighted = layer(hidden)
            hidden = model.activation(weighted)
            layers.append({"weighted_sums": weighted[0].numpy(), "activations": hidden[0].numpy()})
        logits = model.classifier(hidden)[0]
        probabilities = logits.softmax(-1)
        winner = int(logits.argmax())
        contributions = (model.classifier.weight[winner] * hidden[0]).numpy()
    top = np.argsort(-contributions)[:TOP_NEURONS] if layers else np.array([], dtype=int)
    return {
        "layers": layers,
        "logits": logits.numpy(),
        "probabilities": probabilities.numpy(),
        "winner": winner,
        "contributions": contributions,
        "top_units": top,
    }


def backward_step(model, pixels: torch.Tensor, label: int, learning_rate: float) -> dict:
    """One step of gradient descent on one example, in place: the loss, each layer's gradient (autograd's), the
    update (-learning_rate x gradient), and the prediction before and after."""
    target = torch.tensor([label])
    model.zero_grad()
    output = model(pixels, labels=target)
    before = output.logits.detach().softmax(-1)[0].numpy()
    output.loss.backward()
    gradients = {}
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            gradients[name] = parameter.grad.detach().clone()
            parameter -= learning_rate * parameter.grad
    model.zero_grad()
    with torch.no_grad():
        after_output = model(pixels, labels=target)
    return {
        "loss_before": output.loss.item(),
        "loss_after": after_output.loss.item(),
        "before": before,
        "after": after_output.logits.softmax(-1)[0].numpy(),
        "gradients": gradients,
        "learning_rate": learning_rate,
    }


def input_gradients(model, pixels: torch.Tensor, units) -> np.ndarray:
    """For units of the last hidden layer: the gradient of each one's weighted sum with respect to the 784 inputs, at
    this drawing, as (units, 28, 28): which pixels raise it (blue) or lower it (orange) here. For a first-layer unit
    it is exactly its incoming weights."""
    inputs = pixels.float().clone().requires_grad_(True)
    hidden = inputs
    for layer in model.hidden_layers[:-1]:
        hidden = model.activation(layer(hidden))
    sums = model.hidden_layers[-1](hidden)[0]
    rows = [torch.autograd.grad(sums[int(unit)], inputs, retain_graph=True)[0][0] for unit in units]
    return torch.stack(rows).reshape(len(rows), 28, 28).numpy()


def top_unit_gallery(model, result, pixels: torch.Tensor) -> list:
    """The last hidden layer's units that pushed the winning digit most, each as a picture of what raises its
    weighted sum (its incoming weights in the first layer; deeper, its gradient with respect to the input pixels at
    this drawing), captioned weight x activation."""
    if not result["layers"]:
        return []
    activations = result["layers"][-1]["activations"]
    weights = model.classifier.weight[result["winner"]].detach().numpy()
    tiles = input_gradients(model, pixels, result["top_units"])
    return [
        (tile_grid(tile[None], 1, zoom=4), f"#{unit}: {weights[unit]:.2f} × {activations[unit]:.2f}")
        for unit, tile in zip(result["top_units"], tiles)
    ]


def forward_explanation(model, result) -> str:
    winner = result["winner"]
    p = result["probabilities"][winner]
    text = f"The network answers **{winner}** with probability **{p:.1%}** (logit {result['logits'][winner]:.2f}). "
    if result["layers"]:
        active = int((result["layers"][-1]["activations"] > 0).sum())
        size = len(result["layers"][-1]["activations"])
        bias = model.classifier.bias[winner].item()
        text += (
            f"Its logit is the bias {bias:.2f} plus, over the {size} units of the last hidden layer, weight × "
            f"activation ({active} of them above zero); the pictures show the units that added most, each captioned "
            "weight × activation."
        )
    return text
