"""cyclegan: unpaired image-to-image translation (CycleGAN, Zhu et al. 2017).

    from cyclegan import Config, train
    cfg = Config()
    cfg.data.domainA, cfg.data.domainB = "forest", "abstract"
    result = train(cfg)

``cfg.model`` holds the model's own options; ``use_model(cfg, "fastcut")`` switches the model.
"""
from .compat import old_paths as _old_paths
from .config import Config, DataConfig, ModelConfig, TrainConfig
from .errors import UserError
from .models import use_model

__version__ = "0.1.0"

__all__ = ["Config", "DataConfig", "ModelConfig", "TrainConfig", "UserError", "train", "use_model", "__version__"]


def __getattr__(name: str):
    # ``train`` pulls in the loop, the report and evaluation: load it on first use, so that
    # ``from cyclegan import Config``, translation and the scraper stay quick to start.
    if name == "train":
        from .compose.run import train
        globals()["train"] = train
        return train
    raise AttributeError(f"module 'cyclegan' has no attribute {name!r}")


_old_paths.install()   # cyclegan.train.* (the training subpackage's old name) for one more release
