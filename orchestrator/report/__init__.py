"""Rendering runs: for people at a terminal or reading a log (console, live), for machines and
CI (JSON, Markdown, JUnit) and for the on-call engineer after the fact (one HTML page).

Each renderer reads the same result data (`results.RunResult`, `rollout.RolloutReport`) and
the events a rollout emits; none of them changes what runs.
"""
