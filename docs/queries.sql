-- Analyst queries over the warehouse, for DuckDB (duckdb CLI or `import duckdb; duckdb.sql(...)`).
-- Run them from the project root: paths are relative to it (data/warehouse/ by default).
-- Each query starts with a `-- name: <slug>` line and a one-line comment saying what it answers;
-- etl_project_tests/test_queries.py runs every one against a fresh warehouse, so they stay valid.
-- Column meanings: docs/DATA_DICTIONARY.md. Worked answers on the sample: docs/analysis.md.

-- name: corpus_overview_by_split
-- How big is each sub-corpus: interviews, turns, words, and how many needed encoding repair?
select
    split,
    count(*)                                    as transcripts,
    sum(n_turns)::bigint                        as turns,
    round(avg(n_turns), 1)                      as avg_turns,
    round(avg(n_participant_words), 0)          as avg_participant_words,
    count(*) filter (where n_repairs > 0)       as transcripts_repaired
from read_parquet('data/warehouse/transcripts/**/*.parquet', hive_partitioning = true)
group by split
order by split;

-- name: theme_prevalence_by_split
-- How often does each theme come up in each split? (share of interviews whose flag is true)
-- (the flag columns: every column but the id, the split, the evidence and counts, and the p_<flag>
-- probabilities. For shares corrected for the method's errors, read the theme_prevalence table.)
with flags as (
    select columns(lambda c: c not in ('evidence', 'n_flags', 'method', 'method_version') and not starts_with(c, 'p_'))
    from read_parquet('data/warehouse/theme_flags/**/*.parquet', hive_partitioning = true)
),
long as (
    unpivot flags on columns(* exclude (transcript_id, split)) into name flag value present
)
select
    split,
    flag,
    count(*) filter (where present)             as transcripts_with_flag,
    count(*)                                    as transcripts,
    round(avg(present::int), 3)                 as share
from long
group by split, flag
order by split, share desc, flag;

-- name: verify_and_reliability_by_split
-- What share of participants both verify AI output and report reliability concerns, per split?
select
    split,
    count(*)                                                         as participants,
    count(*) filter (where verifies_output and reliability_concern)  as verify_and_concern,
    round(avg((verifies_output and reliability_concern)::int), 3)    as share_both,
    round(avg(verifies_output::int), 3)                              as share_verify,
    round(avg(reliability_concern::int), 3)                          as share_concern,
    round(count(*) filter (where verifies_output and reliability_concern)
          / nullif(count(*) filter (where reliability_concern), 0), 3) as share_verify_given_concern
from read_parquet('data/warehouse/theme_flags/**/*.parquet', hive_partitioning = true)
group by split
order by split;

-- name: longest_participant_answers
-- Which participant answers are the longest (the richest material to read first)?
select
    transcript_id,
    split,
    turn_index,
    n_words,
    left(replace(text, chr(10), ' '), 120)      as opening
from read_parquet('data/warehouse/turns/**/*.parquet', hive_partitioning = true)
where speaker = 'participant'
order by n_words desc, transcript_id, turn_index
limit 10;

-- name: transcripts_with_repairs
-- Which transcripts had encoding damage (mojibake) repaired, and where did they come from?
select
    transcript_id,
    split,
    n_repairs,
    source_format,
    source_file,
    source_record
from read_parquet('data/warehouse/transcripts/**/*.parquet', hive_partitioning = true)
where n_repairs > 0
order by n_repairs desc, transcript_id;

-- name: quarantine_by_reason
-- Why were inputs rejected? (reasons grouped by kind: numbers and details in parentheses folded)
select
    trim(regexp_replace(regexp_replace(reason, '\s*\(.*$', ''), '[0-9]+', 'N', 'g')) as reason_kind,
    count(*)                                    as inputs,
    count(distinct source_file)                 as files,
    min(detected_at)                            as first_detected,
    any_value(source_file)                      as example_file,
    any_value(reason)                           as example_reason
from read_parquet('data/warehouse/quarantine/*.parquet')
group by reason_kind
order by inputs desc, reason_kind;

-- name: evidence_for_flag
-- Which words made the lexicon flag reliability concerns? (change the flag name to look at another)
select
    f.transcript_id,
    f.split,
    e.turn_index,
    e.quote
from read_parquet('data/warehouse/theme_flags/**/*.parquet', hive_partitioning = true) as f,
     unnest(f.evidence) as u(e)
where e.flag = 'reliability_concern'
order by f.split, f.transcript_id, e.turn_index
limit 20;

-- name: words_per_turn_by_speaker
-- How much does each side talk: turns and words per turn by speaker and split?
select
    split,
    speaker,
    count(*)                                    as turns,
    round(avg(n_words), 1)                      as avg_words,
    median(n_words)                             as median_words,
    max(n_words)                                as max_words
from read_parquet('data/warehouse/turns/**/*.parquet', hive_partitioning = true)
group by split, speaker
order by split, speaker;
