"""Model cards: the family's Jinja template in `model_cards/`, filled from a training run's measured results."""

import logging
import shlex
from pathlib import Path

import jinja2
import jinja2.meta
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..atomic import write_text_atomically

logger = logging.getLogger(__name__)

# Installed wheels carry the templates inside the package; a source checkout has them at the repository root.
_TEMPLATE_DIRS = (
    Path(__file__).resolve().parents[1] / "model_cards",
    Path(__file__).resolve().parents[2] / "model_cards",
)


def template_path(family: str) -> Path:
    """The card template of a model family (`model_cards/<family>.md`)."""
    for folder in _TEMPLATE_DIRS:
        path = folder / f"{family}.md"
        if path.is_file():
            return path
    raise FileNotFoundError(f"No model card template {family}.md in {[str(d) for d in _TEMPLATE_DIRS]}.")


def render_model_card(family: str, card_data: ModelCardData, **values) -> ModelCard:
    """Render `model_cards/<family>.md` with `card_data` as the YAML header; every template variable must be given."""
    template = template_path(family).read_text()
    needed = jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(template)) - {"card_data"}
    missing = sorted(needed - values.keys())
    if missing:
        raise ValueError(f"The {family} model card needs values for {missing}.")
    return ModelCard.from_template(card_data, template_str=template, **values)


def save_model_card(card: ModelCard, output_dir: str | Path) -> Path:
    """Write the card to `<output_dir>/README.md` atomically."""
    path = Path(output_dir) / "README.md"
    write_text_atomically(path, str(card))
    return path


def card_dataset_id(
    dataset_name: str | None, card_dataset_id: str | None = None, train_file: str | None = None
) -> str:
    """The dataset a card names: --card_dataset_id, else the Hub id trained on, else a local folder or file name."""
    if card_dataset_id is not None:
        return card_dataset_id
    local = Path(train_file) if train_file is not None else Path(dataset_name)
    if train_file is None and not local.is_dir():
        return dataset_name  # a Hub id
    name = local.resolve().name  # a local path means nothing on the Hub
    logger.warning(f"Naming the dataset {name!r} in the model card; pass --card_dataset_id for its Hub id.")
    return name


def card_base_model(model_name_or_path: str | None) -> str | None:
    """The card's `base_model`: the Hub model a run started from (--model_name_or_path), not a local folder."""
    if model_name_or_path is None or Path(model_name_or_path).exists():
        return None
    return model_name_or_path


def training_command(script: str, argv: list[str]) -> str:
    """The command a card gives to reproduce a run: `accelerate launch <script> <argv>` without its resume flag.

    A resumed run continues the same run exactly, so the command that trains it from the start is the same one
    without `--resume_from_checkpoint` (which on a fresh output folder has nothing to resume from).
    """
    kept, skip_value = [], False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg == "--resume_from_checkpoint":
            skip_value = True
        elif not arg.startswith("--resume_from_checkpoint="):
            kept.append(arg)
    return shlex.join(["accelerate", "launch", script, *kept])


# The judge's metrics of a generative model, as its card shows them.
GENERATION_METRICS = (
    ("conditional_accuracy", "conditional accuracy (judge's class == requested class)"),
    ("frechet_distance", "Fréchet distance to real test digits (judge features)"),
    ("frechet_distance_floor", "same distance, real train vs real test digits (the floor)"),
)


def card_data(
    library: str,
    task: str,
    tags: list[str],
    dataset_id: str,
    model_name: str,
    base_model: str | None = None,
    metrics: dict[str, float] | None = None,
    split: str | None = None,
    eval_results: list[EvalResult] | None = None,
) -> ModelCardData:
    """A card's metadata, the YAML header the Hub reads: Apache-2.0, the library, the task and tags, the dataset, the
    model it was fine-tuned from, and each measured metric ({type: value}, on `split` of the dataset) as a Hub eval
    result, besides any given ready-made in `eval_results`."""
    results = list(eval_results or [])
    for metric, value in (metrics or {}).items():
        results.append(
            EvalResult(
                task_type=task,
                dataset_type=dataset_id,
                dataset_name=dataset_id,
                dataset_split=split,
                metric_type=metric,
                metric_value=round(value, 4),
            )
        )
    return ModelCardData(
        license="apache-2.0",
        library_name=library,
        pipeline_tag=task,
        tags=tags,
        datasets=[dataset_id],
        model_name=model_name,
        base_model=base_model,
        eval_results=results or None,
    )


def generation_results(evaluation: dict, dataset_id: str, how: str) -> tuple[str, list[EvalResult]]:
    """The card's results table of a generative model judged by a classifier (`evaluation`: the report of
    `hfnets.evaluation.judge_pipeline`, empty when not measured), and the same numbers as Hub eval results. `how`
    says how they were measured (the judge, the sampler)."""
    rows = ["| metric | value |", "|---|---|"]
    eval_results = []
    for key, label in GENERATION_METRICS:
        if key in evaluation:
            rows.append(f"| {label} | {evaluation[key]:.4f} |")
            eval_results.append(
                EvalResult(
                    task_type="image-generation",
                    dataset_type=dataset_id,
                    dataset_name=dataset_id,
                    metric_type=key,
                    metric_value=round(evaluation[key], 4),
                )
            )
    if not eval_results:
        rows.append("| (not measured: train with --judge_model, or run `hfnets evaluate`) | |")
    else:
        rows.append(f"\nMeasured on {evaluation['num_samples']} samples {how}.")
    return "\n".join(rows), eval_results
