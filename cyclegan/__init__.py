"""cyclegan: unpaired image-to-image translation (CycleGAN, Zhu et al. 2017).

    from cyclegan import Config
    from cyclegan.train import train
    cfg = Config(); cfg.data.domainA, cfg.data.domainB = "forest", "abstract"
    train(cfg)
"""
from .config import Config, DataConfig, ModelConfig, TrainConfig
from .errors import UserError

__version__ = "0.1.0"

__all__ = ["Config", "DataConfig", "ModelConfig", "TrainConfig", "UserError", "__version__"]
