"""Train a small snnTorch network and export it to NIR: examples/snntorch_mlp.nir.

The committed file was made with torch 2.13.0 (CPU), snntorch 1.0.0,
nirtorch 2.6 and nir 1.0.8, by ``python -m examples.snntorch_export``.
torch is NOT a dependency of spikeloom; to remake the file, install the
optional tools first::

    pip install torch snntorch nirtorch

The network: a 4 x 4 input (rate-coded pixels) -> Flatten -> Linear(16, 24)
with bias -> Leaky -> Linear(24, 4) with bias -> Leaky, trained for a few
seconds to tell which quadrant of the 4 x 4 image is bright. Two snnTorch
export details this script works around: a scalar ``beta`` exports a LIF
node without a shape, which NIR's type inference refuses (so ``beta`` and
``threshold`` are given per neuron), and the batch dimension of the sample
has to be named in ``ignore_dims``. snnTorch exports with dt = 1e-4 s
(``tau = dt / (1 - beta)``, ``r = tau / dt``), spikeloom's default ``--dt``.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

OUT = Path(__file__).resolve().parent / "snntorch_mlp.nir"
STEPS = 20


def quadrant_batch(rng: np.random.Generator, n: int):
    """Images with one bright quadrant (rate 0.8) over a dim background (0.1)."""
    labels = rng.integers(0, 4, n)
    x = np.full((n, 4, 4), 0.1)
    for i, q in enumerate(labels):
        r, c = divmod(int(q), 2)
        x[i, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = 0.8
    return x, labels


def main() -> None:
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    def leaky(n, output=False):
        return snn.Leaky(
            beta=torch.full((n,), 0.9), threshold=torch.ones(n), init_hidden=True, output=output
        )

    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(16, 24),
        leaky(24),
        torch.nn.Linear(24, 4),
        leaky(4, output=True),
    )
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    for _ in range(150):
        x, y = quadrant_batch(rng, 32)
        rates = torch.tensor(x, dtype=torch.float32)
        for m in net.modules():
            if isinstance(m, snn.Leaky):
                m.reset_hidden()
        counts = 0
        for _ in range(STEPS):
            spikes, _ = net(torch.bernoulli(rates))
            counts = counts + spikes
        loss = torch.nn.functional.cross_entropy(counts, torch.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = float((counts.argmax(1) == torch.tensor(y)).float().mean())
    graph = export_to_nir(net, torch.zeros(1, 4, 4), ignore_dims=[0])
    nir.write(OUT, graph)
    print(f"trained: loss {float(loss.detach()):.3f}, batch accuracy {acc:.2f}; wrote {OUT}")
    print(f"torch {torch.__version__}, snntorch {snn.__version__}")


if __name__ == "__main__":
    main()
