"""reglab in Lightning: L2 + Mixup + SAM on an MLP for sklearn digits, through a callback,
with gradient accumulation and a train loader that checkpoints can resume in mid-epoch.

Run: ``python examples/with_lightning.py`` (needs the ``lightning`` and ``bench`` extras).
"""

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import reglab as rl
from reglab.integrations.lightning import ReglabCallback, ReglabModule, ResumableLoader

torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
y = torch.tensor(digits.target)
train = ResumableLoader(DataLoader(  # a checkpoint can resume it in mid-epoch
    TensorDataset(x[:1200], y[:1200]), batch_size=32, shuffle=True,
    generator=torch.Generator().manual_seed(0)))


class Net(ReglabModule, pl.LightningModule):  # the mixin supplies training_step: loss of self(x)
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)

    def configure_optimizers(self):  # a reglab wrapper is an ordinary optimizer to Lightning
        return rl.SAM(torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9), rho=0.05)


model = Net()
callback = ReglabCallback([
    rl.L2(model, strength=1e-4),  # its gradient is added before each optimizer step
    rl.Mixup(alpha=0.2, num_classes=10, generator=torch.Generator().manual_seed(0)),
])
trainer = pl.Trainer(max_epochs=2, callbacks=[callback], accelerator="cpu", devices=1, logger=False,
                     accumulate_grad_batches=2,  # SAM's second pass re-runs both micro-batches
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
trainer.fit(model, train)

with torch.no_grad():
    accuracy = (model(x[1200:]).argmax(1) == y[1200:]).float().mean().item()
print(f"with_lightning: L2 + Mixup + SAM on sklearn digits, test accuracy {accuracy:.3f}")
