"""Choosing strength (catalog family H): implicit hypergradients and HOAG.

``hypergradient`` gives d validation loss / d hyperparameters at an inner optimum by the
implicit function theorem (Lorraine et al.); ``hoag`` tunes log-strengths by hypergradient
descent with inexact inner solves (Pedregosa) on a ``BilevelProblem`` from ``tune.problems``
(L2-logistic, ridge, kernel ridge, or their K-fold stack). They run around training, not inside
a step.
"""

from reglab.tune import problems as problems  # the subpackage, as rl.tune.problems
from reglab.tune.hoag import HOAG, HoagResult, hoag
from reglab.tune.hypergradient import Hypergradient, Solver, hypergradient
from reglab.tune.problems import BilevelProblem
from reglab.tune.weight_decay import DecayPer, WeightDecayResult, learn_weight_decay

__all__ = ["HOAG", "BilevelProblem", "DecayPer", "HoagResult", "Hypergradient", "Solver",
           "WeightDecayResult", "hoag", "hypergradient", "learn_weight_decay"]
