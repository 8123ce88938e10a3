"""Turn splitting: only known labels at a line start open a turn; answers keep all their text."""

from __future__ import annotations

import polars as pl
import pytest

from etl_project.lib.turns import split_turns


def turns_of(text: str) -> list[tuple[int, str, str, str]]:
    frame = pl.DataFrame({"transcript_id": ["work_1"], "split": ["workforce"], "text": [text]})
    out = split_turns(frame)
    return list(out.select("turn_index", "speaker", "speaker_label", "text").iter_rows())


@pytest.mark.parametrize(
    ("label", "speaker"),
    [("Assistant", "interviewer"), ("AI", "interviewer"), ("[AI]", "interviewer"),
     ("User", "participant"), ("Human", "participant"), ("[Human]", "participant")],
)
def test_each_label_maps_to_its_speaker_and_is_kept_as_written(label: str, speaker: str) -> None:
    assert turns_of(f"{label}: hello there") == [(0, speaker, label, "hello there")]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param("Here is what I pasted:\nYou said: write a poem\nChatGPT said: Sure! Here it is.\nMe: thanks", id="pasted-chat-log"),
        pytest.param("Frustrated: when it forgets context.\nInitial Steps: I outline first.", id="headings"),
        pytest.param("I asked it and the AI: gave a weird answer.\nMy boss said User: error is common.", id="label-mid-sentence"),
        pytest.param("lowercase ai: is not a label\nuser: neither", id="other-case"),
        pytest.param("AI:no space after the colon is not a label", id="no-blank-after-colon"),
        pytest.param("My notes:\n  AI: indented is not a label", id="indented"),
    ],
)
def test_lines_that_only_look_like_labels_stay_inside_the_answer(answer: str) -> None:
    turns = turns_of(f"Assistant: Tell me more.\n\nUser: {answer}\n\nAI: Thanks.")
    assert [t[1] for t in turns] == ["interviewer", "participant", "interviewer"]
    assert turns[1][3] == answer


def test_answer_keeps_paragraphs_lists_and_code_blocks() -> None:
    answer = "First paragraph.\n\n- item one\n- item two\n\n```python\nprint('x')\n```\n\nLast words."
    turns = turns_of(f"AI: Go on.\nUser: {answer}\n")
    assert turns[1] == (1, "participant", "User", answer)


def test_bare_labels_are_empty_turns_not_merged() -> None:
    turns = turns_of("AI: Question one?\nUser:\nAI:\n\nUser: An answer.")
    assert turns == [
        (0, "interviewer", "AI", "Question one?"),
        (1, "participant", "User", ""),
        (2, "interviewer", "AI", ""),
        (3, "participant", "User", "An answer."),
    ]


def test_turn_index_is_zero_based_contiguous_per_transcript_and_words_counted() -> None:
    frame = pl.DataFrame(
        {
            "transcript_id": ["work_2", "work_1"],
            "split": ["workforce", "workforce"],
            "text": ["AI: a\nUser: b c\nAI: d", "Assistant: one two three\n\nUser: four"],
        }
    )
    out = split_turns(frame)
    assert out.select("transcript_id", "turn_index", "n_words").rows() == [
        ("work_1", 0, 3), ("work_1", 1, 1), ("work_2", 0, 1), ("work_2", 1, 2), ("work_2", 2, 1),
    ]
    assert out.schema["turn_index"] == pl.Int32


def test_text_without_labels_gives_no_turns_and_preamble_is_not_a_turn() -> None:
    assert turns_of("Just some notes, no dialog here.") == []
    assert turns_of("Preamble line.\nAI: Hello") == [(0, "interviewer", "AI", "Hello")]
