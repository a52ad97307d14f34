"""Policy editing (``meta.editing.policy``): the reach edits, the editors' contracts on an MT-SAC actor, and scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.networks import TanhGaussianActor
from envs.layout import GOAL
from envs.tasks.reach import Reach
from meta.editing.policy import behaviour
from meta.editing.policy.actor import ActorPolicy, PolicyEdit, TaskPolicy
from meta.editing.policy.finetune import PolicyFineTune
from meta.editing.policy.mend import PolicyMEND, layer_inputs
from meta.editing.policy.serac import PolicySERAC, SERACPolicy
from meta.editing.policy.training import EditBatches, meta_train

TASKS = ("reach", "push", "window-close")


def random_policy(seed: int = 0, hidden=(16, 16)) -> ActorPolicy:
    torch.manual_seed(seed)
    return ActorPolicy(TanhGaussianActor(39, 4, len(TASKS), hidden, "one_hot").params(), TASKS)


def random_edit(task_id: int = 0, count: int = 24, seed: int = 1) -> PolicyEdit:
    generator = torch.Generator().manual_seed(seed)
    return PolicyEdit(task_id, torch.randn(count, 39, generator=generator), torch.rand(count, 4, generator=generator) * 2 - 1)


def snapshot(policy: ActorPolicy) -> dict:
    return {name: value.clone() for name, value in policy.params.items()}


def unchanged(policy: ActorPolicy, before: dict) -> bool:
    return all(torch.equal(policy.params[name], value) for name, value in before.items())


class ExpertTowards(TaskPolicy):
    """Reach's scripted expert aimed at an edit's targets: the behaviour every editor is asked for."""

    def __init__(self, edit):
        self.edit, self.task_names = edit, TASKS

    def act(self, obs, task_ids):
        aimed = obs.numpy().copy()
        aimed[:, GOAL] = self.edit.targets(aimed[:, GOAL])
        return torch.as_tensor(np.stack([Reach.expert(o) for o in aimed]))


# ------------------------------------------------------------------ the edits
def test_quadrants_partition_the_goal_box_and_targets_stay_reachable():
    rng = np.random.default_rng(0)
    goals = rng.uniform(Reach.GOAL_LOW, Reach.GOAL_HIGH, (2000, 3))
    membership = np.stack([behaviour.ReachEdit(q, (0.0, 0.0, 0.0)).in_scope(goals) for q in range(4)])
    assert (membership.sum(0) == 1).all() and membership.mean(1).min() > 0.2
    far = behaviour.ReachEdit(0, (1.0, -1.0, 1.0)).targets(goals)
    assert (far >= behaviour.TARGET_LOW).all() and (far <= behaviour.TARGET_HIGH).all()
    with pytest.raises(ValueError, match="quadrant must be 0-3"):
        behaviour.ReachEdit(4, (0.0, 0.0, 0.0))


def test_seed_ranges_are_disjoint_and_split_by_scope():
    edit = behaviour.TEST_EDITS[1]
    inside = behaviour.in_scope_seeds(edit, 5, "evaluation")
    outside = behaviour.in_scope_seeds(edit, 5, "evaluation", inside=False)
    demos = behaviour.in_scope_seeds(edit, 5, "demonstrations")
    assert not set(inside) & set(outside) and not set(inside) & set(demos)
    seeds, goals = behaviour.seed_goals("evaluation")
    lookup = dict(zip(seeds.tolist(), goals))
    assert edit.in_scope(np.stack([lookup[s] for s in inside])).all()
    assert not edit.in_scope(np.stack([lookup[s] for s in outside])).any()


def test_demonstrations_are_deterministic_and_label_the_expert_towards_the_new_target():
    edit = behaviour.TEST_EDITS[0]
    seeds = [behaviour.in_scope_seeds(edit, 2, "demonstrations")]
    states, actions = behaviour.demonstrations([edit], seeds, steps=20, seed=3)
    again, _ = behaviour.demonstrations([edit], seeds, steps=20, seed=3)
    assert states.shape == (1, 20, 39) and actions.shape == (1, 20, 4) and np.array_equal(states, again)
    aimed = states[0].copy()
    aimed[:, GOAL] = edit.targets(aimed[:, GOAL])
    assert np.allclose(actions[0], np.stack([Reach.expert(o) for o in aimed]), atol=1e-6)


def test_edit_success_is_one_for_the_expert_of_the_edit_and_zero_for_the_plain_expert():
    edit = behaviour.TEST_EDITS[3]
    seeds = behaviour.in_scope_seeds(edit, 4, "evaluation")
    assert behaviour.edit_success(ExpertTowards(edit), edit, seeds, steps=150) == 1.0
    plain = ExpertTowards(behaviour.ReachEdit(3, (0.0, 0.0, 0.0)))
    assert behaviour.edit_success(plain, edit, seeds, steps=150) == 0.0
    assert behaviour.reach_success(plain, seeds, steps=150) == 1.0


# ------------------------------------------------------------------ the editors
def test_untrained_mend_takes_exactly_the_plain_gradient_step_on_its_layers_only():
    policy, edit = random_policy(), random_edit()
    before = snapshot(policy)
    mend = PolicyMEND(policy, ("w0", "w1", "wo"), rank=4, edit_lr=0.05)
    edited = mend.edit(policy, [edit])
    params = {name: value.clone().requires_grad_() for name, value in policy.params.items()}
    ids = torch.zeros(len(edit.states), dtype=torch.long)
    ActorPolicy.demonstration_error(params, edit.states, ids, edit.actions).mean().backward()
    for name in ("w0", "w1", "wo"):
        assert torch.allclose(edited.params[name], policy.params[name] - 0.05 * params[name].grad, atol=1e-6)
        assert not torch.equal(edited.params[name], policy.params[name])
    for name in ("e0", "b0", "b1", "bo"):
        assert torch.equal(edited.params[name], policy.params[name])
    assert unchanged(policy, before)


def test_layer_inputs_are_the_activations_each_weight_reads():
    policy, edit = random_policy(), random_edit()
    ids = torch.zeros(len(edit.states), dtype=torch.long)
    p = {k: v[0] for k, v in policy.params.items()}
    hidden0 = torch.relu(edit.states @ p["w0"] + p["e0"][ids] + p["b0"])
    hidden1 = torch.relu(hidden0 @ p["w1"] + p["b1"])
    assert torch.allclose(layer_inputs(policy.params, edit.states, ids, "w1"), hidden0, atol=1e-6)
    assert torch.allclose(layer_inputs(policy.params, edit.states, ids, "wo"), hidden1, atol=1e-6)
    assert torch.equal(layer_inputs(policy.params, edit.states, ids, "w0"), edit.states)


def test_fine_tuning_fits_the_demonstrations_and_leaves_its_input_alone():
    policy, edit = random_policy(), random_edit()
    before = snapshot(policy)
    ids = torch.zeros(len(edit.states), dtype=torch.long)
    error = lambda p: float((p.act(edit.states, ids) - edit.actions).square().mean())  # noqa: E731
    edited = PolicyFineTune(steps=100).edit(policy, [edit])
    assert error(edited) < 0.5 * error(policy) and unchanged(policy, before)


def test_serac_keeps_the_base_bit_identical_and_routes_by_scope():
    policy, edit = random_policy(), random_edit()
    before = snapshot(policy)
    serac = PolicySERAC(len(TASKS), torch.randn(256, 39))
    with torch.no_grad():  # a sharp classifier: in scope only for states (nearly) in the memory
        serac.log_scale.fill_(np.log(1000.0))
        serac.bias.fill_(-999.0)
    edited = serac.edit(policy, [edit])
    assert isinstance(edited, SERACPolicy) and unchanged(policy, before)
    other = torch.randn(32, 39)
    other_ids = torch.ones(32, dtype=torch.long)
    assert torch.equal(edited.act(other, other_ids), policy.act(other, other_ids))
    assert not edited.route(other, other_ids)[0].any()
    demo_ids = torch.zeros(len(edit.states), dtype=torch.long)
    in_scope, best = edited.route(edit.states, demo_ids)
    assert in_scope.all() and (best == 0).all()
    expected = serac.act_counterfactually(edit.states, demo_ids, edited.contexts[best])
    assert torch.allclose(edited.act(edit.states, demo_ids), expected)
    # a second edit joins the memory; the first stays
    twice = serac.edit(edited, [random_edit(count=10, seed=2)])
    assert twice.base is policy and len(twice.contexts) == 2 and twice.memory_mask[1].sum() == 10


@pytest.mark.parametrize("editor", ["ft", "mend", "serac"])
def test_bad_edits_are_refused_before_anything_changes(editor):
    policy = random_policy()
    before = snapshot(policy)
    make = {"ft": lambda: PolicyFineTune(steps=2), "mend": lambda: PolicyMEND(policy, rank=4),
            "serac": lambda: PolicySERAC(len(TASKS), torch.randn(64, 39))}[editor]()
    good = random_edit()
    bad = {"no edits given": [], "task id 7": [PolicyEdit(7, good.states, good.actions)],
           "need states": [PolicyEdit(0, good.states[:, :10], good.actions)],
           r"within \[-1, 1\]": [PolicyEdit(0, good.states, good.actions * 5)]}
    for message, edits in bad.items():
        with pytest.raises(ValueError, match=message):
            make.edit(policy, edits)
    assert unchanged(policy, before)


def test_editors_refuse_a_policy_they_were_not_built_for():
    mend = PolicyMEND(random_policy(), rank=4)
    with pytest.raises(ValueError, match="MEND was built for w1 of shape"):
        mend.edit(random_policy(hidden=(16, 32)), [random_edit()])
    serac = PolicySERAC(5, torch.randn(64, 39))
    with pytest.raises(ValueError, match="SERAC was trained for a policy of 5 tasks"):
        serac.edit(random_policy(), [random_edit()])
    with pytest.raises(ValueError, match="one-hot conditioned"):
        ActorPolicy(TanhGaussianActor(39, 4, 3, (16,), "multi_head").params(), TASKS)
    with pytest.raises(ValueError, match="FT\\+L needs locality_states"):
        PolicyFineTune(locality_weight=1.0)


def test_meta_training_batches_hold_in_scope_and_out_of_scope_states():
    policy = random_policy()
    pool = (np.random.default_rng(0).normal(size=(300, 39)).astype(np.float32), np.repeat(np.arange(3), 100))
    batches = EditBatches(policy, pool, edits=4, episodes=2, reach_episodes=8)
    demos, in_scope, (other, other_ids) = batches.sample(3, states=16)
    assert demos[0].shape == (3, 16, 39) and in_scope[2].shape == (3, 16, 4) and other.shape == (3, 16, 39)
    # a third hard (reach, goal elsewhere), a third other tasks, a third the edit's states with the goal moved out
    assert (other_ids[:, :5] == 0).all() and (other_ids[:, 5:11] != 0).all() and (other_ids[:, 11:] == 0).all()
    serac = PolicySERAC(len(TASKS), torch.as_tensor(pool[0]))
    metrics = meta_train(serac, lambda b: serac.meta_loss(*b), batches, steps=3, edits_per_step=2)
    assert np.isfinite(metrics["losses/scope_bce"]) and metrics["seconds"] > 0
