"""Evaluation: feature extractors for KID/FID, scoring folders and runs, the training-time KID hook.

    features.py   inception (torch-fidelity), random (seeded, offline), torchvision:NAME
    score.py      score_folders, paired_folders, score_run
    lpips.py      LPIPS when its weights are already on this machine
    kid_watch.py  --eval_freq: KID during training, best_net_*.pth
    benchmark.py  the known-answer benchmark's settings and scoring (its training: quality/known_answer.py)
"""
