"""helpers.toy2d: notebook 12's two-dimensional problems, networks and self-training rounds."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from helpers import plots, toy2d  # noqa: E402


def test_a_toy_problem_has_its_counts_and_is_the_same_for_the_same_seed():
    toy = toy2d.make_toy("moons", seed=3, noise=0.1)
    assert toy.y_labeled.tolist() == [0, 0, 0, 1, 1, 1]
    assert len(toy.x_unlabeled) == 1000 and len(toy.x_test) == 5000
    again = toy2d.make_toy("moons", seed=3, noise=0.1)
    assert torch.equal(toy.x_unlabeled, again.x_unlabeled) and torch.equal(toy.x_labeled, again.x_labeled)
    other = toy2d.make_toy("moons", seed=4, noise=0.1)
    assert not torch.equal(toy.x_unlabeled, other.x_unlabeled)
    # the labelled points are not in the pool
    assert torch.cdist(toy.x_labeled, toy.x_unlabeled).min() > 0


def test_moons_lie_on_their_half_circles_without_noise():
    x, y = toy2d.two_moons(200, noise=0.0)
    upper, lower = torch.tensor(x[y == 0]), torch.tensor(x[y == 1])
    assert torch.allclose(upper.norm(dim=1), torch.ones(len(upper), dtype=upper.dtype), atol=1e-6)       # centre (0, 0), radius 1
    assert torch.allclose((lower - torch.tensor([1.0, 0.5], dtype=lower.dtype)).norm(dim=1),
                          torch.ones(len(lower), dtype=lower.dtype), atol=1e-6)


def test_class_weights_set_the_share_of_each_class():
    x, y = toy2d.two_gaussians(20000, distance=2.0, weights=(0.9, 0.1))
    assert y.mean() == pytest.approx(0.1, abs=0.01)
    # centres 2 standard deviations (0.4 each) apart around x = 0.5: 0.1 and 0.9
    assert x[y == 0, 0].mean() == pytest.approx(0.1, abs=0.02)
    assert x[y == 1, 0].mean() == pytest.approx(0.9, abs=0.03)


def test_a_gaussian_unit_answers_one_at_its_centre_and_fades_with_distance():
    bumps = toy2d.GaussianBumps(sigma=0.15)
    centre = bumps.centres[7]
    out = bumps(torch.stack([centre, centre + torch.tensor([0.15, 0.0])]))
    assert out[0, 7].item() == pytest.approx(1.0, abs=1e-5)
    assert out[1, 7].item() == pytest.approx(math.exp(-0.5), rel=1e-5)   # one sigma away
    far = bumps(torch.tensor([[30.0, 30.0]]))
    assert far.max().item() == 0.0


def test_fit_with_the_bumps_computed_once_is_plain_gradient_descent():
    # fit() computes the fixed layer once; the same steps written out on the whole network agree
    toy = toy2d.make_toy("moons", seed=0, noise=0.1)
    fast = toy2d.fit(toy2d.make_model("bumps", seed=1), toy.x_labeled, toy.y_labeled, steps=30)
    slow = toy2d.make_model("bumps", seed=1)
    optimizer = toy2d.make_optimizer(slow)
    for _ in range(30):
        loss = F.cross_entropy(slow(toy.x_labeled), toy.y_labeled)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.allclose(fast[1].weight, slow[1].weight, atol=1e-6)


def test_each_round_trains_on_what_the_model_before_it_was_sure_of():
    toy = toy2d.make_toy("moons", seed=0, noise=0.1)
    records = toy2d.self_train(toy, seed=0, rounds=3, threshold=0.9)
    assert len(records) == 4 and records[0]["mask"] is None
    for before, after in zip(records, records[1:]):
        max_probs, pseudo_labels = toy2d.predict_proba(before["model"], toy.x_unlabeled).max(dim=1)
        assert torch.equal(after["mask"], max_probs > 0.9)
        assert torch.equal(after["pseudo_labels"], pseudo_labels)


def test_a_relu_network_is_sure_of_most_of_the_pool_and_the_bumps_only_near_their_labels():
    toy = toy2d.make_toy("moons", seed=0, noise=0.1)
    share = {}
    for kind in ("relu", "bumps"):
        model = toy2d.fit(toy2d.make_model(kind, seed=0), toy.x_labeled, toy.y_labeled)
        share[kind] = (toy2d.predict_proba(model, toy.x_unlabeled).max(dim=1).values > 0.9).float().mean().item()
        if kind == "bumps":  # far from every unit only the output layer's small bias is left
            assert toy2d.predict_proba(model, torch.tensor([[30.0, 30.0]])).max().item() < 0.75
    assert share["relu"] > 0.85 and share["bumps"] < 0.5


def test_unknown_model_kind_is_refused():
    with pytest.raises(ValueError, match="unknown model kind"):
        toy2d.make_model("transformer")


def test_decision_boundary_draws_the_pool_and_the_labels():
    toy = toy2d.make_toy("moons", seed=0, noise=0.1)
    model = toy2d.fit(toy2d.make_model("bumps", seed=0), toy.x_labeled, toy.y_labeled, steps=20)
    ax = plots.decision_boundary(model, toy.x_unlabeled, toy.x_labeled, toy.y_labeled, title="t")
    assert ax.get_title() == "t"
    assert len(ax.collections) >= 4  # filled contours, lines, the pool, the labelled points
