"""The written contract of every warehouse table: one pandera (polars) model each.

Every floor of the project reads these models: the pipeline validates each
frame against its model before anything is written, the asset checks report
their failures, and the data dictionary is generated from the ``description``
of each field. A column that is not declared here cannot reach the warehouse
(``strict = True``).
"""

from __future__ import annotations

import polars as pl
import pandera.polars as pa
from pandera.api.polars.types import PolarsData

SCHEMA_VERSION = "3"  # 2: transcripts.residual_mojibake; 3: theme_flags.p_<flag>

SPLIT_OF_PREFIX: dict[str, str] = {"work": "workforce", "creativity": "creatives", "science": "scientists"}
SPLITS: tuple[str, ...] = (*SPLIT_OF_PREFIX.values(), "unknown")
SOURCE_FORMATS: tuple[str, ...] = ("text", "csv", "parquet", "jsonl")
SPEAKERS: tuple[str, ...] = ("interviewer", "participant")
SPEAKER_LABELS: tuple[str, ...] = ("Assistant", "AI", "[AI]", "User", "Human", "[Human]")

# A plain identifier: letters, digits, '_' and '-', starting with a letter or
# digit, at most 128 characters. No '/', '\\', '.', whitespace or control
# characters, so an id can never reach a file path.
PLAIN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
# Ids of the known splits: the prefix, an underscore and digits (any number of them).
KNOWN_ID_PATTERN = r"^(work|creativity|science)_[0-9]+$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"

UTC_MICROS = pl.Datetime("us", "UTC")
EVIDENCE_DTYPE = pl.List(pl.Struct({"flag": pl.String, "turn_index": pl.Int32, "quote": pl.String}))


def split_of_id(transcript_id: pl.Expr) -> pl.Expr:
    """`workforce` / `creatives` / `scientists` from the id prefix, `unknown` otherwise."""
    prefix = transcript_id.str.extract(r"^([A-Za-z]+)_", 1)
    return prefix.replace_strict(SPLIT_OF_PREFIX, default="unknown", return_dtype=pl.String)


class TranscriptsModel(pa.DataFrameModel):
    """One row per interview: the repaired text and where it came from."""

    transcript_id: str = pa.Field(
        unique=True,
        str_matches=PLAIN_ID_PATTERN,
        description="Interview id, e.g. work_0210 (prefix work_/creativity_/science_ plus digits; other plain ids go to split 'unknown').",
    )
    split: str = pa.Field(isin=SPLITS, description="Sub-corpus from the id prefix: workforce, creatives, scientists or unknown. Hive partition key.")
    dialog_number: pl.Int64 = pa.Field(nullable=True, ge=0, description="Number in the source's '# Dialog NNNNN' header; null when the source has none.")
    text: str = pa.Field(str_length={"min_value": 1}, description="Full transcript after encoding repair, LF line endings, header removed.")
    n_turns: pl.Int32 = pa.Field(ge=1, description="Number of speaker turns (rows in `turns`).")
    n_participant_turns: pl.Int32 = pa.Field(ge=1, description="Number of participant turns.")
    n_words: pl.Int32 = pa.Field(ge=0, description="Words (whitespace-separated) over all turns.")
    n_participant_words: pl.Int32 = pa.Field(ge=0, description="Words in participant turns.")
    n_repairs: pl.Int32 = pa.Field(ge=0, description="Lines whose text the encoding repair (ftfy) changed; 0 = clean source.")
    residual_mojibake: bool = pa.Field(
        description="True when ftfy's own badness heuristic still fires on a line of the repaired text: the transcript is kept, "
        "flagged for a person to look at and alerted. Filter on it to exclude doubtful text."
    )
    n_copies: pl.Int32 = pa.Field(ge=1, description="Identical copies of this transcript seen in the input (de-duplicated to this one row).")
    source_file: str = pa.Field(description="Path of the input file, relative to the raw folder (the first copy when n_copies > 1).")
    source_format: str = pa.Field(isin=SOURCE_FORMATS, description="Input layout: text (.txt/.md), csv, parquet or jsonl.")
    source_record: str = pa.Field(description="Where in the file: '' for one-transcript files, 'row N' (CSV/Parquet, 1-based data row) or 'line N' (JSONL).")
    source_sha256: str = pa.Field(str_matches=SHA256_PATTERN, description="SHA-256 of the whole input file's bytes.")
    text_sha256: str = pa.Field(str_matches=SHA256_PATTERN, description="SHA-256 of `text` (UTF-8): changes exactly when the transcript's content changes.")
    ingested_at: UTC_MICROS = pa.Field(description="When this version of the transcript first reached the warehouse (UTC, microseconds).")

    @pa.dataframe_check(error="ids of a known split must be <prefix>_<digits>")
    def known_prefix_has_digits(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("split") == "unknown") | pl.col("transcript_id").str.contains(KNOWN_ID_PATTERN)
        )

    @pa.dataframe_check(error="split must be the one the id prefix names")
    def split_matches_id(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("split") == split_of_id(pl.col("transcript_id")))

    class Config:
        strict = True
        coerce = False


class TurnsModel(pa.DataFrameModel):
    """One row per speaker turn, in interview order."""

    transcript_id: str = pa.Field(str_matches=PLAIN_ID_PATTERN, description="Interview id (joins to transcripts).")
    split: str = pa.Field(isin=SPLITS, description="Sub-corpus, as in transcripts. Hive partition key.")
    turn_index: pl.Int32 = pa.Field(ge=0, description="0-based position of the turn in the interview; contiguous per transcript.")
    speaker: str = pa.Field(isin=SPEAKERS, description="interviewer (labels Assistant, AI, [AI]) or participant (User, Human, [Human]).")
    speaker_label: str = pa.Field(isin=SPEAKER_LABELS, description="The speaker label exactly as written in the source, without the colon.")
    text: str = pa.Field(description="The turn's words, paragraphs and lists kept; '' for a bare label with nothing after it.")
    n_words: pl.Int32 = pa.Field(ge=0, description="Whitespace-separated words in `text`.")

    @pa.dataframe_check(error="turn_index must run 0, 1, 2, ... within each transcript")
    def turn_index_contiguous(cls, data: PolarsData) -> pl.LazyFrame:
        expected = pl.col("turn_index").rank("ordinal").over("transcript_id") - 1
        return data.lazyframe.select(pl.col("turn_index").cast(pl.Int64) == expected.cast(pl.Int64))

    class Config:
        strict = True
        coerce = False
        unique = ["transcript_id", "turn_index"]


class QuarantineModel(pa.DataFrameModel):
    """One row per input that could not become a valid transcript, with the reason."""

    source_file: str = pa.Field(description="Path of the input file, relative to the raw folder.")
    source_record: str = pa.Field(description="Where in the file ('' = the whole file, 'row N', 'line N').")
    transcript_id: str = pa.Field(nullable=True, description="The transcript id when one could be read (as found, possibly unsafe); null otherwise.")
    reason: str = pa.Field(str_length={"min_value": 1}, description="Why it was rejected, in words an operator can act on.")
    source_sha256: str = pa.Field(nullable=True, str_matches=SHA256_PATTERN, description="SHA-256 of the input file's bytes; null when it could not be read.")
    detected_at: UTC_MICROS = pa.Field(description="When the problem was first detected (UTC).")

    class Config:
        strict = True
        coerce = False
        unique = ["source_file", "source_record"]


class ThemeFlagsModel(pa.DataFrameModel):
    """One row per transcript: the 14 theme flags of TAXONOMY.md (v1), judged on participant turns only."""

    transcript_id: str = pa.Field(unique=True, str_matches=PLAIN_ID_PATTERN, description="Interview id (joins to transcripts).")
    split: str = pa.Field(isin=SPLITS, description="Sub-corpus, as in transcripts. Hive partition key.")
    job_threat_worry: bool = pa.Field(description="Worries AI will replace, shrink or devalue their job, income or profession.")
    human_irreplaceable: bool = pa.Field(description="Asserts their work needs human qualities AI cannot supply, or feels secure AI won't take it.")
    skills_atrophy_concern: bool = pa.Field(description="Worries about losing or not building skills, over-reliance, getting lazy because of AI.")
    workplace_stigma: bool = pa.Field(description="Others look down on or distrust AI use, or they hide or downplay their own use.")
    collaborates_iteratively: bool = pa.Field(description="Works with AI back and forth: iterating on drafts, refining, brainstorming.")
    delegates_whole_tasks: bool = pa.Field(description="Hands complete tasks to AI with little involvement beyond a final check.")
    verifies_output: bool = pa.Field(description="Checks, reviews, fact-checks, tests or edits AI output before relying on it.")
    reliability_concern: bool = pa.Field(description="Distrusts AI accuracy: hallucinations, wrong or made-up answers, inconsistency.")
    time_savings: bool = pa.Field(description="Says AI saves time or makes them faster or more productive.")
    quality_improvement: bool = pa.Field(description="Says AI improves the quality of their work or output.")
    frustration_with_limits: bool = pa.Field(description="Frustrated with AI failures or limits: ignores instructions, generic output, wasted time.")
    keeps_tasks_human: bool = pa.Field(description="Deliberately keeps certain tasks for themselves or sets rules on where AI may be used.")
    policy_privacy_constraint: bool = pa.Field(description="AI use limited by employer policy, confidentiality, privacy, data security or regulation.")
    oversight_role_future: bool = pa.Field(description="Expects their role to shift toward directing, overseeing or checking AI.")
    p_job_threat_worry: float = pa.Field(ge=0, le=1, description="Calibrated probability that job_threat_worry is true (the method's transcript score through its Platt scaling; for the lexicon, its precision when flagged, else the positives' share among what it leaves). Feeds theme_prevalence.")
    p_human_irreplaceable: float = pa.Field(ge=0, le=1, description="Calibrated probability that human_irreplaceable is true (as p_job_threat_worry).")
    p_skills_atrophy_concern: float = pa.Field(ge=0, le=1, description="Calibrated probability that skills_atrophy_concern is true (as p_job_threat_worry).")
    p_workplace_stigma: float = pa.Field(ge=0, le=1, description="Calibrated probability that workplace_stigma is true (as p_job_threat_worry).")
    p_collaborates_iteratively: float = pa.Field(ge=0, le=1, description="Calibrated probability that collaborates_iteratively is true (as p_job_threat_worry).")
    p_delegates_whole_tasks: float = pa.Field(ge=0, le=1, description="Calibrated probability that delegates_whole_tasks is true (as p_job_threat_worry).")
    p_verifies_output: float = pa.Field(ge=0, le=1, description="Calibrated probability that verifies_output is true (as p_job_threat_worry).")
    p_reliability_concern: float = pa.Field(ge=0, le=1, description="Calibrated probability that reliability_concern is true (as p_job_threat_worry).")
    p_time_savings: float = pa.Field(ge=0, le=1, description="Calibrated probability that time_savings is true (as p_job_threat_worry).")
    p_quality_improvement: float = pa.Field(ge=0, le=1, description="Calibrated probability that quality_improvement is true (as p_job_threat_worry).")
    p_frustration_with_limits: float = pa.Field(ge=0, le=1, description="Calibrated probability that frustration_with_limits is true (as p_job_threat_worry).")
    p_keeps_tasks_human: float = pa.Field(ge=0, le=1, description="Calibrated probability that keeps_tasks_human is true (as p_job_threat_worry).")
    p_policy_privacy_constraint: float = pa.Field(ge=0, le=1, description="Calibrated probability that policy_privacy_constraint is true (as p_job_threat_worry).")
    p_oversight_role_future: float = pa.Field(ge=0, le=1, description="Calibrated probability that oversight_role_future is true (as p_job_threat_worry).")
    evidence: EVIDENCE_DTYPE = pa.Field(description="One {flag, turn_index, quote} per true flag: the participant turn and the words that triggered it.")
    n_flags: pl.Int32 = pa.Field(ge=0, le=14, description="Number of true flags in the row.")
    method: str = pa.Field(description="How the flags were derived (e.g. lexicon).")
    method_version: str = pa.Field(description="Version of the method/model that produced the row.")

    @pa.dataframe_check(error="evidence must hold exactly one entry per true flag")
    def evidence_per_true_flag(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("evidence").list.len().cast(pl.Int32) == pl.col("n_flags"))

    class Config:
        strict = True
        coerce = False


THEME_FLAG_COLUMNS: tuple[str, ...] = tuple(
    name for name, dtype in ThemeFlagsModel.to_schema().dtypes.items() if str(dtype) == "Boolean"
)
PREVALENCE_SPLITS: tuple[str, ...] = (*SPLITS, "all")


class ThemePrevalenceModel(pa.DataFrameModel):
    """One row per (split, flag): how many transcripts the method flagged and the share corrected for its measured error rates (probabilistic adjusted classify-and-count on the calibrated probabilities p_* of theme_flags), with a 95 % bootstrap interval. Rebuilt from the whole theme_flags table on every run."""

    split: str = pa.Field(isin=PREVALENCE_SPLITS, description="Sub-corpus (workforce, creatives, scientists, unknown when present) or 'all' for every transcript.")
    flag: str = pa.Field(isin=THEME_FLAG_COLUMNS, description="Theme flag name (a boolean column of theme_flags).")
    n_transcripts: pl.Int64 = pa.Field(ge=0, description="Transcripts of the split in theme_flags.")
    flagged: pl.Int64 = pa.Field(ge=0, description="Of those, transcripts with the flag true.")
    flagged_share: float = pa.Field(nullable=True, ge=0, le=1, description="flagged / n_transcripts (the raw share); null when the split is empty.")
    estimated_share: float = pa.Field(nullable=True, ge=0, le=1, description="(mean p_<flag> - P-) / (P+ - P-) clipped to [0, 1], with P+ / P- the mean out-of-fold calibrated probability among labelled positives / negatives (PACC; a version without probabilities: (flagged_share - FPR) / (TPR - FPR)); the flagged share when the method cannot separate the classes (P+ - P- < 0.05); null when empty.")
    ci_low: float = pa.Field(nullable=True, ge=0, le=1, description="Lower end of the 95 % percentile-bootstrap interval of estimated_share (sampling of the labelled transcripts behind P+ / P- and of the split's transcripts).")
    ci_high: float = pa.Field(nullable=True, ge=0, le=1, description="Upper end of that interval.")
    method: str = pa.Field(description="Theme method whose flags and error rates were used (as in theme_flags).")
    method_version: str = pa.Field(description="Version of that method (as in theme_flags); its error rates ship with it.")

    @pa.dataframe_check(error="ci_low <= estimated_share <= ci_high")
    def interval_holds_estimate(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("estimated_share").is_null()
            | ((pl.col("ci_low") <= pl.col("estimated_share") + 1e-12) & (pl.col("estimated_share") <= pl.col("ci_high") + 1e-12))
        )

    @pa.dataframe_check(error="flagged <= n_transcripts")
    def flagged_within_split(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("flagged") <= pl.col("n_transcripts"))

    class Config:
        strict = True
        coerce = False
        unique = ["split", "flag"]



MODEL_OF_TABLE: dict[str, type[pa.DataFrameModel]] = {
    "transcripts": TranscriptsModel,
    "turns": TurnsModel,
    "theme_flags": ThemeFlagsModel,
    "quarantine": QuarantineModel,
    "theme_prevalence": ThemePrevalenceModel,
}
