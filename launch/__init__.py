"""The command line and THE training loop of polytask.

``python -m launch train|eval|list|render`` (``launch.cli``); ``launch.loop.train``
runs any learner that follows ``launch.algorithm.Algorithm``; learners are named
in ``launch.algorithms`` with the presets; ``launch.checkpoint`` holds the
checkpoint format.
"""
