"""``python -m cyclegan.train ...`` is ``cyclegan-train ...`` (torchrun launches it this way)."""
import sys

from ..cli.train import main

sys.exit(main())
