"""reglab in the Hugging Face Trainer: ELR (per-example targets) + L2 on an MLP for sklearn digits.

Run: ``python examples/with_huggingface.py`` (needs the ``huggingface`` and ``bench`` extras).
"""

import tempfile

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import Dataset
from transformers import TrainingArguments

import reglab as rl
from reglab.integrations.huggingface import ReglabTrainer

torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
y = torch.tensor(digits.target)


class Digits(Dataset):
    """Batches are dicts: the input ("x"), the labels and each example's index (for ELR)."""

    def __len__(self):
        return 1200

    def __getitem__(self, i):
        return {"x": x[i], "labels": y[i], "index": i}


model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
with tempfile.TemporaryDirectory() as out:
    args = TrainingArguments(out, max_steps=60, per_device_train_batch_size=32,
                             gradient_accumulation_steps=2,  # the L2 term counts once a step
                             lr_scheduler_type="constant", report_to="none", save_strategy="no",
                             logging_steps=20, disable_tqdm=True, use_cpu=True, seed=0)
    trainer = ReglabTrainer(
        model=model, args=args, train_dataset=Digits(), optimizers=(optimizer, None),
        methods=[rl.ELR(num_examples=1200, num_classes=10, strength=3.0), rl.L2(model, strength=1e-4)],
    )
    trainer.train()

with torch.no_grad():
    accuracy = (model(x[1200:]).argmax(1) == y[1200:]).float().mean().item()
logged = [k for k in trainer.state.log_history[-2] if k.startswith("reglab/")]
print(f"with_huggingface: ELR + L2 on sklearn digits, test accuracy {accuracy:.3f}; logged {logged}")
