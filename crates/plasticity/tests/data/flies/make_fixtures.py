# Generates the small fly fixtures (run once; not needed to build or test).
import numpy as np, scipy.io as sio
# 14 presentations, 2 odours: trials end with an accept; the last two rows are an
# unfinished trial (rejections after the last accept).
odours    = [0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1]
decisions = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0]
X = np.zeros((len(odours), 2)); X[np.arange(len(odours)), odours] = 1.0
Y = np.array([decisions], dtype=float)
R = np.array([[1, 0, 1, 1, 0, 1, 0, 1]], dtype=float)[:, : int(Y.sum())]
assert R.shape[1] == Y.sum()
extra = {"note": "fixture for plasticity", "info": {"a": 1.0, "b": "text"},
         "cells": np.array([[1.0, "x"]], dtype=object)}
sio.savemat("scipy_compressed.mat", {"X": X, "Y": Y, "R": R, **extra}, do_compression=True)
sio.savemat("scipy_uncompressed.mat", {"note": "variables before X", "X": X, "Y": Y, "R": R, **{k: v for k, v in extra.items() if k != "note"}}, do_compression=False)
with open("example.csv", "w") as f:
    f.write("trial,odour,decision,reward\n")
    trial, k = 0, 0
    for o, d in zip(odours, decisions):
        reward = "" if d == 0 else str(int(R[0, k]))
        f.write(f"{trial},{o},{d},{reward}\n")
        if d == 1:
            trial += 1; k += 1
print(R, Y.sum())
