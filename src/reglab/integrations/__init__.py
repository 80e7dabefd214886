"""Trainer integrations, each behind an optional extra (imported on demand, not by ``import reglab``).

- ``reglab.integrations.lightning``: ``ReglabCallback`` and the ``ReglabModule`` mixin
  (``pip install "reglab[lightning]"``), and ``ResumableLoader`` for checkpoints in mid-epoch
  (``reglab.integrations.resumable``, which needs no extra).
- ``reglab.integrations.huggingface``: ``ReglabTrainer`` and ``ReglabTrainerCallback``
  (``pip install "reglab[huggingface]"``).

Both build a ``reglab.Recipe`` of the methods and the trainer's optimizer, so the same
combinations are accepted or refused as in a plain loop, and train to the same parameters.
"""
