"""cyclegan: unpaired image-to-image translation (CycleGAN, Zhu et al. 2017).

    from cyclegan import Config, train
    cfg = Config()
    cfg.data.domainA, cfg.data.domainB = "forest", "abstract"
    result = train(cfg)
"""
import sys
import types

from .config import Config, DataConfig, ModelConfig, TrainConfig
from .errors import UserError

__version__ = "0.1.0"

__all__ = ["Config", "DataConfig", "ModelConfig", "TrainConfig", "UserError", "train", "__version__"]


def __getattr__(name: str):
    # ``train`` pulls in the loop, the report and evaluation: load it on first use, so that
    # ``from cyclegan import Config``, translation and the scraper stay quick to start.
    if name == "train":
        from .run import train
        globals()["train"] = train
        return train
    raise AttributeError(f"module 'cyclegan' has no attribute {name!r}")


class _Package(types.ModuleType):
    """``cyclegan.train`` is the function above, although a subpackage ``cyclegan/train/`` exists:
    importing a subpackage binds its name on the parent, and this keeps the function's name
    from being rebound to the module (``import cyclegan.train.loop`` still works as usual)."""

    def __setattr__(self, name, value):
        if name == "train" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
