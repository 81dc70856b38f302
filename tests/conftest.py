"""Shared test set-up. Tests that need Caffe fail (never skip) when pycaffe is missing."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
# Binding internal outputs next to the final one gives wrong numbers under MXNet's subgraph backend (see notes).
os.environ.setdefault("MXNET_SUBGRAPH_BACKEND", "NONE")

sys.path.insert(0, os.path.dirname(__file__))
