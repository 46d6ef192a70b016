"""Training: the CycleGAN step, the loop, checkpoints of the training state."""
from .loop import TrainResult, learning_rate, train

__all__ = ["train", "TrainResult", "learning_rate"]
