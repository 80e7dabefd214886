"""The ``reglab`` command line."""
