"""Tooling, not API: random weights, model loading, the zoo sweep and its lists (for the CLI, tests, docs, bench)."""
