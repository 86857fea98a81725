"""Evaluation of generated digits with a judge classifier, shared by the GAN and the DDPM.

- `JudgeFeatures`: a trained hfnets image classifier as a feature extractor (its last hidden layer).
- `frechet_distance`: Fréchet distance between two image sets in the judge's feature space (torchmetrics' FID with
  the judge in place of Inception).
- `conditional_accuracy`, `class_coverage`: does the generator draw the digit it was asked for, and every digit?
"""

from .classes import class_coverage, conditional_accuracy, judge_predictions
from .frechet import frechet_distance
from .judge import JudgeFeatures
from .report import evaluation_report, generate_for_evaluation, judge_pipeline

__all__ = [
    "JudgeFeatures",
    "class_coverage",
    "conditional_accuracy",
    "evaluation_report",
    "frechet_distance",
    "generate_for_evaluation",
    "judge_pipeline",
    "judge_predictions",
]
