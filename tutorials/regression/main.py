"""Polynomial regression with SGD on synthetic data: the mlxlaunch tutorial.

Pure Python, so it runs anywhere. Try:

    python main.py                                   # one run in logs/1
    python main.py optimizer.lr=0.01,0.1 seed=1,2    # a 4-point sweep
    python main.py +launcher.logger.forced_log_id=1 num_epoch=20   # resume run 1

Each epoch saves a checkpoint; starting a run again with its id (a forced log id)
continues from its last checkpoint instead of starting over.
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
    data = make_data(cfg.data.n_samples, cfg.data.noise)  # the same data on every attempt
    weights = [0.0] * (cfg.model.num_layers + 1)
    start, loss = 0, float("nan")
    if ctx.logger is not None:
        try:  # a run started again with +launcher.logger.forced_log_id=N resumes here
            ckpt = ctx.logger.load_checkpoint("last_ckpt")
            start, weights, loss = ckpt["epoch"] + 1, ckpt["weights"], ckpt.get("loss", loss)
            random.setstate(ckpt["rng"])  # the shuffles go on as if never stopped
            print(f"resuming run {ctx.info.log_id} at epoch {start}")
        except FileNotFoundError:
            pass  # no checkpoint yet: start from scratch
    if start >= cfg.num_epoch:
        print(f"run {ctx.info.log_id}: already trained {start} epochs; pass a larger num_epoch")
    for epoch in range(start, cfg.num_epoch):
        random.shuffle(data)
        total = 0.0
        for x, y in data:
            error = predict(weights, x) - y
            total += error * error
            weights = [w - cfg.optimizer.lr * 2 * error * x**k for k, w in enumerate(weights)]
        loss = total / len(data)
        if ctx.logger is not None:
            ctx.logger.log_metrics({"loss": loss, "epoch": epoch}, log_name="train")
            state = {"epoch": epoch, "weights": weights, "loss": loss, "rng": random.getstate()}
            ctx.logger.log_checkpoint(state, log_name="last_ckpt")
    print(f"run {ctx.info.log_id}: final loss {loss:.4f}")


if __name__ == "__main__":
    train()
