"""The intermediate representation: the typed graph (graph.py) and its attribute readers (attrs.py)."""
