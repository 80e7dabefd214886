"""The benchmark harness: tasks, recipes as data, runs, the results store, claims and the report.

Modules (import what you need; nothing heavy is imported here):

- ``tasks``: offline seeded tasks (modular addition, digits, mnist1d, their noisy versions) and a
  user's own data file; ``models``, ``datasets``, ``user_data`` behind them.
- ``recipes``: recipe YAML files naming registry methods; ``build_step`` makes the training step.
- ``runs``: ``resolve`` a (task, recipe, seed, settings) into a keyed ``RunConfig``; ``train``
  executes one; ``evaluation`` lists what a run measures.
- ``store``: the SQLite results store; ``sweep`` runs what the store lacks on a ``backends``
  backend (local process pool or Ray).
- ``claims``, ``measures``, ``stats``: the papers' claims and how they are judged;
  ``report``/``plots``: the HTML/markdown report; ``cli``: ``reglab bench|reproduce|report``.

>>> from reglab.bench.tasks import get_task
>>> get_task("digits").budget.steps
1000
"""
