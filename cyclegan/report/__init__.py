"""Watching a run: the HTML report, the progression animation, the visdom dashboard, TensorBoard,
Weights & Biases and DCGAN sample grids.

Each is a watcher: a callable subscribed to the run's events (``cyclegan/events.py``). It reads
the payloads (losses, images, networks) and never changes training. ``cyclegan.compose.run`` decides
which watchers a run gets.
"""
DISPLAY_CHOICES = ("auto", "visdom", "tensorboard", "none")

__all__ = ["DISPLAY_CHOICES"]
