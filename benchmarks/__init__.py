"""Speed benchmarks: ratios measured in one run, never asserted in tests. ``make bench`` runs all."""
