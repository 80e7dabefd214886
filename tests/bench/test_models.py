import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reglab.bench.models import Arch, ModelSpec, OneHotLinear, build_model


def test_one_hot_linear_equals_linear_on_one_hot_inputs_with_the_same_init():
    torch.manual_seed(0)
    layer = OneHotLinear(vocab=7, tokens=2, out_features=5).double()
    torch.manual_seed(0)
    reference = nn.Linear(14, 5).double()
    assert torch.equal(layer.weight, reference.weight) and torch.equal(layer.bias, reference.bias)
    x = torch.randint(0, 7, (9, 2))
    one_hot = F.one_hot(x, 7).double().flatten(1)
    torch.testing.assert_close(layer(x), reference(one_hot), rtol=0, atol=1e-14)
    layer(x).sum().backward()
    reference(one_hot).sum().backward()
    torch.testing.assert_close(layer.weight.grad, reference.weight.grad)


@pytest.mark.parametrize(
    "shape, vocab, arch",
    [
        ((1, 8, 8), None, Arch.CNN),
        ((40,), None, Arch.CNN),
        ((3, 40), None, Arch.CNN),
        ((1, 8, 8), None, Arch.MLP),
        ((2,), 11, Arch.MLP),
        ((2,), 11, Arch.TRANSFORMER),
    ],
)
def test_models_take_their_inputs_and_end_in_a_linear_head(shape, vocab, arch):
    spec = ModelSpec(arch=arch, width=16, depth=2, channels=4, dropout=0.1)
    model = build_model(spec, shape, num_classes=5, vocab=vocab)
    x = torch.randint(0, vocab, (3, *shape)) if vocab else torch.randn(3, *shape)
    assert model(x).shape == (3, 5)
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    assert head.out_features == 5
    if arch is Arch.TRANSFORMER:
        assert model.head is head
    else:  # features then classifier; the classifier ends in the head
        assert list(dict(model.named_children())) == ["features", "classifier"]
        assert (model.classifier[-1] if arch is Arch.CNN else model.classifier) is head


def test_bias_dtype_and_bad_specs():
    model = build_model(ModelSpec(width=8, bias=False, dtype="float64"), (2,), 5, vocab=5)
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert not any(name.endswith("bias") for name, _ in model.named_parameters())
    with pytest.raises(ValueError, match="model.dropout must be in \\[0, 1\\)"):
        ModelSpec(dropout=1.0)
    with pytest.raises(
        ValueError, match="model.arch must be one of cnn, lstm, mlp, transformer; got 'cnm'"
    ):
        ModelSpec(arch="cnm")
    with pytest.raises(ValueError, match="'cnn' needs real-valued inputs"):
        build_model(ModelSpec(arch="cnn"), (2,), 5, vocab=5)
    with pytest.raises(ValueError, match="'transformer' needs integer token inputs"):
        build_model(ModelSpec(arch="transformer"), (1, 8, 8), 5)
