"""The group-shift learner: trains any method of ``meta.adaptation`` on a group-shift dataset through the shared loop.

One ``step()`` is one update on a batch drawn as the method says
(``meta.adaptation.batches``).  ``evaluate()`` scores the current model on every
validation group, each unlabeled batch adapted to as the method adapts;
model selection keeps the model with the best validation worst-group
accuracy seen so far (the ARM paper's protocol), and the report is that
model's test accuracy per test group, with worst-group and average accuracy
in the ``all groups`` row.  Training, evaluation and the selected model are
all restored by ``load_state_dict``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import ClassVar

import numpy as np
import torch


from envs.report import EvalReport
from meta.adaptation.arm_bn import ARMBN
from meta.adaptation.arm_cml import ARMCML
from meta.adaptation.arm_ll import ARMLL
from meta.adaptation.batches import GroupSampler, evaluation_batches
from meta.adaptation.config import GroupShiftConfig, check_config
from meta.adaptation.dann import DANN
from meta.adaptation.datasets import GroupSplit, load_dataset
from meta.adaptation.drnn import DRNN
from meta.adaptation.erm import ERM, UW, BNAdapt
from meta.adaptation.method import GroupShiftMethod
from meta.adaptation.tent import TENT
from meta.saved_state import check_saved_learner

__all__ = ["GroupShiftLearner", "METHODS"]

METHODS: dict[str, type[GroupShiftMethod]] = {
    "erm": ERM, "uw": UW, "drnn": DRNN, "dann": DANN, "arm-cml": ARMCML, "arm-bn": ARMBN, "arm-ll": ARMLL,
    "bn-adapt": BNAdapt, "tent": TENT,
}
#: the report's row holding the summary metrics (the other rows are test groups)
SUMMARY_ROW = "all groups"


class _SplitTensors:
    """A split's images (N, 1, 16, 16), labels and groups on the learner's device."""

    def __init__(self, split: GroupSplit, device: torch.device) -> None:
        self.split = split
        self.images = torch.from_numpy(split.images).unsqueeze(1).to(device)
        self.labels = torch.from_numpy(split.labels).to(device)
        self.groups = torch.from_numpy(split.groups).to(device)


class GroupShiftLearner:
    unit: ClassVar[str] = "updates"
    default_budget: ClassVar[int] = 1000
    default_eval_every: ClassVar[int] = 200

    def __init__(self, config: GroupShiftConfig, *, device: torch.device, seed: int) -> None:
        if type(config).method not in METHODS:
            raise TypeError(f"GroupShiftLearner takes a method's config ({', '.join(METHODS)}), got {type(config).__name__}")
        check_config(config)
        self.config, self.device, self.seed = config, torch.device(device), seed
        data = load_dataset(config.dataset, config.data_seed)
        self.splits = {name: _SplitTensors(data.split(name), self.device) for name in ("train", "val", "test")}
        train = data.train
        self.sampler = GroupSampler(train.groups, train.names, np.random.default_rng([seed, 1]))
        method_class = METHODS[type(config).method]
        self.eval_batches = {name: evaluation_batches(data.split(name).groups, data.split(name).num_groups, config.support)
                             for name in ("val", "test")}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.method = method_class(config, int(train.labels.max()) + 1, train.num_groups).to(self.device)
        self.optimizer = torch.optim.Adam(self.method.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.updates = 0
        #: the model with the best validation worst-group accuracy so far, and its test accuracies
        self.selected: dict | None = None

    @property
    def name(self) -> str:
        return type(self.config).method

    def progress(self) -> int:
        return self.updates

    # ------------------------------------------------------------------ training
    def step(self) -> dict[str, float]:
        train = self.splits["train"]
        index = torch.from_numpy(self.sampler.sample(self.method.sampling, self.config.meta_batch, self.config.support))
        index = index.to(self.device)
        self.method.train()
        loss, metrics = self.method.training_loss(train.images[index], train.labels[index], train.groups[index], self.updates)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        return {"losses/loss": float(loss.detach()), **{k: float(v) for k, v in metrics.items()}}

    # ------------------------------------------------------------------ evaluation
    def group_accuracy(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(correct, examples) per group of ``split``, every batch predicted after the method's adaptation."""
        tensors = self.splits[split]
        correct = np.zeros(tensors.split.num_groups)
        counts = np.zeros(tensors.split.num_groups)
        self.method.eval()
        with torch.no_grad():
            for group, index in self.eval_batches[split]:
                index = torch.from_numpy(index).to(self.device)
                logits = self.method.predict(tensors.images[index].unsqueeze(0))[0]
                correct[group] += float((logits.argmax(dim=-1) == tensors.labels[index]).sum())
                counts[group] += len(index)
        return correct, counts

    def evaluate(self) -> EvalReport:
        correct, counts = self.group_accuracy("val")
        val_worst = float((correct / counts).min())
        if self.selected is None or val_worst > self.selected["val_worst_group_accuracy"]:
            test_correct, test_counts = self.group_accuracy("test")
            self.selected = {
                "update": self.updates, "val_worst_group_accuracy": val_worst,
                "val_average_accuracy": float(correct.sum() / counts.sum()),
                "test_correct": test_correct, "test_counts": test_counts,
                "state": {k: v.detach().cpu().clone() for k, v in self.method.state_dict().items()},
            }
        return self._report(val_worst)

    def _report(self, current_val_worst: float) -> EvalReport:
        chosen = self.selected
        accuracy = chosen["test_correct"] / chosen["test_counts"]
        report = EvalReport(title=f"{self.name} on {self.config.dataset} (test groups; model selected on val worst "
                                  f"group at update {chosen['update']} of {self.updates})")
        for name, value in zip(self.splits["test"].split.names, accuracy):
            report.add(name, accuracy=value)
        report.add(
            SUMMARY_ROW,
            worst_group_accuracy=accuracy.min(),
            average_accuracy=chosen["test_correct"].sum() / chosen["test_counts"].sum(),
            val_worst_group_accuracy=chosen["val_worst_group_accuracy"],
            current_val_worst_group_accuracy=current_val_worst,
            selected_update=chosen["update"],
        )
        return report

    def selected_method(self) -> GroupShiftMethod:
        """A copy of the method with the selected model's weights (the one the report scores)."""
        method = copy.deepcopy(self.method)
        if self.selected is not None:
            method.load_state_dict(self.selected["state"])
        return method

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "learner": f"{type(self).__name__}:{self.name}",
            "config": asdict(self.config),
            "updates": self.updates,
            "method": {k: v.detach().cpu().clone() for k, v in self.method.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "sampler_rng": copy.deepcopy(self.sampler.rng.bit_generator.state),
            "selected": copy.deepcopy(self.selected),
        }

    def load_state_dict(self, state: dict) -> None:
        check_saved_learner(state, f"{type(self).__name__}:{self.name}", self.config)
        self.method.load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.rng.bit_generator.state = state["sampler_rng"]
        self.updates = int(state["updates"])
        self.selected = copy.deepcopy(state["selected"])


def accuracy_of(report: EvalReport) -> tuple[float, float]:
    """(worst-group, average) test accuracy of a group-shift learner's report."""
    row = report.rows[SUMMARY_ROW]
    return row["worst_group_accuracy"], row["average_accuracy"]


