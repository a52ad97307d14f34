"""Meta-RL learners on the suite's ML benchmarks, each meeting the adapt-then-evaluate
protocol of ``envs.adaptation``: RL² (``meta.rl.rl2``) and MAML-TRPO (``meta.rl.maml_trpo``,
its inner step and agent in ``meta.rl.maml``). Pieces more than one of them needs live
beside them: trials of episodes on one task (``trials``), advantages and the PPO loss
(``ppo``), TRPO as an optimizer of any surrogate (``trpo``), the Gaussian MLP policy
(``gaussian_policy``) and the linear feature baseline (``baseline``)."""
