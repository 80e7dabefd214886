"""Pure functions of the layers package, re-exported by ``reglab.functional``."""

from reglab.layers.drop_path import drop_path
from reglab.layers.fractal_join import fractal_join
from reglab.layers.ghost_batchnorm import ghost_batch_norm
from reglab.layers.mixout import mixout
from reglab.layers.multi_sample_dropout import multi_sample_dropout
from reglab.layers.rnn_dropout import lstm_nonrecurrent_dropout
from reglab.layers.weight_compander import weight_compander

__all__ = ["drop_path", "fractal_join", "ghost_batch_norm", "lstm_nonrecurrent_dropout", "mixout",
           "multi_sample_dropout", "weight_compander"]
