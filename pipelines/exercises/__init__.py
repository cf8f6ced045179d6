"""Take-home exercises cut from this project, and the graders that score them.

``lifecycle exercise new NAME DIR`` copies the project's tracked files into a fresh git
repository with one part removed or broken; ``lifecycle exercise grade DIR`` runs the hidden
grader tests of :mod:`pipelines.exercises.graders` against that repository and scores each
rubric line. See :mod:`pipelines.exercises.catalog` for the exercises.
"""
