"""Pure functions of the layers package, re-exported by ``reglab.functional``."""

from reglab.layers.drop_path import drop_path
from reglab.layers.fractal_join import fractal_join
from reglab.layers.mixout import mixout
from reglab.layers.multi_sample_dropout import multi_sample_dropout

__all__ = ["drop_path", "fractal_join", "mixout", "multi_sample_dropout"]
