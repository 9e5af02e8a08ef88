"""Benchmarks of the hedger, each against a bare baseline measured in the same run.

Run all with `python -m benchmarks`, or some with `python -m benchmarks greeks decode`.
One JSON document goes to stdout; progress goes to stderr. Nothing here asserts a time:
the figures are for reading and comparing (see DESIGN.md §9, "Performance model").
"""
