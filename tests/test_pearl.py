"""PEARL (``meta.rl.pearl``, ``meta.rl.context_encoder``, ``meta.rl.pearl_sac``, ``meta.rl.pearl_agent``): the
posterior's algebra, task separation of context and replay, posterior sampling under the protocol, the critic's
gradient into the encoder, and the learner end to end (resume with buffers and context, CLI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.adaptation import Timestep
from envs.layout import OBJ1
from envs.suite import EnvConfig
from meta_rl_checks import (assert_cli_trains_evaluates_resumes_and_refuses_misuse, assert_reports_pre_and_post_adaptation,
                            assert_resumes_exactly)
from meta.rl.context_encoder import CONTEXT_DIM, ContextEncoder, kl_to_prior, product_of_gaussians
from meta.rl.pearl import PEARL, PEARLConfig
from meta.rl.pearl_sac import LatentSAC, SACSettings, make_optimizers, pearl_update

TINY = PEARLConfig(latent_size=3, encoder_hidden_sizes=(16,), hidden_sizes=(16,), meta_batch=3, tasks_per_iteration=3,
                   episode_steps=15, updates_per_iteration=3, batch_size=8, context_batch=5, buffer_capacity=100)
REACH = EnvConfig(benchmark="ML1", task="reach", eval_episodes_per_task=2, eval_max_steps=15)


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return ContextEncoder(latent_size=4, hidden_sizes=(32, 32))


def test_the_posterior_is_invariant_to_the_order_of_the_context(encoder):
    context = torch.randn(2, 9, CONTEXT_DIM)
    mean, variance = encoder.posterior(context)
    shuffled_mean, shuffled_variance = encoder.posterior(context[:, torch.randperm(9)])
    assert torch.allclose(mean, shuffled_mean, atol=1e-6) and torch.allclose(variance, shuffled_variance, atol=1e-7)


def test_the_posterior_narrows_as_context_grows_and_is_the_prior_without_context(encoder):
    context = torch.randn(1, 12, CONTEXT_DIM)
    variances = [encoder.posterior(context[:, :n])[1] for n in (1, 2, 4, 8, 12)]
    for wider, narrower in zip(variances, variances[1:]):
        assert (narrower < wider).all()
    mean, variance = encoder.posterior(context[:, :0])
    assert torch.equal(mean, torch.zeros(1, 4)) and torch.equal(variance, torch.ones(1, 4))


def test_the_kl_term_is_zero_at_the_prior_and_matches_torch_elsewhere():
    assert torch.equal(kl_to_prior(torch.zeros(3, 5), torch.ones(3, 5)), torch.zeros(3))
    mean, variance = torch.randn(3, 5), torch.rand(3, 5) + 0.1
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mean, variance.sqrt()), torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(kl_to_prior(mean, variance), expected, atol=1e-5)


def test_a_product_of_gaussians_is_the_precision_weighted_combination():
    means, variances = torch.tensor([[1.0], [3.0]]), torch.tensor([[1.0], [3.0]])
    mean, variance = product_of_gaussians(means, variances)
    assert torch.allclose(variance, torch.tensor([0.75])) and torch.allclose(mean, torch.tensor([0.75 * (1.0 + 1.0)]))


def test_the_agent_keeps_each_worlds_context_to_itself_and_starts_from_the_prior(encoder):
    sac = LatentSAC(4, (16,))
    obs = np.random.default_rng(0).normal(size=(2, 39))

    def adapt_episode(agent, rewards, steps=3):
        for t in range(steps):
            action, aux = agent.adapt_action(obs)
            agent.step(Timestep(obs, action, rewards, np.zeros(2, bool), np.full(2, t == steps - 1), aux))

    from meta.rl.pearl_agent import PEARLAgent

    first = PEARLAgent(encoder, sac, "cpu", seed=7)
    first.adapt_action(obs)
    # the first episode's z is a draw from the prior with the agent's generator
    assert torch.allclose(first.z, torch.randn(2, 4, generator=torch.Generator().manual_seed(7)))
    agent = PEARLAgent(encoder, sac, "cpu", seed=7)
    adapt_episode(agent, np.array([1.0, 2.0]))
    agent.adapt()
    posterior = encoder.posterior(torch.stack(agent.context, dim=1))
    # world 1's transitions changed: world 0's posterior is untouched
    other = PEARLAgent(encoder, sac, "cpu", seed=7)
    adapt_episode(other, np.array([1.0, 9.0]))
    other_posterior = encoder.posterior(torch.stack(other.context, dim=1))
    assert torch.equal(posterior[0][0], other_posterior[0][0]) and not torch.equal(posterior[0][1], other_posterior[0][1])
    # evaluation steps leave the adapted z as it is
    z = agent.z.clone()
    agent.step(Timestep(obs, agent.eval_action(obs), np.ones(2), np.zeros(2, bool), np.ones(2, bool), {}))
    assert torch.equal(agent.z, z) and len(agent.context) == 3


def test_the_critic_trains_the_encoder_and_the_temperature_moves_only_when_learned(encoder):
    from agents.buffer import TransitionBatch

    torch.manual_seed(1)
    enc, sac = ContextEncoder(3, (16,)), LatentSAC(3, (16,))
    k, b = 2, 6
    batch = TransitionBatch(torch.randn(k, b, 39), torch.rand(k, b, 4) * 2 - 1, torch.rand(k, b) * 10, torch.randn(k, b, 39),
                            torch.zeros(k, b), torch.zeros(k, b), torch.arange(k).unsqueeze(1).expand(k, b))
    context = torch.randn(k, 4, CONTEXT_DIM)
    before = [p.detach().clone() for p in enc.parameters()]
    settings = SACSettings(gamma=0.99, tau=0.005, reward_scale=5.0, kl_weight=0.0)
    pearl_update(enc, sac, make_optimizers(enc, sac, 1e-3), context, batch, settings, torch.Generator().manual_seed(0))
    assert any(not torch.equal(a, p) for a, p in zip(before, enc.parameters()))  # no KL: only the critic moved it
    assert float(sac.log_temperature.detach()) == 0.0  # the paper's fixed temperature
    learned = SACSettings(gamma=0.99, tau=0.005, reward_scale=5.0, kl_weight=0.1, target_entropy=-4.0)
    pearl_update(enc, sac, make_optimizers(enc, sac, 1e-3), context, batch, learned, torch.Generator().manual_seed(0))
    assert float(sac.log_temperature.detach()) != 0.0


@pytest.fixture(scope="module")
def learner():
    learner = PEARL(TINY, env=REACH, device="cpu", seed=0)
    learner.step()
    yield learner
    learner.close()


def test_context_and_replay_of_a_pair_hold_only_that_pairs_transitions(learner):
    """Reach's puck stays where its variation puts it: every transition of one pair shows one puck position,
    and the pairs run in this iteration's worlds show the positions of their own worlds only."""
    for buffer in (learner.context, learner.replay):
        filled = np.flatnonzero(buffer.size > 0)
        assert len(filled) >= 1
        for pair in filled:
            pucks = buffer.storage["obs"][pair, : buffer.size[pair], OBJ1]
            assert torch.allclose(pucks, pucks[0].expand_as(pucks), atol=5e-3)  # it settles by a few tenths of a millimetre
    assert (learner.context.size[learner.context.size > 0] == TINY.prior_episodes * TINY.episode_steps).all()
    assert learner.replay.size.sum() == learner.progress()


def test_a_resumed_learner_continues_exactly_buffers_and_context_included():
    """The next iteration samples both buffers: it repeats only if they were restored as they were."""
    assert_resumes_exactly(lambda: PEARL(TINY, env=REACH, device="cpu", seed=3), lambda learner: [learner.sac, learner.encoder])


def test_evaluation_reports_pre_and_post_adaptation_per_test_task(learner):
    assert_reports_pre_and_post_adaptation(learner)


def test_misuse_is_refused_with_what_fits():
    with pytest.raises(ValueError, match="ML benchmark.*ML1.*ML10.*not MT10"):
        PEARL(TINY, env=EnvConfig(benchmark="MT10"), device="cpu", seed=0)
    with pytest.raises(ValueError, match="tasks_per_iteration must be at least the 10 train tasks of ML10, got 3"):
        PEARL(TINY, env=EnvConfig(benchmark="ML10"), device="cpu", seed=0)
    with pytest.raises(ValueError, match="positive latent_size=0"):
        PEARL(PEARLConfig(latent_size=0), env=REACH, device="cpu", seed=0)


def test_pearl_trains_evaluates_resumes_and_refuses_misuse_through_the_cli(tmp_path):
    tiny = ["--algorithm.latent-size", "2", "--algorithm.encoder-hidden-sizes", "8", "--algorithm.hidden-sizes", "8",
            "--algorithm.meta-batch", "2", "--algorithm.tasks-per-iteration", "1", "--algorithm.episode-steps", "10",
            "--algorithm.updates-per-iteration", "2", "--algorithm.batch-size", "4", "--algorithm.context-batch", "3"]
    assert_cli_trains_evaluates_resumes_and_refuses_misuse(tmp_path, "pearl", tiny, 40, other="maml-trpo")
