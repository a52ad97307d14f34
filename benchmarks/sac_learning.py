"""Learning curves of MTSAC: test success vs env steps, printed and saved as a PNG.

Starts from a ``python -m launch`` preset of the ``mtsac`` algorithm (default
``mt1-reach-sac``: single-task SAC on reach with stable-baselines3's
settings); any flag overrides it. Runs every (surgery, seed) pair, ``--jobs``
at a time in their own processes (one torch thread each), and evaluates each
every ``--eval-every`` env steps on the held-out test variations. The PNG
shows every run thinly and the mean over seeds of each surgery thickly; the
closing table gives final and late success (the mean of the last three
evaluations, less noisy than one) per run and per surgery (mean and standard
deviation over seeds), and the per-task final success averaged over seeds.

    python benchmarks/sac_learning.py --steps 50000 --eval-every 10000 --seeds 1 --out docs/sac_reach.png
    python benchmarks/sac_learning.py --preset mt1-push-sac --steps 600000 --seeds 1 --out docs/sac_push.png
    python benchmarks/sac_learning.py --preset mt10-pcgrad --surgery none pcgrad --seeds 0 1 2 --jobs 2 \\
        --steps 300000 --eval-every 50000 --out docs/mt10_surgery.png

``--from-json a.json b.json`` trains nothing: it summarizes and plots the runs
that earlier ``--json`` files of one config hold together (more seeds run later).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import time

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from agents.mtsac import MTSAC, MTSACConfig  # noqa: E402
from agents.surgery import SURGERIES  # noqa: E402
from envs.suite import EnvConfig  # noqa: E402
from launch.algorithms import get_preset  # noqa: E402

#: flag -> MTSACConfig fields it sets (the learning rate sets all three)
OVERRIDES = {
    "hidden": ("hidden_sizes",),
    "per_task_batch": ("per_task_batch",),
    "lr": ("actor_lr", "critic_lr", "temperature_lr"),
    "gamma": ("gamma",),
    "tau": ("tau",),
    "updates_per_step": ("updates_per_step",),
    "warmup": ("warmup_steps",),
}
#: flag -> EnvConfig fields it sets
ENV_OVERRIDES = {
    "task": ("task",),
    "eval_episodes": ("eval_episodes_per_task",),
    "worlds_per_task": ("worlds_per_task",),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="mt1-reach-sac", help="an mtsac preset of `python -m launch list`")
    parser.add_argument("--task", help="the task of an MT1 preset")
    parser.add_argument("--surgery", nargs="+", choices=SURGERIES, help="one curve set per surgery (default: the preset's)")
    parser.add_argument("--hidden", type=int, nargs="+", help="hidden widths of actor and critics")
    parser.add_argument("--per-task-batch", type=int)
    parser.add_argument("--lr", type=float, help="learning rate of actor, critic and temperature")
    parser.add_argument("--gamma", type=float)
    parser.add_argument("--tau", type=float)
    parser.add_argument("--updates-per-step", type=int, help="updates per vector-env step")
    parser.add_argument("--warmup", type=int, help="vector-env steps of random actions")
    parser.add_argument("--eval-episodes", type=int, help="evaluation episodes per task")
    parser.add_argument("--worlds-per-task", type=int, help="simulated worlds of every task (one transition each per vector step)")
    parser.add_argument("--steps", type=int, help="env steps to train (default: the preset's budget)")
    parser.add_argument("--eval-every", type=int, help="env steps between evaluations (default: the preset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of each run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="sac_learning.png", help="where the learning-curve PNG goes")
    parser.add_argument("--json", help="also write every run's curve and final per-task success here")
    parser.add_argument("--from-json", nargs="+", metavar="JSON",
                        help="train nothing: summarize and plot the runs that earlier --json files hold (same config, e.g. more seeds)")
    return parser.parse_args(argv)


def load_runs(paths: list[str]) -> tuple[str, dict, list[dict]]:
    """(preset, config, curves) of earlier ``--json`` files, which must share their preset and config."""
    loaded = []
    for path in paths:
        with open(path) as f:
            loaded.append(json.load(f))
    first = loaded[0]
    for path, data in zip(paths[1:], loaded[1:]):
        if (data["preset"], data["config"]) != (first["preset"], first["config"]):
            changed = sorted(k for k in first["config"] if data["config"].get(k) != first["config"][k])
            raise SystemExit(f"--from-json: {path} differs from {paths[0]} in preset or config ({', '.join(changed) or 'preset'}); "
                             "only runs of one config can be summarized together")
    curves = [c for data in loaded for c in data["curves"]]
    runs = [(c["surgery"], c["seed"]) for c in curves]
    if len(set(runs)) != len(runs):
        raise SystemExit(f"--from-json: a (surgery, seed) run appears twice in {paths}")
    return first["preset"], first["config"], curves


def _flag_values(args: argparse.Namespace, overrides: dict) -> dict:
    values = {}
    for flag, fields in overrides.items():
        value = getattr(args, flag)
        if value is not None:
            values.update(dict.fromkeys(fields, tuple(value) if isinstance(value, list) else value))
    return values


def build_config(args: argparse.Namespace) -> tuple[MTSACConfig, EnvConfig, int, int]:
    """(config, env config, env steps, eval interval) from the preset and the flags given."""
    preset = get_preset(args.preset)
    if preset.algorithm != "mtsac":
        raise SystemExit(f"--preset {args.preset!r} is a {preset.algorithm} preset; this benchmark runs mtsac presets")
    config, env, run = preset.build()
    steps = args.steps or run.budget or MTSAC.default_budget
    return (dataclasses.replace(config, **_flag_values(args, OVERRIDES)), dataclasses.replace(env, **_flag_values(args, ENV_OVERRIDES)),
            steps, args.eval_every or run.eval_every or MTSAC.default_eval_every)


def run_curve(job: tuple) -> dict:
    """Train one (config, seed) run; returns its curve, final per-task success and timings."""
    config, env, steps, eval_every, seed, device, threads = job
    torch.set_num_threads(threads)
    label = f"[{config.surgery} seed {seed}]"
    agent = MTSAC(config, env=env, device=torch.device(device), seed=seed)
    curve = {"surgery": config.surgery, "seed": seed, "steps": [], "success": [], "train_seconds": 0.0}
    started = time.perf_counter()
    next_eval = eval_every
    while agent.progress() < steps:
        t0 = time.perf_counter()
        while agent.progress() < min(next_eval, steps):
            agent.step()
        curve["train_seconds"] += time.perf_counter() - t0
        report = agent.evaluate()
        curve["steps"].append(agent.progress())
        curve["success"].append(report.mean("success_rate"))
        print(f"{label} {agent.progress():>8} env steps: success {curve['success'][-1]:.2f}, return "
              f"{report.mean('episode_return'):.1f}, train {curve['train_seconds'] / 60:.1f} min", flush=True)
        next_eval += eval_every
    curve["per_task"] = {task: row["success_rate"] for task, row in report.rows.items()}
    curve["wall_seconds"] = time.perf_counter() - started
    return curve


#: evaluations averaged into a run's "late" success, which is less noisy than its last evaluation alone
LATE_EVALUATIONS = 3


def late_success(curve: dict) -> float:
    """Mean test success over the run's last ``LATE_EVALUATIONS`` evaluations (fewer if it has fewer)."""
    return float(np.mean(curve["success"][-LATE_EVALUATIONS:]))


def summarize(curves: list[dict]) -> str:
    """The closing tables: one row per run, per surgery over seeds, per task over seeds."""
    lines = [f"{'surgery':>8} {'seed':>5} {'final':>6} {'late':>6} {'best':>6} {'train min':>10}   "
             f"(late: mean of the last {LATE_EVALUATIONS} evaluations)"]
    for c in curves:
        lines.append(f"{c['surgery']:>8} {c['seed']:>5} {c['success'][-1]:>6.2f} {late_success(c):>6.2f} {max(c['success']):>6.2f} "
                     f"{c['train_seconds'] / 60:>10.1f}")
    surgeries = list(dict.fromkeys(c["surgery"] for c in curves))
    lines += ["", f"{'surgery':>8} {'seeds':>5} {'final mean':>10} {'std':>5} {'late mean':>9} {'std':>5}  final per seed"]
    for s in surgeries:
        finals = np.array([c["success"][-1] for c in curves if c["surgery"] == s])
        lates = np.array([late_success(c) for c in curves if c["surgery"] == s])
        lines.append(f"{s:>8} {len(finals):>5} {finals.mean():>10.3f} {finals.std():>5.3f} {lates.mean():>9.3f} {lates.std():>5.3f}  "
                     f"{' '.join(f'{f:.2f}' for f in finals)}")
    tasks = list(curves[0]["per_task"])
    if len(tasks) > 1:
        lines += ["", f"{'task':>22} " + " ".join(f"{s:>8}" for s in surgeries) + "   (final success, mean over seeds)"]
        for task in tasks:
            means = [np.mean([c["per_task"][task] for c in curves if c["surgery"] == s]) for s in surgeries]
            lines.append(f"{task:>22} " + " ".join(f"{m:>8.2f}" for m in means))
    return "\n".join(lines)


def save_curves(curves: list[dict], title: str, out: str) -> None:
    figure, axis = plt.subplots(figsize=(6, 4))
    surgeries = list(dict.fromkeys(c["surgery"] for c in curves))
    for color, surgery in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], surgeries):
        runs = [c for c in curves if c["surgery"] == surgery]
        for c in runs:
            axis.plot(c["steps"], c["success"], color=color, alpha=0.3, linewidth=1)
        length = min(len(c["success"]) for c in runs)
        mean = np.mean([c["success"][:length] for c in runs], axis=0)
        axis.plot(runs[0]["steps"][:length], mean, color=color, marker="o", linewidth=2, label=f"{surgery} (mean of {len(runs)})")
    axis.set(xlabel="env steps", ylabel="success rate (test variations)", ylim=(-0.02, 1.02), title=title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


def learned(config: dict) -> str:
    """What a config learns, for titles: its benchmark, and its task for MT1."""
    return config["benchmark"] + (f" {config['task']}" if config["task"] else "")


def report(preset: str, config: dict, curves: list[dict], args: argparse.Namespace) -> None:
    """Print the closing tables, save the PNG and, if asked, the JSON of ``curves`` (``config`` as a dict)."""
    surgeries = list(dict.fromkeys(c["surgery"] for c in curves))
    curves = sorted(curves, key=lambda c: (surgeries.index(c["surgery"]), c["seed"]))
    print(summarize(curves))
    save_curves(curves, f"MTSAC on {learned(config)}, {max(c['steps'][-1] for c in curves)} env steps", args.out)
    print(f"wrote {args.out}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"preset": preset, "config": config, "curves": curves}, f, indent=1)
        print(f"wrote {args.json}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.from_json:
        report(*load_runs(args.from_json), args)
        return
    config, env, steps, eval_every = build_config(args)
    surgeries = args.surgery or [config.surgery]
    described = {**dataclasses.asdict(env), **dataclasses.asdict(config)}
    print(f"{learned(described)} from preset {args.preset}: hidden {list(config.hidden_sizes)}, lr {config.actor_lr}, gamma {config.gamma}, "
          f"tau {config.tau}, {config.per_task_batch} per task per batch, {config.updates_per_step} update(s) per step; "
          f"{steps} env steps; surgeries {surgeries}; seeds {args.seeds}; {args.jobs} job(s) of {args.threads} thread(s)", flush=True)
    # seed by seed, so that a run cut short still has every surgery on its first seeds
    jobs = [(dataclasses.replace(config, surgery=s), env, steps, eval_every, seed, args.device, args.threads) for seed in args.seeds for s in surgeries]
    started = time.perf_counter()
    if args.jobs == 1:
        curves = [run_curve(job) for job in jobs]
    else:
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            curves = pool.map(run_curve, jobs, chunksize=1)
    print(f"all runs: {(time.perf_counter() - started) / 60:.1f} min wall")
    report(args.preset, described, curves, args)


if __name__ == "__main__":
    main()
