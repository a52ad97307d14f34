"""The algorithm table and the named presets the CLI offers.

Learners are named here by import path and imported only when used, so a
learner that is missing or broken makes only itself unavailable, not the
CLI. A preset is a named config: an algorithm plus overrides of its config
and of the run config; it is not a copy of a script.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from pathlib import Path

from envs.registry import unknown_name_error
from launch.config import RunConfig
from launch.errors import UsageError


class AlgorithmUnavailable(UsageError):
    """The algorithm's module failed to import or lacks its classes."""


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    """Where a learner lives: ``"module:ClassName"`` for the learner and its frozen config dataclass.

    A learner that trains on environments names its ``default_env`` (an
    ``envs.suite.EnvConfig``) as a class attribute; it is then built as
    ``Learner(config, env=..., device=..., seed=...)`` and the CLI offers ``--env.*``.
    """

    name: str
    learner: str
    config: str
    summary: str

    def load(self) -> tuple[type, type]:
        """(learner class, config class), imported now; raises ``AlgorithmUnavailable`` saying why not."""
        return _import(self.name, self.learner), _import(self.name, self.config)

    def default_env(self):
        """The learner's default ``EnvConfig``, or None for a learner without environments."""
        learner, _ = self.load()
        return getattr(learner, "default_env", None)


def _import(name: str, target: str):
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise AlgorithmUnavailable(f"algorithm {name!r} is unavailable: cannot import {target}: {error}") from error


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named experiment: an algorithm, overrides of its config's, its env config's and ``RunConfig``'s fields.

    ``base`` ("module:NAME") starts from a config instance a learner's module
    publishes (its measured settings) instead of the config class's defaults;
    ``env_base`` likewise for the env config (else the learner's
    ``default_env``), which ``env`` then overrides.
    """

    name: str
    algorithm: str
    summary: str
    config: Mapping = dataclasses.field(default_factory=dict)
    env: Mapping = dataclasses.field(default_factory=dict)
    run: Mapping = dataclasses.field(default_factory=dict)
    base: str | None = None
    env_base: str | None = None

    def build(self):
        """(algorithm config, env config or None, run config) of this preset."""
        spec = get_algorithm(self.algorithm)
        _, config_class = spec.load()
        where = f"preset {self.name!r}"
        values = dict(self.config)
        if self.base is not None:
            base = _import(self.algorithm, self.base)
            values = {**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)}, **values}
        default_env = spec.default_env() if self.env_base is None else _import(self.algorithm, self.env_base)
        if default_env is None and self.env:
            raise UsageError(f"{where}: {self.algorithm} trains on no environments, so it takes no env settings")
        env = None if default_env is None else override(default_env, self.env, where)
        return override(config_class(), values, where), env, override(RunConfig(), self.run, where)


def override(config, values: Mapping, where: str):
    """``dataclasses.replace`` that names the fields a config really has when asked for one it lacks."""
    known = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError(f"{where}: {type(config).__name__} has no field {', '.join(unknown)}; its fields: {', '.join(sorted(known))}")
    return dataclasses.replace(config, **values)


def config_from_dict(config_class: type, values: Mapping, where: str):
    """Rebuild a config saved with ``dataclasses.asdict`` (checkpoints) or as YAML (``config.yaml``: lists for
    tuples, strings for paths), failing clearly if its fields changed."""
    defaults = config_class()
    values = {key: _like(getattr(defaults, key, None), value) for key, value in values.items()}
    try:
        return override(defaults, values, where)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{where}: saved config does not fit today's {config_class.__name__}: {error}") from error


def _like(default, value):
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(default, Path) and isinstance(value, str):
        return Path(value)
    return value


ALGORITHMS: dict[str, AlgorithmSpec] = {}
PRESETS: dict[str, Preset] = {}
#: what ``python -m launch train`` runs with no arguments
DEFAULT_PRESET = "mt10-pcgrad"


def register_algorithm(spec: AlgorithmSpec) -> AlgorithmSpec:
    if spec.name in PRESETS:
        raise ValueError(f"algorithm name {spec.name!r} is already a preset's name")
    ALGORITHMS[spec.name] = spec
    return spec


def register_preset(preset: Preset) -> Preset:
    if preset.name in ALGORITHMS:
        raise ValueError(f"preset name {preset.name!r} is already an algorithm's name")
    if preset.algorithm not in ALGORITHMS:
        raise unknown_name_error("algorithm", preset.algorithm, ALGORITHMS)
    PRESETS[preset.name] = preset
    return preset


def get_algorithm(name: str) -> AlgorithmSpec:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UsageError(str(unknown_name_error("algorithm", name, ALGORITHMS))) from None


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UsageError(str(unknown_name_error("preset", name, PRESETS))) from None


register_algorithm(AlgorithmSpec(
    "mtsac", "agents.mtsac:MTSAC", "agents.mtsac:MTSACConfig",
    "multi-task SAC (task-conditioned, per-task temperature) with optional gradient surgery",
))
register_algorithm(AlgorithmSpec(
    "sb3-sac", "agents.sb3:SB3Learner", "agents.sb3:SB3SACConfig",
    "stable-baselines3 SAC, one model per task (polytask or Meta-World environments)",
))
register_algorithm(AlgorithmSpec(
    "sb3-ppo", "agents.sb3:SB3Learner", "agents.sb3:SB3PPOConfig",
    "stable-baselines3 PPO, one model per task (polytask or Meta-World environments)",
))
register_algorithm(AlgorithmSpec(
    "msr", "meta.symmetry:MSR", "meta.symmetry:MSRConfig",
    "meta-learning symmetries by reparameterization: learns weight-sharing across tasks",
))
register_algorithm(AlgorithmSpec(
    "rl2-ppo", "meta.rl.rl2:RL2", "meta.rl.rl2:RL2Config",
    "RL²: a GRU policy meta-trained with PPO over trials of episodes (ML benchmarks)",
))
register_algorithm(AlgorithmSpec(
    "maml-trpo", "meta.rl.maml_trpo:MAMLTRPO", "meta.rl.maml_trpo:MAMLTRPOConfig",
    "MAML with TRPO through the policy-gradient inner step (ML benchmarks)",
))
register_algorithm(AlgorithmSpec(
    "pearl", "meta.rl.pearl:PEARL", "meta.rl.pearl:PEARLConfig",
    "PEARL: SAC on a latent context inferred by a product-of-Gaussians encoder (ML benchmarks)",
))
register_algorithm(AlgorithmSpec(
    "maml", "meta.symmetry:MAML", "meta.symmetry:MAMLConfig",
    "MAML on the symmetry task families (the baseline MSR is compared with)",
))
#: adapting to group shift (meta.adaptation): one learner, one config class per method
for _name, _config, _summary in (
    ("erm", "ERMConfig", "group shift: empirical risk minimization (the baseline)"),
    ("uw", "UWConfig", "group shift: ERM on data reweighted uniform over groups"),
    ("drnn", "DRNNConfig", "group shift: group DRO (Sagawa et al. 2020), the worst mixture of groups"),
    ("dann", "DANNConfig", "group shift: domain-adversarial features (Ganin et al. 2016)"),
    ("arm-cml", "ARMCMLConfig", "ARM-CML: a context averaged over the unlabeled test batch (Zhang et al. 2021)"),
    ("arm-bn", "ARMBNConfig", "ARM-BN: batch norm with each group's statistics, trained as tested (Zhang et al. 2021)"),
    ("arm-ll", "ARMLLConfig", "ARM-LL: one inner step on a meta-learned unsupervised loss (Zhang et al. 2021)"),
    ("bn-adapt", "BNAdaptConfig", "group shift: ERM, then the test batch's batch-norm statistics"),
    ("tent", "TENTConfig", "group shift: ERM, then test-time entropy minimization (Wang et al. 2021)"),
):
    register_algorithm(AlgorithmSpec(_name, "meta.adaptation.learner:GroupShiftLearner", f"meta.adaptation.config:{_config}", _summary))
#: model editing (meta.editing): the base model editors edit, and the two meta-trained editors
register_algorithm(AlgorithmSpec(
    "edit-base", "meta.editing.base_model:BaseModelLearner", "meta.editing.config:BaseModelConfig",
    "model editing: the small transformer that learns the synthetic knowledge base",
))
register_algorithm(AlgorithmSpec(
    "mend", "meta.editing.learner:EditorLearner", "meta.editing.config:MENDConfig",
    "MEND: an editor network over rank-one fine-tuning gradients (Mitchell et al. 2022)",
))
register_algorithm(AlgorithmSpec(
    "serac", "meta.editing.learner:EditorLearner", "meta.editing.config:SERACConfig",
    "SERAC: edit memory, scope classifier and counterfactual model (Mitchell et al. 2022)",
))
#: learned optimizers (meta.lopt), meta-trained with PES or ES on a family of small networks
register_algorithm(AlgorithmSpec(
    "lopt-mlp", "meta.lopt.learner:MetaTrainer", "meta.lopt.config:MLPOptimizerConfig",
    "learned optimizer: a per-parameter MLP over momenta, RMS and Adafactor features (Metz et al.)",
))
register_algorithm(AlgorithmSpec(
    "lopt-nominal", "meta.lopt.learner:MetaTrainer", "meta.lopt.config:NominalAdamConfig",
    "learned optimizer: the per-parameter MLP on a nominal Adam term with a learned schedule (Harrison et al. 2022)",
))
register_algorithm(AlgorithmSpec(
    "lopt-velo", "meta.lopt.learner:MetaTrainer", "meta.lopt.config:VeLOConfig",
    "learned optimizer: VeLO's per-tensor LSTM mixing a bank of per-parameter MLPs (Metz et al. 2022)",
))

#: MT10 sized so that a run ends within 10 minutes on 2 CPU cores (one torch thread), with the
#: SAC constants that solve reach (``agents.mtsac.REACH``: gamma 0.95, lr 1e-3, tau 0.01) and
#: small networks, so that the budget buys env steps and updates rather than wide layers (one
#: vector-env step with one PCGrad update, 64 transitions per task, one thread: 12 ms with 2 x 64,
#: 16 ms with 2 x 128, 29 ms with 2 x 256).
#: Measured (``python -m launch train``, seed 1, 2-core machine, from an empty Inductor cache, timed side by
#: side with the previous eager version on single envs): 100k env steps in 304 s against 710 s; mean test
#: success 0.10 (reach 0.2, button-press-topdown 0.8). mt10-mtsac (no surgery) trains faster still (README).
MT10_TEN_MINUTES = {"hidden_sizes": (64, 64), "per_task_batch": 64, "warmup_steps": 100,
                    "actor_lr": 1e-3, "critic_lr": 1e-3, "temperature_lr": 1e-3, "gamma": 0.95, "tau": 0.01,
                    "updates_per_step": 2}
MT10_TEN_MINUTES_ENV = {"benchmark": "MT10", "eval_episodes_per_task": 5}
MT10_TEN_MINUTES_RUN = {"budget": 100_000, "eval_every": 50_000}

register_preset(Preset("mt10-pcgrad", "mtsac", "MT10 with PCGrad, sized to finish within 10 minutes on 2 CPU cores",
                       config={**MT10_TEN_MINUTES, "surgery": "pcgrad"}, env=MT10_TEN_MINUTES_ENV, run=MT10_TEN_MINUTES_RUN))
register_preset(Preset("mt10-mtsac", "mtsac", "MT10 with plain multi-task SAC (no surgery), same size as mt10-pcgrad",
                       config={**MT10_TEN_MINUTES, "surgery": "none"}, env=MT10_TEN_MINUTES_ENV, run=MT10_TEN_MINUTES_RUN))
#: Measured (seed 1, one thread, the other core busy): 0.85 test success on reach at 50k env steps,
#: 12.1 min of training (0.95 on the version before the batched collector; ``agents.mtsac.REACH``'s comment).
register_preset(Preset("mt1-reach-sac", "mtsac", "single-task SAC on reach (MT1) with stable-baselines3's reach settings",
                       base="agents.mtsac:REACH", env_base="agents.mtsac:REACH_ENV", run={"budget": 50_000, "eval_every": 10_000}))
#: Reach's settings with four worlds of push per update step: a vector step collects four
#: transitions for the same two updates, so the budget buys four times the env steps per second
#: and more varied data (one world: at most 0.2 success in 100k env steps; README, "Push").
#: Measured (seed 1, 600k env steps, the run ``python -m launch train mt1-push-sac --run.seed 1 --run.budget 600000`` repeats;
#: one thread, the other core busy): test success 0.6 at 300k env steps, 0.85 at 325k, 1.0 at
#: 400k (18.9 min of training); evaluations every 25k between 325k and 600k ranged 0.65-1.0.
register_preset(Preset("mt1-push-sac", "mtsac", "single-task SAC on push (MT1): reach's settings, four worlds, 400k env steps",
                       base="agents.mtsac:REACH", env_base="agents.mtsac:REACH_ENV", env={"task": "push", "worlds_per_task": 4},
                       run={"budget": 400_000, "eval_every": 25_000}))
register_preset(Preset("mt1-reach-sb3-sac", "sb3-sac", "SB3 SAC on reach with the settings agents.sb3 measured to learn it",
                       base="agents.sb3:REACH_SAC", env_base="agents.sb3:REACH_SAC_ENV"))  # its steps_per_task sets the budget
register_preset(Preset("msr-k1", "msr", "MSR-FC on the k1 symmetry problems (convolution-generated tasks)",
                       config={"problem": "k1"}))
register_preset(Preset("maml-k1", "maml", "MAML with a conv layer on the k1 symmetry problems (MSR's baseline)",
                       config={"problem": "k1", "model": "conv"}))
#: RL² sized for a CPU: a 128-unit GRU, trials of 4 episodes of 100 steps (reach needs about 30),
#: 10 trials per iteration (4000 env steps), 4 epochs of 2 minibatches of whole trials, a smaller initial
#: action noise (std 0.6).
RL2_CPU = {"hidden_size": 128, "episodes_per_trial": 4, "episode_steps": 100, "meta_batch": 10, "minibatches": 2, "init_log_std": -0.5}
#: ML1-reach at that size with 40 trials (16k env steps) and 8 epochs of 4 minibatches per iteration: at RL2_CPU's
#: 10 trials and 4 x 2 it stayed near 0.3 post-adaptation at 4M env steps; this one passed 0.5 by 3.5M and measured
#: 0.9 at 9M (README, "Measured so far"), evaluated on 30 held-out variations every 500k.
register_preset(Preset("ml1-reach-rl2", "rl2-ppo", "RL² on ML1-reach (goal hidden), sized for a laptop CPU, 9M env steps",
                       config={**RL2_CPU, "meta_batch": 40, "minibatches": 4, "epochs": 8},
                       env={"benchmark": "ML1", "task": "reach", "eval_max_steps": 100, "eval_episodes_per_task": 30},
                       run={"budget": 9_000_000, "eval_every": 500_000}))
register_preset(Preset("ml10-rl2-cpu", "rl2-ppo", "RL² on ML10 at a CPU size (GRU 128, trials of 4 x 100 steps, 10 per iteration), 600k env steps",
                       config=RL2_CPU, env={"benchmark": "ML10", "task": None, "eval_max_steps": 100},
                       run={"budget": 600_000, "eval_every": 300_000}))
#: The literature's size (metaworld-algorithms' and garage's RL² on ML10): GRU 256, trials of 10 episodes of
#: 500 steps, 20 trials (100k env steps) per iteration, 16 epochs.
register_preset(Preset("ml10-rl2", "rl2-ppo", "RL² on ML10 at the literature's size (GRU 256, 10 x 500-step episodes, meta-batch 20)",
                       config={"epochs": 16}, env={"benchmark": "ML10", "task": None}, run={"budget": 20_000_000, "eval_every": 1_000_000}))
#: MAML-TRPO sized for a CPU: a 2 x 64 policy with initial action noise std 0.6, 10 (task, variation) pairs of 10
#: rollouts per iteration, 100-step episodes (reach needs about 30): 20k env steps per iteration, about 2 s here.
MAML_CPU = {"hidden_sizes": (64, 64), "init_log_std": -0.5, "meta_batch": 10, "rollouts_per_task": 10, "episode_steps": 100}
register_preset(Preset("ml1-reach-maml", "maml-trpo", "MAML-TRPO on ML1-reach (goal hidden), sized for a laptop CPU",
                       config=MAML_CPU, env={"benchmark": "ML1", "task": "reach", "eval_max_steps": 100},
                       run={"budget": 3_000_000, "eval_every": 500_000}))
#: ML10 at the CPU size, with the literature's meta-batch of 20 pairs (40k env steps per iteration)
register_preset(Preset("ml10-maml-cpu", "maml-trpo", "MAML-TRPO on ML10 at ml1-reach-maml's size, meta-batch 20, 4M env steps",
                       config={**MAML_CPU, "meta_batch": 20}, env={"benchmark": "ML10", "task": None, "eval_max_steps": 100},
                       run={"budget": 4_000_000, "eval_every": 1_000_000}))
#: The literature's size and budget (metaworld-algorithms' MAML-TRPO example on ML10: 2 x 512, 20 pairs x 10
#: rollouts of 500 steps, i.e. 200k env steps per iteration, 15M env steps in all)
register_preset(Preset("ml10-maml", "maml-trpo", "MAML-TRPO on ML10 at the literature's size (2 x 512, meta-batch 20, 10 x 500-step rollouts, 15M steps)",
                       env={"benchmark": "ML10", "task": None}, run={"budget": 15_000_000, "eval_every": 1_000_000}))
#: PEARL sized for a CPU: 2 x 128 SAC networks and encoder, meta-batch 8 pairs of 128 transitions (context 64),
#: 100-step episodes, 250 updates per iteration of 5 worlds x 2 episodes (1,000 env steps), and the learned
#: temperature (with the paper's fixed one the policy stayed uniform on this suite: meta.rl.pearl_sac).
PEARL_CPU = {"hidden_sizes": (128, 128), "encoder_hidden_sizes": (128, 128), "meta_batch": 8, "episode_steps": 100,
             "updates_per_iteration": 250, "batch_size": 128, "buffer_capacity": 5_000, "learn_temperature": True}
register_preset(Preset("ml1-reach-pearl", "pearl", "PEARL on ML1-reach (goal hidden), sized for a laptop CPU, 800k env steps",
                       config=PEARL_CPU, env={"benchmark": "ML1", "task": "reach", "eval_max_steps": 100},
                       run={"budget": 800_000, "eval_every": 50_000}))
register_preset(Preset("ml10-pearl-cpu", "pearl", "PEARL on ML10 at ml1-reach-pearl's size (10 worlds per iteration)",
                       config={**PEARL_CPU, "tasks_per_iteration": 10}, env={"benchmark": "ML10", "task": None, "eval_max_steps": 100},
                       run={"budget": 1_000_000, "eval_every": 250_000}))
#: The Meta-World paper's PEARL (its appendix D.9: latent 7, KL weight 0.01, meta-batch 10 on ML10) on the authors'
#: networks (3 x 300, encoder 3 x 200, 256-transition batches), 500-step episodes
register_preset(Preset("ml10-pearl", "pearl", "PEARL on ML10 with the Meta-World paper's settings (latent 7, KL 0.01, meta-batch 10)",
                       config={"latent_size": 7, "kl_weight": 0.01, "meta_batch": 10, "tasks_per_iteration": 10},
                       env={"benchmark": "ML10", "task": None}, run={"budget": 10_000_000, "eval_every": 500_000}))
#: The measured best learned optimizer (README, "Learned optimizers"): lopt-nominal meta-trained from a zero MLP
#: output layer for 1,000 meta-iterations, so that meta-training starts from exactly its Adam term; held-out median
#: speedup over tuned Adam 1.02, 1.10 and 1.00 on seeds 1-3 (from the default start: 0.88, 0.85, 1.07).
register_preset(Preset("lopt-nominal-zero", "lopt-nominal", "lopt-nominal from a zero MLP output layer, 1,000 meta-iterations",
                       config={"output_init": "zero"}, run={"budget": 1_000, "eval_every": 250}))
