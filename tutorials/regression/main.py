"""Polynomial regression with SGD on synthetic data: the mlxlaunch tutorial.

Pure Python, so it runs anywhere. Try:

    python main.py                                   # one run in logs/1
    python main.py optimizer.lr=0.01,0.1 seed=1,2    # a 4-point sweep
    python main.py +launcher.logger.forced_log_id=1 num_epoch=20   # resume run 1
"""

import math
import random

import mlxlaunch


def set_seeds(seed: int) -> None:
    random.seed(seed)


def make_data(n_samples: int, noise: float) -> list[tuple[float, float]]:
    xs = [random.uniform(-1.0, 1.0) for _ in range(n_samples)]
    return [(x, math.sin(2.0 * x) + random.gauss(0.0, noise)) for x in xs]


def predict(weights: list[float], x: float) -> float:
    return sum(w * x**k for k, w in enumerate(weights))


@mlxlaunch.launch(config_path="configs", seeding_function=set_seeds)
def train(ctx: mlxlaunch.Context) -> None:
    """Fit a polynomial of degree model.num_layers to sin(2x) with SGD."""
    cfg = ctx.config
    data = make_data(cfg.data.n_samples, cfg.data.noise)
    weights = [0.0] * (cfg.model.num_layers + 1)
    for epoch in range(cfg.num_epoch):
        random.shuffle(data)
        total = 0.0
        for x, y in data:
            error = predict(weights, x) - y
            total += error * error
            weights = [w - cfg.optimizer.lr * 2 * error * x**k for k, w in enumerate(weights)]
        loss = total / len(data)
        if ctx.logger is not None:
            ctx.logger.log_metrics({"loss": loss, "epoch": epoch}, log_name="train")
    print(f"run {ctx.info.log_id}: final loss {loss:.4f}")


if __name__ == "__main__":
    train()
