"""Trained Splink models as versioned JSON files: training, saving, loading and checking that a file fits the data.

A model file is ``{"format": "msp-recon-linkage-model", "version": N, "entity_type", "input_columns",
"trained_at", "splink_version", "training_log", "settings": <Splink's model JSON>}``. The files live beside the
warehouse (``<warehouse folder>/linkage_models/<entity_type>.json``): a model is fitted to one MSP's data (its
share of VM clones, how often names agree), so it belongs with that tenant's warehouse, not with the code.
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import splink
from splink import Linker, SettingsCreator

from pipelines.linkage.settings import EntitySpec

log = logging.getLogger(__name__)

MODEL_FORMAT = "msp-recon-linkage-model"
MODEL_VERSION = 8  # bump whenever comparisons or levels change: older files then retrain (or stop)
OnMismatch = Literal["retrain", "fail"]


class ModelMismatch(Exception):
    """A saved model does not fit the data it is asked to score."""


@dataclass
class ModelStore:
    """The folder of model files for one tenant."""

    directory: Path

    def path(self, entity_type: str) -> Path:
        return Path(self.directory) / f"{entity_type}.json"

    def exists(self, entity_type: str) -> bool:
        return self.path(entity_type).exists()

    def load(self, spec: EntitySpec) -> dict:
        """The Splink settings of a saved model, after checking it fits `spec`; raises ModelMismatch if not."""
        path = self.path(spec.entity_type)
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelMismatch(f"linkage model {path} cannot be read ({exc}): retrain it with the "
                                "retrain_linkage_models job") from None
        if doc.get("format") != MODEL_FORMAT or doc.get("version") != MODEL_VERSION:
            raise ModelMismatch(
                f"linkage model {path} is format {doc.get('format')!r} version {doc.get('version')!r}; this code "
                f"reads {MODEL_FORMAT!r} version {MODEL_VERSION}: retrain it with the retrain_linkage_models job")
        saved, wanted = list(doc.get("input_columns", [])), list(spec.columns)
        if saved != wanted:
            missing, extra = sorted(set(wanted) - set(saved)), sorted(set(saved) - set(wanted))
            raise ModelMismatch(
                f"linkage model {path} was trained on columns {saved}, but the {spec.entity_type} input now has "
                f"{wanted} (new: {missing or 'none'}, gone: {extra or 'none'}): retrain it with the "
                "retrain_linkage_models job, or run with on_model_mismatch='retrain'")
        return doc["settings"]

    def save(self, spec: EntitySpec, linker: Linker, training_log: list[str]) -> Path:
        path = self.path(spec.entity_type)
        path.parent.mkdir(parents=True, exist_ok=True)
        settings = linker.misc.save_model_to_json(out_path=None)
        doc = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "entity_type": spec.entity_type,
            "input_columns": list(spec.columns),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "splink_version": splink.__version__,
            "training_log": training_log,
            "settings": settings,
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=1, default=str))
        tmp.replace(path)  # a run that dies mid-write leaves the previous model, not half a file
        return path


def settings_for(spec: EntitySpec, link_type: str, records_per_source: float = 2000.0) -> SettingsCreator:
    """The untrained model: domain priors on every level. The prior that two random records match assumes each
    real thing appears about once per system, so about 1 in `records_per_source` cross-system pairs is a match."""
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=spec.comparisons(),
        blocking_rules_to_generate_predictions=spec.blocking_rules(),
        probability_two_random_records_match=min(0.01, 1.0 / max(2.0, records_per_source)),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=["source", "source_id", *spec.retained],
    )


def with_link_type(settings: dict, link_type: str) -> dict:
    """A saved model applied to a tenant whose number of sources changed (IT Glue alone is dedupe only)."""
    return {**settings, "link_type": link_type}


def train(linker: Linker, spec: EntitySpec, n_records: int, *, max_pairs: float = 2e6, seed: int = 42) -> list[str]:
    """u by random sampling, the prior from deterministic rules, m by EM on several blocks.

    Each step that the data cannot support (too few records, a block with no pairs, a column that is all NULL)
    keeps the domain prior for what it would have estimated and says so in the returned log.
    """
    steps: list[str] = []
    if n_records < 3:
        return [f"{n_records} records: too few to train anything; domain priors kept"]
    try:
        linker.training.estimate_probability_two_random_records_match(
            [r() for r in spec.deterministic_rules], recall=0.8)
        prior = linker._settings_obj._probability_two_random_records_match
        if not 0 < prior < 1:  # every (or no) pair met the rules: a tiny tenant; an estimate of 0 or 1 is no prior
            linker._settings_obj._probability_two_random_records_match = min(0.01, 2 / n_records)
            steps.append(f"prior: rules gave {prior}; kept {min(0.01, 2 / n_records)}")
        else:
            steps.append("prior: estimated from deterministic rules (recall 0.8)")
    except Exception as exc:  # Splink raises plain exceptions when no pair meets the rules
        steps.append(f"prior: kept default ({type(exc).__name__}: {str(exc)[:160]})")
    try:
        # capped: exact matches on rare ids barely occur in random pairs, so sampling would otherwise never stop
        linker.training.estimate_u_using_random_sampling(max_pairs=min(max_pairs, n_records * 50), seed=seed)
        steps.append("u: estimated by random sampling")
    except Exception as exc:
        steps.append(f"u: kept priors ({type(exc).__name__}: {str(exc)[:160]})")
    for rule in spec.training_blocks:
        rule = rule()
        name = rule.get_blocking_rule(linker._sql_dialect_str).blocking_rule_sql
        # Splink's EM session edits the linker's settings in place (drops the comparisons the block uses, swaps in a
        # block-adjusted prior) and only puts them back when it succeeds: a failed block would otherwise leave the
        # model without those comparisons and with a prior of the block, not of the tenant
        saved = linker._settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True, fix_probability_two_random_records_match=True)
            steps.append(f"m: EM on block {name}")
        except Exception as exc:
            linker._settings_obj.core_model_settings = saved
            steps.append(f"m: EM on block {name} skipped, estimates before it kept ({type(exc).__name__}: "
                         f"{str(exc)[:160]})")
    return steps
