"""Meta-RL learners on the suite's ML benchmarks, each meeting the adapt-then-evaluate
protocol of ``envs.adaptation``: RL² (``meta.rl.rl2``). Pieces more than one of them
needs live beside them: trials of episodes on one task (``trials``), advantages and
the PPO loss (``ppo``)."""
