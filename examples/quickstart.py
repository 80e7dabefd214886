"""Two-line regularization in a plain PyTorch loop: an L2 penalty on an MLP for sklearn digits.

Run: ``python examples/quickstart.py`` (needs the ``bench`` extra for scikit-learn).
"""

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

import reglab as rl

torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
y = torch.tensor(digits.target)
x_train, y_train, x_test, y_test = x[:1200], y[:1200], x[1200:], y[1200:]

model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
penalty = rl.L2(model, strength=1e-3)  # line 1: the regularizer over the model's weights
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

for step in range(200):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x_train), y_train) + penalty()  # line 2: add it to the loss
    loss.backward()
    optimizer.step()

with torch.no_grad():
    accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
print(f"quickstart: L2-regularized MLP on sklearn digits, test accuracy {accuracy:.3f}")
