"""The adapt-then-evaluate protocol of meta-RL, and the evaluator that runs it.

The agent contract is Meta-World v3's ``metaworld.evaluation.MetaLearningAgent``
(McLean et al., Meta-World+, 2025): ``init()`` forgets what was learned of the
current tasks, ``adapt_action(obs)`` acts while collecting experience,
``adapt()`` turns that experience into an adapted policy, ``eval_action(obs)``
acts with it, and ``reset(mask)`` says which worlds' evaluation episodes just
ended. ``step(timestep)`` is shown every transition, those of evaluation
episodes too (there ``aux_policy_outputs`` is empty): Meta-World's evaluator
shows it only adaptation's, which leaves RL² without the rewards its trial
goes on reading; an agent that adapts only in ``adapt()`` ignores the
transitions that follow ``eval_action``. A learner meets it
with its own notion of adaptation: RL² carries its recurrent state,
MAML takes gradient steps, PEARL infers a latent context.

One evaluation covers ``variations_per_task`` test variations of every task
(variation ``k`` of a task is the split's ``k``-th), each as one world's
*trial*, all trials of a round stepped together, one vector step per env step:

1. pre-adaptation: ``evaluation_episodes`` episodes, each right after
   ``init()``, so the agent acts with no experience of the task;
2. ``init()``, then ``adaptation_episodes`` episodes with ``adapt_action`` and
   ``step``, then ``adapt()``;
3. post-adaptation: ``evaluation_episodes`` episodes with ``eval_action``.

An episode succeeds if ``info["success"]`` was 1 at any of its steps (the
protocol of the Meta-World paper, Yu et al., CoRL 2019, Sec. 5); a task's
``pre_success`` and ``post_success`` are the means over its variations and
evaluation episodes, ``pre_return`` and ``post_return`` likewise.
Meta-World's defaults are kept: 10 adaptation episodes, 3 evaluation
episodes. Episodes last ``max_steps`` steps (the evaluator ends them, so they
need not be the env's full 500), and every world of a trial keeps its task and
variation across its episodes through the reset options of the suite's vector
env.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Protocol, Sequence

import gymnasium as gym
import numpy as np

from envs.base import MAX_EPISODE_STEPS
from envs.report import EvalReport

ADAPTATION_EPISODES = 10
EVALUATION_EPISODES = 3


class Timestep(NamedTuple):
    """One vector step of adaptation, as ``MetaLearningAgent.step`` is shown it."""

    observation: np.ndarray  #: [N, 39] what the agent saw
    action: np.ndarray  #: [N, 4]
    reward: np.ndarray  #: [N]
    terminated: np.ndarray  #: [N] bool
    truncated: np.ndarray  #: [N] bool (true at the last step of every episode)
    aux_policy_outputs: dict  #: what ``adapt_action`` returned beside the actions (log-probs, values, ...); {} after ``eval_action``


class MetaLearningAgent(Protocol):
    def init(self) -> None:
        """Start over on every world: forget all experience of the tasks they run."""

    def adapt_action(self, observations: np.ndarray) -> tuple[np.ndarray, dict]:
        """Actions [N, 4] while adapting, and any outputs ``step`` should see again."""

    def step(self, timestep: Timestep) -> None:
        """The transition the last ``adapt_action`` or ``eval_action`` led to."""

    def adapt(self) -> None:
        """Adapt to the experience since ``init()``."""

    def eval_action(self, observations: np.ndarray) -> np.ndarray:
        """Actions [N, 4] of the adapted (or, after ``init()``, the unadapted) policy."""

    def reset(self, env_mask: np.ndarray) -> None:
        """The episodes of the worlds in ``env_mask`` ended (a new one starts in each)."""


#: builds a vector env of ``n`` worlds over the evaluated tasks, honouring per-world ``task``/``variation`` reset options
MakeWorlds = Callable[[int], gym.vector.VectorEnv]


def trial_rounds(num_tasks: int, variations_per_task: int, worlds: int) -> list[list[tuple[int, int]]]:
    """(task id, variation) of every trial, in rounds of at most ``worlds``: every variation once."""
    trials = [(task_id, k) for k in range(variations_per_task) for task_id in range(num_tasks)]
    return [trials[start : start + worlds] for start in range(0, len(trials), worlds)]


class AdaptationEvaluator:
    """``evaluate(agent, variations_per_task) -> EvalReport`` by the protocol above.

    ``make_worlds(n)`` gives the vector env a round runs in; it is built on first
    use and kept while the round size stays the same. ``worlds_per_round``
    caps how many trials run at once (None: all of them in one round).
    """

    def __init__(self, make_worlds: MakeWorlds, tasks: Sequence[str], *, title: str, max_steps: int = MAX_EPISODE_STEPS,
                 adaptation_episodes: int = ADAPTATION_EPISODES, evaluation_episodes: int = EVALUATION_EPISODES,
                 worlds_per_round: int | None = None):
        if not 1 <= max_steps <= MAX_EPISODE_STEPS or adaptation_episodes < 0 or evaluation_episodes < 1:
            raise ValueError(f"need 1 <= max_steps <= {MAX_EPISODE_STEPS}, adaptation_episodes >= 0 and evaluation_episodes >= 1, "
                             f"got {max_steps}, {adaptation_episodes} and {evaluation_episodes}")
        if worlds_per_round is not None and worlds_per_round < len(tasks):
            raise ValueError(f"worlds_per_round must cover the {len(tasks)} tasks, got {worlds_per_round}")
        self.make_worlds, self.tasks, self.title = make_worlds, tuple(tasks), title
        self.max_steps, self.worlds_per_round = max_steps, worlds_per_round
        self.adaptation_episodes, self.evaluation_episodes = adaptation_episodes, evaluation_episodes
        self._vec: gym.vector.VectorEnv | None = None

    def __call__(self, agent: MetaLearningAgent, variations_per_task: int = 10) -> EvalReport:
        if variations_per_task < 1:
            raise ValueError(f"variations_per_task must be >= 1, got {variations_per_task}")
        count = len(self.tasks) * variations_per_task
        per_round = min(count, self.worlds_per_round or count)
        results = {phase: {key: [[] for _ in self.tasks] for key in ("success", "return")} for phase in ("pre", "post")}
        for trials in trial_rounds(len(self.tasks), variations_per_task, per_round):
            # a short last round repeats its first trials to fill the worlds; their results are dropped
            padded = [trials[i % len(trials)] for i in range(per_round)]
            for phase, (success, returns) in self._round(agent, padded).items():
                for world, (task_id, _) in enumerate(trials):
                    results[phase]["success"][task_id].extend(success[:, world])
                    results[phase]["return"][task_id].extend(returns[:, world])
        report = EvalReport(title=f"{self.title}: {variations_per_task} variations per task, {self.adaptation_episodes} adaptation "
                                  f"and {self.evaluation_episodes} evaluation episodes each")
        for task_id, task in enumerate(self.tasks):
            report.add(task, **{f"{phase}_{key}": np.mean(results[phase][key][task_id])
                                for key in ("success", "return") for phase in ("pre", "post")})
        return report

    def _worlds(self, n: int) -> gym.vector.VectorEnv:
        if self._vec is None or self._vec.num_envs != n:
            self.close()
            self._vec = self.make_worlds(n)
        return self._vec

    def _round(self, agent: MetaLearningAgent, trials: list[tuple[int, int]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """One round's trials: per phase, success and return [evaluation episodes, worlds]."""
        vec = self._worlds(len(trials))
        options = {"task": [self.tasks[task_id] for task_id, _ in trials], "variation": [k for _, k in trials]}
        everyone = np.ones(len(trials), dtype=bool)
        obs, _ = vec.reset(seed=0, options=options)
        pre = []
        for _ in range(self.evaluation_episodes):
            agent.init()
            pre.append(self._episode(vec, agent, obs))
            obs = self._next_episode(vec, agent, options, everyone)
        agent.init()
        for _ in range(self.adaptation_episodes):
            self._episode(vec, agent, obs, adapting=True)
            obs = self._next_episode(vec, agent, options, everyone, tell_agent=False)
        agent.adapt()
        post = []
        for episode in range(self.evaluation_episodes):
            post.append(self._episode(vec, agent, obs))
            if episode + 1 < self.evaluation_episodes:
                obs = self._next_episode(vec, agent, options, everyone)
        return {"pre": tuple(np.array(x) for x in zip(*pre)), "post": tuple(np.array(x) for x in zip(*post))}

    def _next_episode(self, vec, agent, options, mask, tell_agent: bool = True) -> np.ndarray:
        """Start the next episode of every trial on its own task and variation."""
        if tell_agent:  # during adaptation the agent learns of episode ends from the timesteps' ``truncated``
            agent.reset(mask)
        obs, _ = vec.reset(options={**options, "reset_mask": mask})
        return np.asarray(obs)

    def _episode(self, vec, agent, obs: np.ndarray, adapting: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``max_steps`` steps of every world: (success at any step, return) per world."""
        n = len(obs)
        success, returns = np.zeros(n, dtype=bool), np.zeros(n)
        for t in range(self.max_steps):
            actions, aux = agent.adapt_action(obs) if adapting else (agent.eval_action(obs), {})
            next_obs, reward, terminated, truncated, info = vec.step(np.asarray(actions, dtype=np.float64))
            reward = np.asarray(reward, dtype=np.float64)
            returns += reward
            success |= np.asarray(info["success"]) > 0.5
            last = np.full(n, t == self.max_steps - 1)
            agent.step(Timestep(obs, np.asarray(actions), reward, np.asarray(terminated, dtype=bool),
                                np.asarray(truncated, dtype=bool) | last, aux))
            obs = np.asarray(next_obs)
        return success, returns

    def close(self) -> None:
        if self._vec is not None:
            self._vec.close()
            self._vec = None
