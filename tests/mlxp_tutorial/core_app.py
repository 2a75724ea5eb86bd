"""MLXP's tutorial core_app.py (model, data, one training epoch), on numpy instead of torch."""

import numpy as np


class _Param:
    def __init__(self, value):
        self.value, self.grad = value, np.zeros_like(value)


class _Scalar(float):
    def item(self):
        return float(self)


class OneHiddenLayer:
    def __init__(self, d_int, n_units):
        self.w1 = _Param(np.random.normal(size=(d_int, n_units)) / np.sqrt(d_int))
        self.w2 = _Param(np.random.normal(size=(n_units, 1)))
        self.n_units = n_units

    def parameters(self):
        return [self.w1, self.w2]

    def to(self, device):
        return self

    def __call__(self, x):
        self._x, self._h = x, np.tanh(x @ self.w1.value)
        return self._h @ self.w2.value / self.n_units


def DataLoader(d_int, device):
    teacher = OneHiddenLayer(d_int, 5)
    x = np.random.normal(size=(1000, d_int))
    return [(x, teacher(x))]


def train_epoch(dataloader, model, optimizer):
    for x, y in dataloader:
        pred = model(x)
        err = pred - y
        d_pred = 2 * err / len(x)
        model.w2.grad = model._h.T @ d_pred / model.n_units
        d_h = d_pred @ model.w2.value.T / model.n_units * (1 - model._h**2)
        model.w1.grad = model._x.T @ d_h
        optimizer.step()
        train_err = _Scalar(np.mean(err**2))
    return train_err
