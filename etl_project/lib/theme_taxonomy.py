"""The theme taxonomy's flag names, in their fixed column order (definitions: ``data/themes/TAXONOMY.md``).

Plain data shared by every theme method (the lexicon, the trained model), the evaluation and the
prevalence estimate.
"""

from __future__ import annotations

THEME_FLAGS: tuple[str, ...] = (
    "job_threat_worry",
    "human_irreplaceable",
    "skills_atrophy_concern",
    "workplace_stigma",
    "collaborates_iteratively",
    "delegates_whole_tasks",
    "verifies_output",
    "reliability_concern",
    "time_savings",
    "quality_improvement",
    "frustration_with_limits",
    "keeps_tasks_human",
    "policy_privacy_constraint",
    "oversight_role_future",
)
