"""The reviewed Great Expectations suites (``records.json``, ``batch.json``), shipped as package data.

A package only so that installed copies find them with ``importlib.resources`` (tasks/config.py).
"""
