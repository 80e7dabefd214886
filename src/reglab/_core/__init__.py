"""Core contracts: registry, validation, schedules, parameter selection and Recipe."""
