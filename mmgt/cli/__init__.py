"""The ``mmgt`` command (assembled in :mod:`mmgt.cli.main`) and the plumbing both CLIs share (:mod:`mmgt.cli.common`).

Empty on purpose: ``mmgt-eval`` imports :mod:`mmgt.cli.common` without loading every ``mmgt`` command.
"""
