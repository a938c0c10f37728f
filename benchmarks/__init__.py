"""Benchmarks of issue 7: the chapter's pipeline beside the project's, in one run on the same data.

``python -m benchmarks`` runs :func:`benchmarks.run.main`; :mod:`helpers.chapter` holds the
faithful re-implementation of the chapter's code. See ``benchmarks/README.md``.
"""
