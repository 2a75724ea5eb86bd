"""A stand-in for the few torch names MLXP's tutorial uses (torch is not a test dependency).

Only ``manual_seed`` and ``optim.SGD`` are used by ``main.py``; ``core_app.py``
(the tutorial's model, data and training step) is rewritten on numpy to match.
"""

import types

import numpy as np


def manual_seed(seed):
    np.random.seed(seed)


class _SGD:
    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def step(self):
        for p in self.params:
            p.value -= self.lr * p.grad


optim = types.SimpleNamespace(SGD=_SGD)
