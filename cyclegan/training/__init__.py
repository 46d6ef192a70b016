"""Training: the model steps, the registry of models, and the loop that announces a run's moments.

Most callers want ``cyclegan.train`` (``from cyclegan import train``), which also attaches the
report, dashboards and evaluation; ``run_training`` here is the bare loop.
"""
from .loop import TrainResult, learning_rate, run_name, run_training
from .registry import ModelEntry, Supports, model_entry, register

__all__ = ["run_training", "run_name", "TrainResult", "learning_rate", "ModelEntry", "Supports", "model_entry",
           "register"]
