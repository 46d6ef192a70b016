"""Inference: rebuild a trained generator and translate with it (files, folders, tiles), sample a
DCGAN, export, and the reference's test.py. Never imports training."""
