"""Inside the RNN: one hidden unit's activation along a text, character by character, and the units that respond to
kinds of characters."""

import html

import gradio as gr
import torch

from ..inputs import Refused, bounded

RNN_SAMPLE = (
    "MENENIUS:\nWhat is the city but the people?\n\nCitizens:\nTrue,\nThe people are the city.\n\n"
    "BRUTUS:\nBy the consent of all, we were establish'd\nThe people's magistrates.\n"
)
MAX_RNN_CHARS = 2000
KINDS = {
    "line ends": lambda c: c == "\n",
    "capitals": str.isupper,
    "quotes and apostrophes": lambda c: c in "'\"",
    "spaces": lambda c: c == " ",
    "punctuation": lambda c: c in ",.;:!?-",
}
NEGATIVE, POSITIVE = (245, 147, 34), (8, 119, 189)


def unit_activations(tokenizer, model, text: str) -> tuple[list[str], list[torch.Tensor]]:
    """The characters of `text` and, for each recurrent layer, its output at every character (seq, hidden_size): the
    model's `hidden_states` (after the embedding), read in one pass with the state carried along."""
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        outputs = model(input_ids=ids, output_hidden_states=True)
    return tokenizer.convert_ids_to_tokens(ids[0].tolist()), [layer[0] for layer in outputs.hidden_states[1:]]


def responsive_units(activations: torch.Tensor, selected: torch.Tensor, count: int = 5) -> list[tuple[int, float]]:
    """The units whose mean activation on the `selected` characters differs most from their mean on the others:
    (unit, difference), largest difference first."""
    if selected.all() or not selected.any():
        return []
    difference = activations[selected].mean(0) - activations[~selected].mean(0)
    order = difference.abs().argsort(descending=True)[:count]
    return [(int(unit), float(difference[unit])) for unit in order]


def colored_text(characters: list[str], values: torch.Tensor) -> str:
    """The text as HTML, each character's background coloured by its value: blue above zero, orange below."""
    scale = float(values.abs().max()) or 1.0
    spans = []
    for character, value in zip(characters, values.tolist()):
        strength = min(1.0, abs(value) / scale)
        color = POSITIVE if value >= 0 else NEGATIVE
        rgb = ", ".join(str(round(255 + (channel - 255) * strength)) for channel in color)
        shown = html.escape("⏎\n" if character == "\n" else character)
        spans.append(f'<span title="{value:+.3f}" style="background: rgb({rgb})">{shown}</span>')
    return (
        '<div class="unit-text" style="font-family: monospace; white-space: pre-wrap; line-height: 1.6">'
        + "".join(spans)
        + "</div>"
    )


def make_inside(tokenizer, model):
    def show(text: str, layer: float, unit: float):
        if not isinstance(text, str) or not text.strip():
            raise Refused("Type some text first.")
        if len(text) > MAX_RNN_CHARS:
            raise Refused(f"Keep the text under {MAX_RNN_CHARS} characters.")
        layer = bounded(layer, 1, model.config.num_layers, f"Choose a layer from 1 to {model.config.num_layers}.")
        unit = bounded(
            unit, 0, model.config.hidden_size - 1, f"Choose a unit from 0 to {model.config.hidden_size - 1}."
        )
        characters, layers = unit_activations(tokenizer, model, text)
        if not characters:
            raise Refused("The text holds no character the model knows.")
        activations = layers[layer - 1]
        rows = []
        for kind, test in KINDS.items():
            selected = torch.tensor([test(character) for character in characters])
            for found, difference in responsive_units(activations, selected, count=3):
                rows.append([kind, found, round(difference, 3)])
        values = activations[:, unit]
        note = (
            f"Layer {layer}, unit {unit}: from {float(values.min()):+.2f} to {float(values.max()):+.2f} along "
            f"{len(characters)} characters (hover a character for its value)."
        )
        return colored_text(characters, values), rows, note

    return show


def inside_tab(tokenizer, model) -> None:
    """The recurrent network seen from inside: a hidden unit's activation along a text, character by character."""
    show = make_inside(tokenizer, model)
    with gr.Accordion("Inside the RNN: one unit along a text", open=False, elem_id="rnn-inside"):
        gr.Markdown(
            "Each of the RNN's hidden units is a number carried from character to character. Pick one and see it "
            "along a text: blue where it is high, orange where it is low. The table lists, for kinds of "
            "characters, the units whose value differs most on them from elsewhere (the *difference*: the unit's "
            "mean value on those characters minus its mean everywhere else; the values lie between -1 and +1, so it "
            "runs from -2 to +2); some of them track line ends, capitals (a speaker's name) or the inside of a word."
        )
        text = gr.Textbox(value=RNN_SAMPLE, label="Text", lines=6, max_length=MAX_RNN_CHARS, elem_id="rnn-inside-text")
        with gr.Row():
            layers = list(range(1, model.config.num_layers + 1))
            layer = gr.Dropdown(layers, value=layers[-1], label="Layer", elem_id="rnn-layer")
            unit = gr.Number(value=0, precision=0, minimum=0, maximum=model.config.hidden_size - 1, label="Unit")
            button = gr.Button("Show the unit", variant="primary", elem_id="show-unit")
        note = gr.Markdown(elem_id="rnn-inside-note")
        colored = gr.HTML(elem_id="unit-text")
        table = gr.Dataframe(
            headers=["characters", "unit", "difference"],
            label="Units that respond to kinds of characters (select a row to show that unit)",
            max_height=600,
            wrap=True,
            elem_id="responsive-units",
        )
        button.click(show, [text, layer, unit], [colored, table, note], api_name="rnn_unit", preprocess=False)

        def pick(rows, event: gr.SelectData):
            return int(rows.iloc[event.index[0]]["unit"]) if event.index is not None else gr.skip()

        table.select(pick, table, unit).then(show, [text, layer, unit], [colored, table, note], api_name=False)
