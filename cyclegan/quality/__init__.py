"""Quality against known answers: training a model and scoring its translations of photos whose
true translations are known (the demo, the known-answer benchmark). Composition: above training,
report and evaluation, which it puts together; nothing below imports it."""
