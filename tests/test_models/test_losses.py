import math

import pytest
import torch

from mmpfcn.models.losses import (
    SoftFocalLoss,
    WeightedDiceLoss,
    dice_loss,
    soft_sigmoid_focal_loss,
)
from mmpfcn.registry import MODELS

LN2 = math.log(2.0)


def test_focal_matches_hand_values():
    # logit 0 -> p = 0.5; logit ln 3 -> p = 0.75
    pred = torch.tensor([0.0, 0.0, math.log(3.0)])
    target = torch.tensor([1.0, 0.0, 0.5])
    loss = soft_sigmoid_focal_loss(pred, target)
    ce_soft = -(0.5 * math.log(0.75) + 0.5 * math.log(0.25))
    expected = torch.tensor([
        0.25 * LN2 * 0.5**2,  # positive: alpha_t 0.25, p_t 0.5
        0.75 * LN2 * 0.5**2,  # negative: alpha_t 0.75, p_t 0.5
        0.5 * ce_soft * 0.5**2,  # soft 0.5: alpha_t 0.5, p_t 0.5
    ])
    assert loss.shape == (3, )
    assert torch.allclose(loss, expected, atol=1e-7)


def test_focal_alpha_gamma_and_confident_prediction():
    # p = 0.75 against t = 1: CE = -ln 0.75, (1 - p_t)^1 = 0.25, alpha 0.5
    loss = soft_sigmoid_focal_loss(
        torch.tensor([[math.log(3.0)]]), torch.tensor([[1.0]]), alpha=0.5,
        gamma=1.0)
    assert loss.item() == pytest.approx(0.5 * -math.log(0.75) * 0.25)
    with pytest.raises(ValueError, match='same shape'):
        soft_sigmoid_focal_loss(torch.zeros(2), torch.zeros(3))


def test_soft_focal_loss_module_sum_and_avg_factor():
    module = MODELS.build(dict(type='SoftFocalLoss', loss_weight=2.0))
    assert isinstance(module, SoftFocalLoss)
    pred = torch.zeros(2, 3)
    target = torch.zeros(2, 3)
    per_elem = 0.75 * LN2 * 0.25
    assert module(pred, target).item() == pytest.approx(2 * 6 * per_elem)
    assert module(pred, target, avg_factor=4).item() == pytest.approx(
        2 * 6 * per_elem / 4)


def test_dice_hand_values():
    # p = 0.5 everywhere; target [1, 1, 0, 0]: 1 - 2 * 1 / (1 + 2) = 1/3
    pred = torch.zeros(2, 4)
    target = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    loss = dice_loss(pred, target)
    # second row: 1 - 2 * 2 / (1 + 4) = 0.2
    assert torch.allclose(loss, torch.tensor([1 / 3, 0.2]))


def test_dice_all_zero_prediction_and_target_is_one():
    # sigmoid(-200) is exactly 0 in float32: 1 - 0 / max(0, 1e-8) = 1
    loss = dice_loss(torch.full((1, 5), -200.0), torch.zeros(1, 5))
    assert loss.tolist() == [1.0]
    assert not torch.isnan(loss).any()


def test_dice_perfect_prediction_is_near_zero():
    target = torch.tensor([[1.0, 0.0, 1.0]])
    loss = dice_loss(torch.tensor([[50.0, -50.0, 50.0]]), target)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_weighted_dice_module_and_gradient_through_weights():
    module = MODELS.build(dict(type='WeightedDiceLoss', loss_weight=3.0))
    assert isinstance(module, WeightedDiceLoss)
    pred = torch.zeros(2, 4)
    target = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    weight = torch.tensor([0.25, 0.75], requires_grad=True)
    loss = module(pred, target, weight=weight, avg_factor=2)
    assert loss.item() == pytest.approx(3.0 * (0.25 / 3 + 0.75 * 0.2) / 2)
    loss.backward()
    # d loss / d w_i = 3 * dice_i / 2
    assert torch.allclose(weight.grad, torch.tensor([0.5, 0.3]))
    unweighted = module(pred, target)
    assert unweighted.item() == pytest.approx(3.0 * (1 / 3 + 0.2))
    with pytest.raises(ValueError, match='one per mask'):
        module(pred, target, weight=torch.ones(3))
