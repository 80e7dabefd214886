"""Weight-space methods on fine-tuned models: model soups, DARE merging, BatchNorm recalibration.

Each is a function on state dicts (registry kind ``weights``), run after training, not in the step.
"""

from reglab.merging.batchnorm import recalibrate_batchnorm
from reglab.merging.dare import DareRescale, dare, dare_merge, task_vector
from reglab.merging.soup import GreedySoup, greedy_soup, uniform_soup

__all__ = [
    "DareRescale",
    "GreedySoup",
    "dare",
    "dare_merge",
    "greedy_soup",
    "recalibrate_batchnorm",
    "task_vector",
    "uniform_soup",
]
