"""Composition: what the commands put together from the layers below: ``run.train`` (the loop plus
its watchers), ``presets`` (options to a Config: recipes, the demo), ``bench`` (cyclegan-bench)."""
