"""ContinualBackprop against a per-unit Python loop of GnT in float64, on MLPs and conv nets,
optimizer-state resets, Recipe integration and stop-and-resume."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def batches(n, dim=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, dim, generator=g, dtype=torch.float64),
             torch.randint(0, 3, (16,), generator=g)) for _ in range(n)]


def reference_gnt(model, opt, hidden, state, rate, maturity, d, g):
    """GnT written unit by unit with Python floats (utility: adaptable contribution)."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    chosen_all = []
    for l, h in enumerate(hidden):
        W, Wn = linears[l].weight, linears[l + 1].weight
        st = state[l]
        for i in range(W.shape[0]):
            st["age"][i] += 1
            col = [float(h[n, i]) for n in range(h.shape[0])]
            st["mean"][i] = d * st["mean"][i] + (1 - d) * sum(col) / len(col)
            corr = 1 - d ** st["age"][i]
            fhat = st["mean"][i] / corr
            out_mag = sum(abs(float(Wn[k, i].detach())) for k in range(Wn.shape[0])) / Wn.shape[0]
            in_mag = sum(abs(float(W[i, j].detach())) for j in range(W.shape[1])) / W.shape[1]
            y = out_mag * sum(abs(v - fhat) for v in col) / len(col) / in_mag
            st["util"][i] = d * st["util"][i] + (1 - d) * y
        eligible = [i for i in range(W.shape[0]) if st["age"][i] > maturity]
        chosen = []
        if eligible:
            st["acc"] += rate * len(eligible)
            k = int(st["acc"])
            st["acc"] -= k
            ranked = sorted(eligible, key=lambda i: (st["util"][i] / (1 - d ** st["age"][i]), i))
            chosen = sorted(ranked[:k])
        fhats = {i: st["mean"][i] / (1 - d ** st["age"][i]) for i in chosen}
        for i in chosen:
            st["util"][i] = 0.0
            st["mean"][i] = 0.0
        chosen_all.append((chosen, fhats))
    with torch.no_grad():
        for l, (chosen, fhats) in enumerate(chosen_all):
            if not chosen:
                continue
            lay, nxt = linears[l], linears[l + 1]
            bound = 1 / lay.in_features ** 0.5
            block = torch.empty(len(chosen), lay.in_features, dtype=torch.float64).uniform_(-bound, bound, generator=g)
            for j, i in enumerate(chosen):
                for c in range(lay.in_features):
                    lay.weight[i, c] = block[j, c]
                lay.bias[i] = 0.0
                for k in range(nxt.out_features):
                    nxt.bias[k] += nxt.weight[k, i] * fhats[i]
                    nxt.weight[k, i] = 0.0
                state[l]["age"][i] = 0
                for p, index in ((lay.weight, (i,)), (lay.bias, (i,)), (nxt.weight, (slice(None), i))):
                    for v in opt.state[p].values():
                        if torch.is_tensor(v) and v.shape == p.shape:
                            v[index] = 0.0
            state[l]["replaced"] += len(chosen)


@pytest.mark.parametrize("make_opt", [
    lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
    lambda ps: torch.optim.Adam(ps, lr=0.01),
], ids=["sgd-momentum", "adam"])
def test_matches_per_unit_reference_loop_for_50_steps(make_opt):
    rate, maturity, d = 0.2, 3, 0.9
    model, ref = mlp(), mlp()
    opt, ref_opt = make_opt(model.parameters()), make_opt(ref.parameters())
    cbp = rl.ContinualBackprop(model, replacement_rate=rate, maturity=maturity, decay=d,
                               generator=torch.Generator().manual_seed(7))
    cbp.attach(opt)
    g = torch.Generator().manual_seed(7)
    state = [{"age": [0] * n, "util": [0.0] * n, "mean": [0.0] * n, "acc": 0.0, "replaced": 0} for n in (7, 6)]
    for x, y in batches(50):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        ref_opt.zero_grad()
        h1 = torch.relu(ref[0](x))
        h2 = torch.tanh(ref[2](h1))
        F.cross_entropy(ref[4](h2), y).backward()
        ref_opt.step()
        reference_gnt(ref, ref_opt, [h1.detach(), h2.detach()], state, rate, maturity, d, g)
    assert cbp.replacements == {"0": state[0]["replaced"], "2": state[1]["replaced"]}
    assert state[0]["replaced"] > 20 and state[1]["replaced"] > 20
    for a, b in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    torch.testing.assert_close(cbp.ages[0], torch.tensor(state[0]["age"]))
    torch.testing.assert_close(cbp.utility[1], torch.tensor(state[1]["util"], dtype=torch.float64),
                               rtol=0, atol=1e-12)


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(5 * 3 * 3, 3))


def test_conv_units_are_channels_replaced_with_zero_outgoing_weights():
    model = cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    cbp = rl.ContinualBackprop(model, replacement_rate=0.25, maturity=0)
    cbp.attach(opt)
    x, y = torch.randn(4, 2, 6, 6), torch.randint(0, 3, (4,))
    before = copy.deepcopy(model)
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()
    assert cbp.replacements == {"0": 1, "2": 1}
    # layer "2" (5 channels) replaced one channel: its 9 Linear columns are zero, its bias is zero
    zero_ch = [c for c in range(5) if model[6].weight[:, c * 9:(c + 1) * 9].abs().sum() == 0]
    assert len(zero_ch) == 1 and float(model[2].bias[zero_ch[0]].detach()) == 0.0
    c = zero_ch[0]
    assert model[2].weight[c].abs().max() <= 1 / (4 * 9) ** 0.5
    assert not torch.equal(model[2].weight[c], before[2].weight[c])
    st = opt.state[model[6].weight]
    assert st["exp_avg"][:, c * 9:(c + 1) * 9].abs().sum() == 0 and st["exp_avg_sq"][:, c * 9:(c + 1) * 9].abs().sum() == 0
    assert float(st["step"]) == 1.0  # per-tensor step count is left alone
    (k,) = (cbp.ages[0] == 0).nonzero().flatten().tolist()  # the channel replaced in layer "0"
    others = [r for r in range(5) if r != c]
    assert model[2].weight[others][:, k].abs().sum() == 0  # fresh rows of layer "2" are drawn after
    assert opt.state[model[0].weight]["exp_avg"][k].abs().sum() == 0


def test_bias_absorbs_mean_contribution_of_a_constant_unit():
    """A unit with a constant activation: replacing it leaves the network's outputs unchanged."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2)).double()
    with torch.no_grad():
        model[0].weight[0] = 0.0
        model[0].bias[0] = 2.0  # unit 0 outputs 2 for every input
        model[2].weight[:, 0] = 1e-3  # and contributes least: it is the one replaced
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    cbp = rl.ContinualBackprop(model, replacement_rate=1 / 3, maturity=0, decay=0.5, utility="contribution")
    cbp.attach(opt)
    x = torch.randn(8, 2, dtype=torch.float64)
    out_before = model(x).detach()
    opt.step()
    assert cbp.replacements == {"0": 1} and int(cbp.ages[0][0]) == 0
    assert model[2].weight[:, 0].abs().sum() == 0 and model[0].weight[0].abs().sum() > 0
    torch.testing.assert_close(model(x).detach(), out_before, rtol=0, atol=1e-12)


def test_no_forward_since_last_step_skips_and_zero_rate_does_nothing():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    cbp = rl.ContinualBackprop(model, replacement_rate=0.5, maturity=0)
    cbp.attach(opt)
    opt.step()
    assert int(cbp.ages[0].max()) == 0
    model.eval()
    model(torch.randn(2, 5, dtype=torch.float64))  # eval forward is not recorded
    opt.step()
    assert int(cbp.ages[0].max()) == 0


def test_recipe_attaches_and_resume_is_bit_exact():
    data = [(x.float(), y) for x, y in batches(20)]

    def build():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.Tanh(), nn.Linear(6, 3))
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        cbp = rl.ContinualBackprop(model, replacement_rate=0.3, maturity=2)
        return model, opt, cbp, rl.Recipe([opt, cbp])

    model, opt, cbp, recipe = build()
    for x, y in data[:10]:
        recipe.step(model, x, y)
    saved = copy.deepcopy((model.state_dict(), opt.state_dict(), cbp.state_dict()))
    for x, y in data[10:]:
        recipe.step(model, x, y)
    model2, opt2, cbp2, recipe2 = build()
    model2.load_state_dict(saved[0])
    opt2.load_state_dict(saved[1])
    cbp2.load_state_dict(saved[2])
    for x, y in data[10:]:
        recipe2.step(model2, x, y)
    assert sum(cbp.replacements.values()) > 10
    assert cbp.replacements == cbp2.replacements
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)


def test_refuses_models_it_cannot_track():
    with pytest.raises(ValueError, match="BatchNorm1d"):
        rl.ContinualBackprop(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="hidden layer"):
        rl.ContinualBackprop(nn.Sequential(nn.Linear(2, 3)))
    with pytest.raises(TypeError, match="model"):
        rl.ContinualBackprop(nn.Linear(2, 3))
