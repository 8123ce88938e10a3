"""Rule-based (lexicon) theme flags for interview transcripts (pure polars, no Dagster).

Fourteen boolean flags per transcript (``THEME_FLAGS``; definitions and coding rules in
``data/themes/TAXONOMY.md``) are set from the participant's own words. Measured quality,
speed, what else was tried and what is weak: ``docs/THEMES.md`` (``make eval-themes``).

Method
------
1. Only ``speaker == "participant"`` turns are used; interviewer turns never count.
2. Each participant turn is split into sentences (``SENTENCE_PATTERN``'s matches, stripped;
   computed by a faster equivalent, see below), so every cue is judged inside one sentence.
3. Each flag has a small lexicon (:data:`LEXICON`) of case-insensitive regexes:

   * ``positive`` -- phrasings that express the theme; one must match;
   * ``require``  -- optional context that must *also* appear in the sentence
     (e.g. a future/role framing for ``oversight_role_future``);
   * ``negative`` -- vetoes: denials, negations, wishes or other readings the
     coding rules exclude ("not worried", "I don't think it will replace me",
     "colleagues are afraid", "I wish it could ...").

   A sentence *hits* a flag when positive and require match and no negative does.
4. Per transcript a flag is true when any sentence hits. Its evidence is the first
   hit (lowest turn, then sentence order): the turn index and a verbatim quote
   (the sentence, or a <=300 character window around the matched words when the
   sentence is longer).

Versions
--------
v1.1: v1's rules with a faster matcher (same output but for the normalisation noted below).
v1.2: a faster engine (below; with v1.1's rules it gives v1.1's output exactly) and revised
cues for four weak flags, from the TAXONOMY definitions and coding rules:
``quality_improvement`` (bare ``grammar``/``wording``/``enhanc...``/``impressed`` need a
correction or an object; "catches things I miss"; gains from doing it oneself and errors
found while testing are vetoed), ``delegates_whole_tasks`` (others' use, hypotheticals and
checking "independently" vetoed), ``verifies_output`` (tweaking/making changes to what it
gives; testing the tool itself vetoed), ``oversight_role_future`` (wanting or considering
such work counts as the future framing; running agents). Figures: ``docs/THEMES.md``.

How it is made fast
-------------------
The cues are matched against a *normalised copy* of each sentence: curly apostrophes
and quotes straightened, every other non-ASCII character blanked (one for one, so
character positions stay those of the original), then lowercased. The cues are
rewritten for that copy by :func:`ascii_regex` (ASCII ``\\b``/``\\w``/``\\s``, classes
intersected with ASCII, no case folding), which keeps Rust's regex engine on its fast
DFA: Unicode ``\\b`` on a sentence holding a single curly quote made it fall back to a
much slower engine.

* Sentences are cut by one ``str.replace_all`` (a boundary becomes a NUL) and a literal
  ``str.split`` instead of ``str.extract_all(SENTENCE_PATTERN)`` (same sentences; the tests
  compare both on edge cases, random strings and the sample). Lowercasing is the whole
  normalisation for ASCII sentences; the replacements run only on the others.
* Each positive cue (an *alternative*) is matched on its own, not as one alternation per
  flag (a big alternation made the regex engine fall off its DFA), and only on candidate
  sentences: one Aho-Corasick pass (``str.extract_many``) lists the literals each sentence
  contains, and an alternative's candidates are the sentences holding one of *its*
  literals. An alternative has several sound literal sets (:func:`literal_options`, from
  the cue's syntax tree); the one whose literals are rarest in an evenly spaced sample of
  the input is used (query planning only: any choice gives the same hits).
* ``require`` and ``negative`` regexes run only on a flag's positive sentences.
* Independent work (two halves of the input, the per-alternative regexes) runs as lazy
  queries together in ``pl.collect_all`` so both cores work; transcripts are processed in
  chunks of :data:`CHUNK_TRANSCRIPTS` to bound memory. No Python code runs per row, turn or
  transcript (loops are over the 224 alternatives and 14 flags).

Matching the normalised copy differs from v1 only where v1 missed a cue written
with a straight apostrophe against a curly one in the text (``can’t``) and where a
non-ASCII character stood inside a cue (``editing—and``); the tests compare both
matchers sentence by sentence.

This is a rule baseline: sentence-level keyword rules miss answers that only make
sense with the interviewer's question ("Yes, always") and cannot resolve who a
pronoun refers to. ``METHOD``/``METHOD_VERSION`` are written to every output row
so later versions can be told apart.
"""

from __future__ import annotations

import functools
import re._parser as _re_parser  # the stdlib regex parser, used only to find required literals
from dataclasses import dataclass

import polars as pl

METHOD = "lexicon"
METHOD_VERSION = "lexicon-v1.2"
CHUNK_TRANSCRIPTS = 25_000

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

MAX_QUOTE_CHARS = 300
_QUOTE_CONTEXT_CHARS = 100  # characters kept either side of the match in long sentences

# A sentence: characters up to a run of . ! ? (a terminator directly followed by a
# non-blank, as in "3.5" or "e.g", does not end it) or a line break.
SENTENCE_PATTERN = r"(?:[^\n.!?]|[.!?]+[^\s.!?])+[.!?]*"


# --------------------------------------------------------------------------- #
# Regex building blocks (plain strings, combined into one pattern per flag/role)
# --------------------------------------------------------------------------- #
def _any(*alternatives: str) -> str:
    """Non-capturing alternation."""
    return "(?:" + "|".join(alternatives) + ")"


def _gap(max_words: int) -> str:
    """Up to ``max_words`` intervening words (each with its trailing blanks) inside one sentence."""
    return rf"(?:[^\s.!?]+\s+){{0,{max_words}}}"


def _near(a: str, b: str, max_chars: int = 80) -> str:
    """``a`` and ``b`` in either order, at most ``max_chars`` characters apart."""
    return _any(rf"{a}.{{0,{max_chars}}}{b}", rf"{b}.{{0,{max_chars}}}{a}")


APOS = r"['’]"
NOT = _any(r"\bnot\b", rf"n{APOS}t\b", r"\bnever\b", r"\bno\b", r"\bnor\b", r"\bhardly\b", r"\brarely\b")
WORRY = _any(
    r"\bworr(?:y|ied|ies|ying|isome)", r"\bconcern(?:s|ed|ing)?\b", r"\bfear(?:s|ful)?\b", r"\bafraid\b",
    r"\bscar(?:y|ed|es)\b", r"\banxi(?:ous|ety)\b", r"\bnervous\b", r"\bthreat(?:s|en|ened|ening)?\b",
    r"\buneas(?:e|y)\b", r"\buncomfortable\b", r"\bfrighten", r"\bterrif",
)
# Wishes and imagined future use do not count for behaviour flags.
WISH = _any(
    r"\bi wish\b", rf"\bi{APOS}?d (?:like|love) (?:it )?(?:to|if)\b", r"\bi would (?:like|love)\b",
    r"\bwould be (?:nice|great|helpful|amazing|cool|useful)\b", r"\bif only\b", r"\bi hope\b",
    r"\bhopefully\b", r"\bin the future\b", r"\bone day\b", r"\bsomeday\b",
)
AI_SUBJECT = r"\b(?:ai|it|llms?|machines?|technology|they|robots?|computers?)\b"
REPLACE = _any(
    r"\breplac(?:e|es|ed|ing|ement)\b", r"\btak(?:e|es|ing|en) (?:over|away)\b", r"\btook (?:over|away)\b",
    r"\bobsolete\b", r"\bredundant\b", r"\bsubstitute\b", r"\bwipe[ds]? out\b", r"\bwiped out\b",
)
SKILL = _any(
    r"\bskill", r"\babilit(?:y|ies)\b", r"\bknowledge\b", r"\bcritical thinking\b", r"\bcreativ",
    r"\bbrain\b", r"\bthink(?:ing)? for (?:my|them|him|her|our)sel(?:f|ves)\b", r"\blearn(?:ing)?\b",
    r"\bexpertise\b", r"\bcompeten", r"\bcraft\b", r"\bintelligence\b", r"\bunderstanding\b",
)
OUTPUT = _any(
    r"\boutputs?\b", r"\bresults?\b", r"\banswers?\b", r"\brespons(?:e|es)\b", r"\bcode\b", r"\bit\b",
    r"\bwhat (?:it|the ai|ai|they) (?:gives?|gave|produces?|says?|said|writes?|wrote|generates?)\b",
    r"\beverything\b", r"\bdrafts?\b", r"\bsuggestions?\b", r"\binformation\b", r"\bsources?\b",
    r"\bcitations?\b", r"\breferences?\b", r"\bfacts?\b", r"\bwork\b", r"\bthem\b", r"\bthat\b",
    r"\bscripts?\b", r"\bsummar(?:y|ies)\b",
)
MYSELF = _any(
    r"\bmyself\b", r"\bmy own\b", r"\bon my own\b", r"\bby hand\b", r"\bmanually\b", r"\bpersonally\b",
    r"\bourselves\b", r"\bwithout (?:ai|the ai|it|using ai|any ai)\b", r"\bthe (?:old-fashioned|traditional) way\b",
)
SENSITIVE = _any(
    r"\bconfidential", r"\bprivacy\b", r"\bprivate (?:data|info|information|details)\b",
    r"\bsensitive\b", r"\bpersonal (?:data|info|information|details)\b", r"\bpii\b", r"\bgdpr\b",
    r"\bhipaa\b", r"\bferpa\b", r"\bndas?\b", r"\bnon-?disclosure\b", r"\bdata (?:security|protection)\b",
    r"\bsecurity (?:concerns?|risks?|issues?|reasons|policy|policies|rules)\b", r"\bproprietary\b",
    r"\bidentif(?:ying|iable) (?:info|information|details)\b", r"\b(?:client|customer|patient|student|company|user)(?:s|s'|'s|’s)? (?:data|information|info|records|details)\b",
    # "[REDACTED]" is the corpus' anonymisation token, not the participant redacting
    r"\bredact(?:ing|ion|s)\b", r"\bredacted (?:\w+ )?(?:info|information|details|names|data|parts)\b", r"\bto redact\b",
    r"\banonymi[sz]\w* (?:the |any |all )?(?:data|information|details|names|it|them)\b",
)
RULES = _any(
    r"\bpolic(?:y|ies)\b", r"\bai guidelines?\b", r"\bregulat", r"\bcomplian", r"\bbann?(?:ed|ing|s)?\b",
    r"\bblock(?:ed|s)?\b", r"\bforb(?:id|ade|idden)\b", r"\bprohibit", r"\brestrict", r"\b(?:company|it)[- ]approved\b",
    rf"{NOT} {_gap(2)}(?:allowed|permitted)\b", rf"(?:doesn{APOS}t|don{APOS}t|do not|does not|won{APOS}t|wouldn{APOS}t) allow\b",
    r"\bnot allowed\b", r"\bisn['’]t allowed\b", r"\bcopyright", r"\blicens(?:e|ing)\b",
)


@dataclass(frozen=True)
class Cues:
    """Regex cues of one flag. A sentence hits when one ``positive`` and (if given)
    one ``require`` pattern match and no ``negative`` pattern does."""

    positive: tuple[str, ...]
    negative: tuple[str, ...] = ()
    require: tuple[str, ...] = ()


LEXICON: dict[str, Cues] = {
    "job_threat_worry": Cues(
        positive=(
            _near(WORRY, REPLACE, 100),
            _near(WORRY, rf"\b(?:my|our) {_gap(2)}(?:jobs?|roles?|careers?|livelihoods?|income|clients|work|industry|field|profession)\b", 60),
            rf"\b(?:make|makes|making|render) {_gap(3)}(?:jobs?|roles?|professions?|careers?|me|us|positions?) {_gap(1)}(?:obsolete|redundant|irrelevant)",
            r"\b(?:replace|replacing) (?:me|us|my job|our jobs|(?:human )?(?:artists|writers|workers|designers|teachers|developers|creatives|illustrators|translators|people|humans))\b",
            rf"\b(?:take|takes|taking|took) {_gap(1)}(?:my|our|their|people{APOS}s|human|the|many|some|a lot of)? ?(?:jobs?|livelihoods?|income|clients)\b",
            r"\b(?:fewer|less|decreas\w*|reduc\w*|los(?:e|ing|t)) (?:commissions|clients|gigs|contracts|jobs|work opportunities|demand|bookings|income)\b",
            rf"\bneed {_gap(1)}(?:fewer|less) (?:people|staff|workers|writers|designers|employees|humans|developers|artists)\b",
            rf"\b(?:my|our) (?:jobs?|roles?|positions?|careers?|professions?|industry|field|livelihoods?) {_gap(3)}(?:at risk|under (?:some )?threat|threatened|in danger|disappear|going away|obsolete|redundant|wiped out)",
            rf"\b(?:consider\w*|thinking about|looking (?:at|into)|plan\w*) {_gap(2)}(?:chang\w*|switch\w*|leav\w*|a different|another|new) (?:careers?|fields?|industr(?:y|ies)|professions?|line of work)\b",
            r"\bout of (?:a )?(?:job|work|business)\b",
            r"\bjob (?:loss(?:es)?|insecurity|displacement|cuts)\b",
            rf"\b(?:work|jobs?|clients|commissions|gigs) {_gap(2)}(?:dried up|disappeared|vanished)\b",
            rf"\b(?:costs?|cheaper) {_gap(3)}(?:than|to) (?:hire|pay|use|employ) (?:an? )?(?:ai|me|human|person)\b",
            r"\b(?:devalu|undervalu)\w*",
            r"\bharder to (?:earn|make) a living\b",
            # plain expectation of replacement (denials are vetoed below)
            rf"{AI_SUBJECT} {_gap(2)}(?:will|could|can|may|might|is going to|would) {_gap(2)}(?:replace|take over|take away|eliminate|wipe out) {_gap(3)}(?:jobs?|roles?|people|workers|humans|us|me|my|our|professions?|industr(?:y|ies)|fields?|careers?|positions?|[a-z]+(?:ers|ists|ians|ors))\b",
            rf"\b(?:jobs?|roles?|positions?) {_gap(2)}(?:will|could|may|might|are going to) {_gap(1)}(?:be )?(?:lost|cut|disappear|eliminated|replaced|automated)\b",
        ),
        negative=(
            rf"{NOT} {_gap(3)}{WORRY}",
            r"\bless (?:and less )?(?:worried|concerned|afraid|scared)\b",
            rf"{NOT} {_gap(2)}(?:think|see|believe|expect|foresee|imagine|consider) {_gap(6)}{REPLACE}",
            rf"\b(?:can{APOS}?t|cannot|won{APOS}t|will not|wouldn{APOS}t|would not|could not|couldn{APOS}t|never|unlikely to|not going to) {_gap(3)}{REPLACE}",
            r"\bsomeone (?:who (?:is|uses)|using) ai\b",
            # colleagues'/others' fear, reported second hand
            rf"\b(?:colleagues|co-?workers|peers|friends|others|other people|some people|many people|a lot of people|lots of people|everyone|they)\b {_gap(3)}(?:are|were|seem|feel|feels|get|got) {_gap(2)}(?:worried|afraid|scared|concerned|fearful|anxious|nervous|like)",
            r"\b(?:welcome|embrace|look forward to|happy to)\b",
            r"\b(?:kids|children|son|daughter)\b",
            r"\b(?:have|has|had|feel) (?:\w+ )?job security\b",
            rf"\b(?:would (?:love|like|be (?:wonderful|great|nice|amazing))|i{APOS}?d (?:love|like)|even if|not as likely|unlikely|hard to believe|take over the world)\b",
        ),
    ),
    "human_irreplaceable": Cues(
        positive=(
            r"\bhuman (?:touch|element|connection|interaction|contact|creativity|judg(?:e)?ment|insight|intuition|emotion|side|aspect|experience|perspective|expertise|brain|mind|voice|nuance|warmth|empathy|relationships?|presence|input|analyst|expert|thinking|approach|factor)\b",
            rf"{AI_SUBJECT} {_gap(2)}(?:can{APOS}?t|cannot|can not|can never|won{APOS}t|will never|could never|would never|will not|is never going to|isn{APOS}t (?:able|going)|is not (?:able|going)|not be able|could not|couldn{APOS}t) {_gap(3)}(?:replace|replicate|substitute|take over|capture|match|beat|compete|do what i do|be an?|repair|physically|touch|listen|connect|build (?:a |the )?relationships?|have the (?:human|same))\b",
            rf"{NOT} {_gap(2)}(?:think|see|believe|expect|foresee|imagine|consider) {_gap(6)}(?:{REPLACE}|be able to do)",
            rf"{NOT} {_gap(3)}(?:worried|concerned|scared|afraid|threatened|fear\w*|concern myself) {_gap(6)}(?:{REPLACE}|my job|my role|job)",
            rf"\b(?:feel|am|i{APOS}m|we{APOS}re|feeling) (?:\w+ )?(?:secure|safe)\b",
            r"\balways (?:be )?(?:a )?(?:need|demand|room|place|market|want|desire) for (?:a |the )?(?:humans?|people|real|person|manual|creative|hand)",
            r"\b(?:people|clients|customers|students|patients|readers|buyers|audiences?) (?:will )?(?:still |always )?(?:want|prefer|need|value|like|crave|love) (?:a |the |to have a )?(?:human|real (?:person|people|artists?)|person|face-to-face|personal)",
            r"\buniquely human\b",
            r"\birreplac\w*",
            rf"\b(?:can{APOS}?t|cannot|won{APOS}t|never) (?:be )?(?:fully |completely |entirely )?(?:replaced|replicated|automated|outsourced|substituted)\b",
            r"\b(?:hands-on|hands on|physical(?:ly)?|in person|in-person|face[- ]to[- ]face|person[- ]to[- ]person|human[- ]to[- ]human|personal(?:ity|ability)?)\b.{0,80}\b(?:ai|it) (?:can't|can’t|cannot|can not|won't|won’t|isn't|isn’t|couldn't|couldn’t|is never)\b",
            r"\b(?:not|never) (?:going to )?(?:be )?(?:a )?(?:threat|substitute|replacement)\b",
            r"\b(?:needs?|requires?|requiring|needed) (?:a |the )?(?:lot of )?(?:human|person|people to|actual person)\b",
            rf"\b(?:hard to believe|not convinced|doubt|can{APOS}?t (?:see|imagine)|don{APOS}t see how|no (?:\w+ )?way)\b.{{0,60}}{AI_SUBJECT} {_gap(1)}(?:could|can|would|will|ever)\b",
            r"\bwill always be (?:needed|necessary|required|in demand|valued|important)\b",
            r"\bbest (?:done|left|provided) (?:by|to) (?:a |the )?(?:humans?|people|person|experts?|actual|professionals?)\b",
            rf"\bnot (?:intelligent|smart|good|capable|advanced|close) enough\b.{{0,40}}\breplace\b",
            r"\bpersonal (?:relationships?|connections?|touch)\b",
        ),
        negative=(
            r"\b(?:no longer|not) (?:be )?needed\b",
            r"\bi hope\b",
        ),
    ),
    "skills_atrophy_concern": Cues(
        positive=(
            rf"\b(?:get|getting|become|becoming|go|going|grow|growing|turn|turning|be|am|feel) {_gap(2)}(?:rusty|lazy|lazier|complacent|dependent|reliant|over-?reliant|dependant)\b",
            r"\bover-?(?:rel(?:y|ying|iance|iant)|dependen\w*)\b",
            r"\b(?:too|overly|very|more|heavily) (?:reliant|dependent|dependant)\b",
            rf"\brel(?:y|ying|ies) {_gap(1)}(?:too much|too heavily|on (?:it|ai) (?:too much|for everything))\b",
            r"\b(?:dependen(?:ce|cy)|reliance) on (?:it|ai|the ai|these tools|technology|llms?|chatgpt)\b",
            r"\bleaning too (?:much|heavily)\b",
            _near(
                r"\b(?:lose|losing|lost|loss of|erod\w*|degrad\w*|atroph\w*|dull\w*|declin\w*|deteriorat\w*|forget\w*|weaken\w*|worse|slow (?:my|our) brain|decreas\w*)",
                SKILL, 60,
            ),
            rf"\b(?:want|need|try|trying|important|have|has|wish|like) to {_gap(1)}(?:keep|stay|remain|maintain|preserve|practi[cs]e) {_gap(3)}(?:sharp|competent|fresh|honed|skills?|abilit(?:y|ies)|craft)\b",
            r"\b(?:stop|stopped|not|don't|don’t|doesn't|doesn’t|no longer|without) (?:really )?(?:thinking|think|learning|learn) for (?:myself|themselves|himself|herself|ourselves)\b",
            r"\bthink for (?:myself|themselves|himself|herself|ourselves)\b",
            r"\bbrain ?(?:rot|drain)\b",
            rf"\b(?:won{APOS}t|doesn{APOS}t|not|isn{APOS}t) (?:help(?:ing)? (?:me |you |them )?)?(?:learn|helpful for learning)\b",
            rf"\b(?:juniors?|students|newcomers|beginners|younger|new (?:people|hires|developers|writers|staff)|next generation|entry[- ]level)\b.{{0,80}}\b(?:rel(?:y|iant|iance)|depend\w*|never learn|not learn|skills?|lazy)\b",
            r"\bhand(?:ed|ing)? over the reins\b",
            r"\b(?:do|does) (?:all )?(?:the|my|their) (?:thinking|work) for (?:me|them|us|you)\b",
        ),
        negative=(
            rf"{NOT} {_gap(3)}(?:worried|concerned|afraid|scared|worry|fear) {_gap(6)}(?:skills?|rusty|lazy|reliant|dependen\w*|losing|lose)",
            rf"(?:{NOT}|\bwouldn{APOS}t\b) {_gap(3)}(?:lost|losing|lose|diminish\w*|atroph\w*) {_gap(2)}(?:any )?(?:skills?|abilit)?",
            rf"\b(?:don{APOS}t|do not) (?:really )?think\b.{{0,60}}\b(?:lose|losing|diminish|rusty|lazy|reliant|dependen)",
            r"\b(?:kids|children|son|daughter|grandchildren)\b",
            r"\bmore (?:skills?|knowledge)\b",
            r"\b(?:saves?|saved|saving) (?:me )?(?:time|effort)\b",
        ),
    ),
    "workplace_stigma": Cues(
        positive=(
            r"\bcheat(?:ing|er|ers|s)?\b",
            r"\bplagiar\w*",
            r"\bfrowned (?:up)?on\b",
            r"\blook(?:s|ed|ing)? down (?:on|upon)\b",
            r"\bstigma\w*",
            r"\btaboo\b",
            r"\b(?:shame|ashamed|embarrass\w*)\b",
            r"\bhypocrit\w*",
            r"\bbacklash\b",
            r"\b(?:being |be |get |getting )judged\b",
            r"\bjudg(?:e|es|ing) (?:me|people|you|others|them|us)\b",
            r"\bsoulless\b",
            r"\bnot (?:real|true|genuine) (?:art|writing|work|creativity)\b",
            r"\bnot being [\"“']?real\b",
            r"\b(?:less|not) (?:genuine|authentic|professional|original|ethical)\b",
            rf"\b(?:against|despise|oppose[sd]?|averse to|objections? to|denounc\w*|negative (?:view|opinion)s? (?:of|on|about)) {_gap(2)}(?:ai|the use of ai|using ai|it)\b",
            r"\banti-?ai\b",
            rf"\b(?:view|views|viewed|see|sees|seen|think|thinks|consider|considered|call|called|accus\w*) {_gap(4)}(?:as )?(?:lazy|cheating|cheat|lesser|fake|less skilled|unprofessional|incompetent)\b",
            r"\b(?:hide|hides|hiding|conceal\w*|disguise\w*)\b",
            r"\bkeep (?:it|that|this) (?:quiet|secret|private|to myself|under wraps|hush)\b",
            rf"\b(?:don{APOS}t|do not|didn{APOS}t|never|won{APOS}t|wouldn{APOS}t|not|haven{APOS}t|rarely|can{APOS}t (?:really )?) {_gap(2)}(?:tell|told|mention|share|disclose|admit|advertise|broadcast|reveal|let on)\b.{{0,60}}\b(?:ai|it|use|using|used)\b",
            rf"\bwithout (?:their|anyone{APOS}s|his|her|my (?:boss|manager|colleagues){APOS}?s?) knowledge\b",
            rf"\b(?:don{APOS}t|do not|wouldn{APOS}t|would not|not) (?:want|like) {_gap(4)}(?:to know|know|find out|to think|think|see|notice|catch on|to feel|feel|realize|realise)\b",
            rf"\b(?:prefer|rather) (?:that )?(?:they|people|nobody|no one|colleagues|clients) {_gap(1)}(?:not |didn{APOS}t )?know\b",
            r"\bcatch on\b",
            r"\b(?:in private|in secret|secretly|quietly)\b",
            rf"\b(?:tip|tips|tipped) {_gap(1)}off\b",
            r"\bget (?:in|into) trouble\b",
            r"\b(?:not|aren['’]t|isn['’]t|wasn['’]t) (?:aware|told)\b.{0,40}\b(?:ai|use)\b",
            r"\b(?:forbid|prohibit|ban)\w* (?:the )?(?:use of )?ai\b",
        ),
        negative=(
            rf"{NOT} {_gap(2)}(?:stigma|judg\w*|shame|ashamed|embarrass\w*|frown\w*|look\w* down|hide|hiding|cheat\w*)",
            r"\b(?:open|upfront|transparent|honest) (?:about|that)\b",
            r"\b(?:students?|pupils?|kids|children)\b",
            r"\bhidden (?:layers?|patterns?|gems?|costs?)\b",
            r"\b(?:i|we) (?:\w+ )?consider (?:\w+ ){0,4}(?:plagiar|cheat)",
        ),
    ),
    "collaborates_iteratively": Cues(
        positive=(
            r"\bback[- ]and[- ]forth\b",
            r"\biterat\w*",
            r"\brefin(?:e|es|ed|ing|ement)\b",
            r"\bbrainstorm\w*",
            r"\bsounding board\b",
            r"\bbounc\w* (?:\w+ ){0,2}(?:ideas|things|thoughts|it|them|stuff)\b.{0,10}\boff\b",
            r"\bbounc\w* (?:ideas|things|thoughts) (?:back|around)\b",
            r"\bcollaborat\w*",
            r"\bfine[- ]tun\w*",
            r"\bfollow[- ]?up (?:questions?|prompts?)\b",
            r"\b(?:conversation|discuss\w*|dialogue|chat(?:ting)? (?:with|about))\b",
            r"\b(?:partner|teammate|team mate|thought partner|co-?writer|co-?pilot|assistant that)\b",
            r"\b(?:several|a few|multiple|many|couple of|\d+) (?:tries|attempts|rounds|iterations|prompts|versions|goes)\b",
            rf"\b(?:ask|asking|asked|tell|telling|told) (?:it|the ai|ai|the model|chatgpt|claude) {_gap(2)}(?:to )?(?:change|revise|adjust|rewrite|expand|elaborate|try again|regenerate|improve|rework|alter|modify|shorten|make it)\b",
            r"\bwork(?:ing|ed)? (?:through it|together|with (?:it|the ai|ai) (?:to|on|until))\b",
            r"\b(?:going|go|went) (?:back|over) (?:and|to) (?:it|the ai|ai)\b",
            r"\b(?:build|building|built) (?:on|upon) (?:its|the) (?:ideas|suggestions|output)\b",
        ),
        negative=(
            WISH,
            rf"{NOT} {_gap(4)}(?:collaborat\w*|back[- ]and[- ]forth|brainstorm\w*|iterat\w*|refin\w*|discuss\w*|conversation)",
            r"\bnot (?:a|much of a) (?:partner|collaborat)",
            r"\b(?:with|among|between) (?:my )?(?:colleagues|team(?:mates)?|co-?workers|students|clients|customers|peers|friends|editor|supervisor|boss|manager)\b",
        ),
    ),
    "delegates_whole_tasks": Cues(
        positive=(
            rf"\b(?:let|lets|have|has|had|get|gets|got|ask|asks|asked|use|used|using|uses) (?:it|ai|the ai|an ai|chat ?gpt|claude|gpt|copilot|gemini|the model|an llm|the tool|a model|ai tools?) {_gap(1)}(?:to )?(?:write|draft|generate|create|produce|do|handle|summari[sz]e|transcribe|compile|make|come up with|complete|take care of|put together|build|code|translate|format|convert|fill|design|plan|outline|rewrite|automate)\b",
            rf"\b(?:write|writes|wrote|draft|drafts|drafted|generate|generates|generated|create|creates|created|produce|produces|produced|do|does|did|handle|handles|complete|completes|completed) {_gap(2)}(?:the whole|the entire|an entire|entire|whole|complete|all (?:of )?(?:the|my))\b",
            r"\bdelegat\w*",
            r"\bhand(?:ed|ing|s)? (?:\w+ )?(?:off|over)\b",
            r"\boffload\w*",
            r"\bleave (?:it|that|them|this|those|the rest)? ?(?:all |entirely )?(?:up )?to (?:the )?(?:ai|it|chat ?gpt|claude|the model)\b",
            r"\bhands[- ]off\b",
            r"\bautomat(?:e|es|ed|ing|ion of)\b",
            r"\b(?:ai|it|the ai|chat ?gpt|claude|the model|the tool) (?:does|did|handles|handled|takes care of|took care of|writes|wrote|drafts|drafted|generates|produced|produces) (?:most|all|the bulk|the heavy lifting|the whole|everything|the first draft|a first draft|a draft|the draft)\b",
            r"\b(?:first|initial|rough) drafts?\b",
            r"\bon (?:its|it's) own\b",
            r"\bindependently\b",
            r"\bgive (?:it|ai) (?:a |the )?(?:complete|whole|entire) task",
        ),
        negative=(
            WISH,
            rf"(?:{NOT}|\brather than\b|\binstead of\b|\bwithout\b) {_gap(3)}(?:delegat\w*|hand\w* (?:\w+ )?(?:off|over)|let (?:it|ai)|have (?:it|ai) (?:write|do)|the whole|entire|complete tasks?|independently|on its own|automat\w*)",
            rf"\b(?:never|not|don{APOS}t|wouldn{APOS}t|won{APOS}t) {_gap(3)}(?:use|let|have|ask) (?:it|ai|the ai|chat ?gpt|claude) {_gap(1)}(?:to )?(?:write|draft|generate|create|do)\b",
            r"\bwork(?:s|ed|ing)? (?:on its own|independently)\b.{0,30}\b(?:students|team|colleagues)\b",
            # someone else delegating (reported use, not the participant's experience)
            rf"\b(?:other )?(?:people|others|lawyers|students|colleagues|co-?workers|someone|somebody|everyone|kids|clients)\b (?:who )?{_gap(2)}(?:use|uses|using|used|would|hand|let|have|get)\b",
            # hypotheticals and declined options
            rf"\b(?:it|that) would (?:be|help)\b|\bi could (?:just )?(?:ask|have|get|use|let)\b|\b(?:interested in|thinking about|considering) (?:using|having|letting)\b",
            # checking independently of the AI
            rf"\b(?:confirm|check|verify|look\w* up|compare)\w* {_gap(4)}independently\b|\bindependently of\b",
            r"\b(?:myself|by hand)\b",
        ),
    ),
    "verifies_output": Cues(
        positive=(
            r"\bdouble[- ]?check\w*",
            r"\b(?:fact|cross|sanity)[- ]?check\w*",
            r"\bcross[- ]?referenc\w*",
            r"\bverif(?:y|ies|ied|ying|ication)\b",
            r"\bvalidat\w*",
            r"\bproof-?read\w*",
            rf"\b(?:check|checks|checking|checked|review|reviews|reviewing|reviewed|skim|skims|skimming|skimmed|test|tests|testing|tested|edit|edits|editing|edited|scrutini[sz]e|examine|examining|examined|audit|vet|vetting|vetted|compare|compared|comparing|confirm|confirms|confirming|confirmed) {_gap(3)}(?:over |through |against )?{OUTPUT}",
            rf"\b(?:go|goes|going|went|read|reads|reading|look|looks|looking|looked|comb|combing) (?:over|through) {_gap(2)}{OUTPUT}",
            r"\b(?:run|runs|ran|running|execute|executed|executing) (?:the |its |that |this |their |a )?(?:code|scripts?|functions?|programs?|tests?)\b",
            rf"\b(?:adapt|adjust|tweak|rewrite|rework|modify|change|fix|correct|amend|revise)\w* {_gap(3)}(?:the |its |that |this )?(?:response|output|draft|what (?:it|the ai|ai) (?:wrote|gave|produced|generated|says|said|suggested))\b",
            r"\b(?:my own|final|last|personal) (?:changes|edits|tweaks|touches|adjustments|review|check)\b",
            r"\b(?:heavy|heavily|light|lightly|some|a lot of|substantial|significant|minor|major|personal|my own) (?:editing|edits|edit|tweaking|tweaks|revision|revisions)\b",
            rf"{NOT} {_gap(3)}(?:blindly|at face value|without (?:checking|verifying|reviewing|reading|testing|looking)|copy(?:ing)?(?: and |-)paste|just accept|100%|fully trust|trust (?:it|ai|the output|what it|its answers?) (?:blindly|completely|fully|without))",
            rf"\b(?:make|making) sure {_gap(4)}(?:accurate|correct|right|true|valid|works|makes sense|no hallucinations|no errors|no mistakes)\b",
            r"\b(?:follow(?:ed|ing)? up on|look(?:ed|ing)? up|research(?:ed|ing)?|google[ds]?|googling) (?:the |any |all )?(?:sources|citations|references|links|claims|facts|papers|it|them|elsewhere|myself)\b",
            r"\bwith a (?:grain|pinch) of salt\b",
            r"\b(?:compile|compiles|compiled|recompile)\b",
            rf"\bsee (?:if|whether) {_gap(3)}(?:works?|correct|accurate|right|makes sense)\b",
            # editing what it gives (TAXONOMY: "edits AI output before relying on it")
            r"\b(?:tweak|tweaks|tweaking|tweaked|tinker\w*)\b",
            r"\b(?:make|makes|making|made) (?:some |a few |any |small |minor |my own |the )?(?:changes|edits|adjustments|tweaks|corrections)\b",
        ),
        negative=(
            WISH,
            # testing the tool itself, or someone else editing
            rf"\btest\w* (?:its|it{APOS}s|the ai{APOS}?s?|the tool{APOS}?s?) (?:capabilit|limit|abilit)\w*",
            r"\bsomeone else\b",
            rf"\b(?:don{APOS}t|do not|didn{APOS}t|never|rarely|not|no need to|don{APOS}t need to|without) {_gap(1)}(?:check|verify|review|double[- ]check|proofread|edit|test)\w*\b",
            r"\b(?:students?|pupils?) (?:\w+ ){0,3}(?:check|verify|review)\b",
        ),
    ),
    "reliability_concern": Cues(
        positive=(
            r"\bhallucinat\w*",
            rf"\bmak(?:e|es|ing) {_gap(2)}(?:stuff|things|facts|citations|references|sources|numbers|quotes|answers|information|details)? ?up\b",
            r"\bmade[- ]up\b",
            r"\b(?:invent\w*|fabricat\w*|fake|bogus|nonexistent|non-existent|fictional) (?:\w+ )?(?:sources?|citations?|references?|facts?|papers?|quotes?|studies|data|information|answers?|details|functions?|libraries|links?)\b",
            r"\b(?:wrong|incorrect|inaccura\w*|false|erroneous|misleading|outdated|out of date|untrue|not (?:always |entirely |100% |fully |completely |very |quite )?(?:accurate|correct|right|true|reliable|trustworthy|factual))\b",
            r"\bmisinformation\b",
            r"\bunreliab\w*|\bunderpendab\w*|\bundependab\w*|\buntrustworth\w*",
            r"\binconsisten\w*",
            rf"\b(?:it|ai|the ai|they|llms?|models?|chat ?gpt|claude|gemini|copilot|the tools?) {_gap(2)}(?:makes?|made|making|has|have|had|get|gets|got|gives?|gave|produces?|produced) {_gap(2)}(?:mistakes?|errors?|things wrong|it wrong|bugs)\b",
            rf"\b(?:can{APOS}?t|cannot|don{APOS}t|do not|not|never|wouldn{APOS}t|won{APOS}t) {_gap(1)}(?:fully |always |completely |blindly |100% |entirely |totally |really )?(?:trust|rely on|depend on|count on|take (?:it|its|what) \w* ?at face value)\b",
            r"\b(?:accuracy|reliability|trust(?:worthiness)?) (?:is|are|was|remains|has been) (?:\w+ )?(?:an? )?(?:issue|concern|problem|worry|barrier|question)\b",
            r"\b(?:concerns?|worr\w*|issues?|problems?) (?:about|with|over|around) (?:the )?(?:accuracy|reliability|hallucinat\w*|errors?|mistakes?|trust)\b",
            r"\bconfident(?:ly)? (?:wrong|incorrect|false)\b",
            r"\bsounds? (?:plausible|confident|right|convincing)\b",
            r"\bwith a (?:grain|pinch) of salt\b",
            r"\bmak(?:e|es|ing) (?:a lot of |many |some |lots of |basic |simple |silly |obvious )?(?:mistakes|errors)\b",
        ),
        negative=(
            rf"\b(?:my|fewer|less|catch\w*|spot\w*|correct\w*|fix\w*|find\w*|point\w* out|flag\w*|check(?:s|ing)? for) {_gap(2)}(?:own )?(?:mistakes|errors|typos|bugs|inaccuracies)\b",
            r"\b(?:grammar|grammatical|spelling|typo|syntax|punctuation) (?:errors?|mistakes?)\b",
            rf"\b(?:never|rarely|hardly|seldom|not|no|haven{APOS}t|hasn{APOS}t|don{APOS}t|doesn{APOS}t|didn{APOS}t) {_gap(2)}(?:hallucinat\w*|wrong|inaccura\w*|made[- ]up|mistakes?|errors?|issues? with accuracy|problems? with accuracy)",
            r"\b(?:right or wrong|wrong with|nothing wrong|wrong way|went wrong in my)\b",
            r"\b(?:students?|my kids|children|people|humans?|i|we|colleagues) (?:\w+ )?(?:make|made|get) (?:\w+ )?(?:mistakes|errors|wrong)\b",
        ),
    ),
    "time_savings": Cues(
        positive=(
            rf"\bsav(?:e|es|ed|ing) {_gap(4)}(?:time|hours|minutes|days|weeks|effort)\b",
            r"\btime[- ]?sav\w*",
            r"\b(?:faster|quicker|speed(?:s|ed)? (?:\w+ )?up|sped (?:\w+ )?up|speedier)\b",
            r"\b(?:more|very|extremely|super|so|really|much) (?:productive|efficient)\b",
            r"\b(?:efficien(?:cy|t|tly)|productiv(?:e|ity))\b",
            r"\b(?:in|by) half\b",
            rf"\b(?:cut|cuts|cutting|reduce[sd]?|reducing|shave[sd]?|shaving|slash\w*|trim\w*) {_gap(3)}(?:time|hours|minutes|workload)\b",
            rf"\bfree[sd]? (?:up )?{_gap(2)}time\b",
            r"\bin (?:a )?(?:fraction|matter) of (?:the )?(?:time|minutes|seconds)\b",
            r"\b(?:minutes|seconds|an hour|hours) (?:instead of|rather than|compared to|vs\.?|versus|as opposed to)\b",
            r"\b(?:quickly|quick|instantly|immediately|in seconds|in minutes)\b",
            r"\bstreamlin\w*",
            r"\b(?:takes|took|take) (?:much |far |a lot )?less time\b",
            r"\bhead start\b",
        ),
        negative=(
            WISH,
            rf"\b(?:doesn{APOS}t|does not|didn{APOS}t|did not|won{APOS}t|isn{APOS}t|wasn{APOS}t|not|never|no) {_gap(2)}(?:save|saving|faster|quicker|efficient|productive|time[- ]?sav\w*)",
            r"\b(?:waste|wasted|wasting|lose|losing|lost) (?:\w+ )?(?:time|hours)\b",
            r"\b(?:took|takes|spent|spend|spending) (?:\w+ ){0,2}(?:longer|more time)\b",
            r"\bquick (?:question|note|search|look|google|glance|skim)\b",
        ),
    ),
    "quality_improvement": Cues(
        positive=(
            rf"\b(?:more|better|higher|improv\w*|greater) {_gap(1)}(?:professional|polished|clear|clearer|concise|quality|readable|accurate|structured|organi[sz]ed|coherent|engaging|persuasive|detailed|thorough|consistent|precise|cohesive|articulate|refined)\b",
            r"\b(?:clearer|crisper|cleaner|tighter|stronger|smoother|sharper)\b",
            r"\b(?:higher|better|improved|great|excellent|top|high)[- ]quality\b",
            rf"\bimprov(?:e|es|ed|ing|ement) {_gap(3)}(?:quality|writing|work|code|clarity|flow|tone|grammar|emails?|output|structure|readability|wording|phrasing|results?|reports?|communication|my)\b",
            rf"\bbetter {_gap(1)}(?:results?|work|writing|output|code|product|version|emails?|reports?|job|ideas|articles?|answers?|outcomes?|feedback)\b",
            rf"\b(?:make|makes|made|making) {_gap(3)}(?:better|sound better|read better|look better|more professional|clearer)\b",
            rf"\b(?:catch|catches|caught|spot|spots|spotted|find|finds|found|point\w* out|pick\w* up|flag\w*) {_gap(3)}(?:mistakes|errors|typos|things i|issues|what i|inconsistencies|gaps|something i|anything i|bugs)\b",
            r"\b(?:fewer|less) (?:mistakes|errors|typos|bugs)\b",
            # grammar/spelling only when something is checked, corrected or improved (not "grammar points")
            r"(?:check\w*|correct\w*|fix\w*|improv\w*|clean\w*|perfect\w*|better|edit\w*|review\w*|clarity)\b.{0,30}\b(?:grammar|spelling)\b|\b(?:grammar|spelling)\b.{0,30}\b(?:check\w*|correct\w*|fix\w*|edit\w*|errors?|mistakes?|perfect)",
            # "it catches things I miss" (TAXONOMY)
            rf"\bthings? (?:that )?(?:i|we) {_gap(2)}(?:miss|missed|overlook\w*|didn{APOS}t (?:catch|notice|see|spot)|did not (?:catch|notice|see|spot))\b|\b(?:i|we|one) (?:might|may|would|could) (?:have )?(?:miss|missed|overlook\w*|not (?:immediately )?think of)\b",
            r"\bfor (?:clarity|readability|flow|tone|accuracy|conciseness)\b",
            r"\bbetter than (?:me|i|what i|my|anything i|i had|i could)\b|\bsuperior\b",
            r"\b(?:right|better|more professional|appropriate) tone\b",
            r"\bproofread\w*",
            r"\bpolish\w*",
            r"\b(?:tidy\w* (?:\w+ )?up|clean\w* (?:\w+ )?up)\b",
            rf"\bbetter (?:wording|phrasing|ways? (?:to|of) (?:phrase|phrasing|word|say|express))\b|\b(?:improv\w*|refin\w*|tighten\w*|polish\w*) {_gap(2)}(?:the |my )?(?:wording|phrasing)\b",
            rf"\b(?:sound|sounds|sounding|read|reads|look|looks) {_gap(1)}(?:more |better|professional|smoother|polished|cleaner)\b",
            rf"\b(?:elevat|enhanc|strengthen|upgrad)\w* {_gap(2)}(?:the |my |our |their )?(?:work|writing|quality|output|content|code|emails?|reports?|images?|photos?|pictures?|drafts?|text|articles?|posts?|presentations?|communications?|ideas|lessons?|designs?)\b",
            r"\bgood to great\b",
            r"\b(?:praise\w*|compliment\w*) (?:on|for) (?:the |my |its )?(?:quality|work|writing)\b|\bwell[- ]received\b|\bimpressed (?:with|by) (?:the |its |how )?(?:quality|writing|output|work)\b",
        ),
        negative=(
            WISH,
            rf"{NOT} {_gap(2)}(?:better|improv\w*|more professional|clearer|higher quality)\b",
            r"\b(?:worse|lower) quality\b",
            # the gain comes from the participant's own work, not from AI
            r"\b(?:myself|by hand|on my own|without (?:ai|it|using ai))\b",
            r"\bmore like me\b",
            # finding errors while testing or checking is verification, not better output
            rf"\b(?:test|tests|testing|check|checks|checking|review|reviewing|verify|verifying)\b {_gap(4)}(?:to )?(?:catch|spot|find)\b",
        ),
    ),
    "frustration_with_limits": Cues(
        positive=(
            r"\b(?:frustrat\w*|annoy\w*|irritat\w*|disappoint\w*|infuriat\w*|aggravat\w*|exasperat\w*|maddening|tedious|a pain\b|hassle|letdown|let down)",
            rf"\b(?:ignor\w*|disregard\w*|doesn{APOS}t follow|didn{APOS}t follow|does not follow|did not follow|not follow\w*|won{APOS}t follow|deviat\w*) {_gap(3)}(?:instructions?|prompts?|what i (?:asked|said|wanted|told)|requests?|directions?|rules?)\b",
            rf"\b(?:it|ai|the ai|they|models?|llms?|chat ?gpt|claude|gemini|copilot)\b {_gap(3)}(?:forget|forgets|forgot|forgetting|los(?:e|es|t|ing) (?:track|context|the thread)|doesn{APOS}t remember|didn{APOS}t remember|not remember\w*)\b",
            r"\b(?:los(?:e|es|t|ing) (?:the )?context|memory (?:issues?|problems?|is (?:poor|bad|limited)))\b",
            r"\b(?:generic|bland|cookie[- ]cutter|robotic|repetitive|formulaic|clich\w*|soulless|samey|vague|superficial|shallow|surface[- ]level|boilerplate)\b",
            r"\bsame (?:wrong )?(?:answer|thing|response|solution|mistake)s? (?:over|again)\b",
            rf"\b(?:it|ai|the ai|they|models?|llms?|chat ?gpt|claude|gemini|copilot|the tools?)\b {_gap(2)}(?:can{APOS}?t|cannot|couldn{APOS}t|could not|doesn{APOS}t|didn{APOS}t|does not|did not|won{APOS}t|wouldn{APOS}t|fails?|failed|struggles?|struggled|isn{APOS}t|wasn{APOS}t) {_gap(2)}(?:understand|follow|listen|work|get it|grasp|capture|handle|produce|give me what|do (?:it|this|that|what)|good|great|helpful|useful|able|capable|quite|seem to|access|read|know)\b",
            r"\b(?:not (?:very |that |really |particularly |always |quite )?(?:helpful|useful|good at|great at|capable)|useless|unhelpful|bad at|terrible at|poor (?:job|at|quality)|not there yet|hit or miss|hit-or-miss|falls? short|fell short)\b",
            r"\b(?:limitations?|limits|shortcoming\w*|weakness\w*|drawbacks?|downsides?)\b",
            r"\b(?:is|are|was|were|pretty|quite|very|still|so|too|extremely|fairly|rather) limited\b",
            r"\b(?:going|go|went|goes) (?:a?round|round) in circles\b",
            r"\bg(?:a|i)ve up\b",
            rf"\bwast(?:e|ed|es|ing) {_gap(2)}(?:time|hours|effort)\b",
            rf"\b(?:took|takes|take|spent|spend|spending) {_gap(3)}(?:longer|more time|ages|forever|hours)\b",
            r"\beasier (?:to|if i) (?:just )?(?:do|write|fix) (?:it|them|that|this) (?:myself|manually|by hand)\b",
            r"\b(?:off (?:course|track|topic)|misunderst\w*|misinterpret\w*|missed the point|not what i (?:wanted|asked|needed))\b",
            r"\b(?:overly|too) (?:verbose|wordy|long|bubbly|positive|agreeable|supportive|sycophantic|flattering|cautious|formal|complicated)\b",
            r"\b(?:sycophan\w*|glitch\w*|crash\w*|buggy|clunky|rate limit\w*|paywall\w*|(?:usage|message) limits?)\b",
            r"\bshelved\b",
            r"\bobvious (?:ai )?(?:writing )?style\b",
        ),
        negative=(
            rf"(?:\bnever|\bnot|\bhaven{APOS}t|\bhasn{APOS}t|\bdon{APOS}t|\bno\b|\brarely|\bhardly|\brare) {_gap(5)}(?:frustrat\w*|annoy\w*|disappoint\w*|limit\w*|issues|problems)",
            r"\b(?:common weakness|security flaws?)\b",
            r"\bwithout limit",
            r"\b(?:word|character|time|page) limits?\b",
            r"\blimited (?:time|budget|resources|number)\b",
            WISH,
        ),
    ),
    "keeps_tasks_human": Cues(
        positive=(
            rf"\b(?:prefer|like|want|rather|choose|chose|insist|try|tend|make a point|make sure|enjoy|love|decide|decided|always) {_gap(3)}(?:to )?(?:do|write|handle|keep|make|draft|create|decide|grade|design|compose|edit|think|work|come up with|solve|figure|craft|read) {_gap(5)}{MYSELF}",
            rf"\b(?:i|we) (?:only |always |still |usually |generally |mostly |prefer to |like to |rather )?(?:do|write|handle|make|draft|create|decide|grade|design|compose|edit|craft|solve) {_gap(4)}(?:myself|by hand|manually|on my own|ourselves)\b",
            rf"\b(?:never|won{APOS}t|wouldn{APOS}t|don{APOS}t|do not|refuse to|avoid|would not|will not|not) {_gap(2)}(?:use|let|have|ask|rely on|get|trust|allow|want|hand|give) (?:ai|it|chat ?gpt|claude|an ai|the ai|llms?|ai tools?) {_gap(4)}(?:for|to|with|write|do|make|create|generate|decide|handle|take over|touch|anywhere near)\b",
            r"\b(?:boundar\w*|draw (?:a|the) line|(?:set|have) (?:a |some )?(?:rules?|limits?)|line in the sand)\b",
            r"\b(?:my (?:own )?voice|my own words|personal touch|authentic\w*|my own creativity)\b",
            rf"\b(?:rather than|instead of|not) {_gap(1)}(?:relying on|using|asking|letting|defer\w* (?:totally |entirely |completely )?to) (?:ai|it|the ai|chat ?gpt)\b",
            r"\bonly (?:ever )?(?:use|used|using) (?:ai|it|chat ?gpt|claude|the ai|ai tools) (?:for|to|when|as|in)\b",
            rf"\b(?:final|creative|key|important|big) (?:say|decisions?|call|choices?|judg\w*) {_gap(3)}(?:mine|me|my own|myself|with me|human)\b",
            rf"\b(?:am|i{APOS}m|stay|remain|keep) {_gap(2)}(?:in control|in charge|driving|the driver|in the driver{APOS}s seat|steering|leading)\b",
            rf"\b(?:i|we) (?:\w+ )?(?:steer|drive|lead|control) {_gap(2)}(?:the )?(?:process|creative|direction|decisions|ideas|writing|story)\b",
            r"\b(?:reluctant|hesitant|resistant|wary|cautious|nervous) (?:to|about) (?:use|using|trust|trusting|let|letting|hand|handing|give|giving|rely)\b",
            rf"\b(?:keep|keeps|keeping|kept) {_gap(2)}(?:ai|it) (?:out|away)\b",
            r"\bwithout (?:using )?(?:ai|any ai)\b",
            r"\b(?:myself|my own|manually|by hand)\b.{0,40}\b(?:prefer|rather|enjoy|like to|want to)\b",
            rf"\bdon{APOS}t want to (?:give up|lose|hand over|outsource)\b",
        ),
        negative=(
            rf"\beasier {_gap(2)}(?:to|if i) (?:just )?(?:do|write|fix) (?:it|them|that|this)?\b",
            rf"\b(?:because|since|as|when) (?:it|ai|the ai) (?:can{APOS}?t|couldn{APOS}t|cannot|doesn{APOS}t|didn{APOS}t|failed|fails|isn{APOS}t able|wasn{APOS}t able)\b",
            r"\bg(?:a|i)ve up\b",
            r"\b(?:students?|pupils?|kids|children)\b.{0,40}\b(?:not allowed|can't|cannot|shouldn't|should not)\b",
        ),
    ),
    "policy_privacy_constraint": Cues(
        positive=(
            SENSITIVE,
            rf"\b(?:company|companies|employer|university|school|firm|organi[sz]ation|institution|workplace|department|management|district|it department|government|hospital|agency|office|boss|client|clients)(?:{APOS}s|s)? {_gap(3)}{RULES}",
            rf"{RULES} {_gap(4)}(?:ai|chat ?gpt|llms?|genai|gen ai|chatbots?|(?:ai )?tools?|models?|use of)\b",
            rf"\b(?:put|upload|uploading|input|inputting|enter|entering|share|sharing|feed|feeding|paste|pasting|give|giving|divulg\w*|disclos\w*|expos\w*) {_gap(4)}(?:client|customer|patient|student|company|personal|sensitive|confidential|private|internal|proprietary|work|identifying|real) {_gap(1)}(?:data|information|info|details|names|code|documents|files|material)\b",
            r"\bfirst names? only\b",
            rf"\b(?:not allowed to|isn{APOS}t allowed|aren{APOS}t allowed|not permitted to|forbidden to|prohibited from|banned from) (?:use|put|upload|input|share|enter|using)\b",
        ),
        negative=(
            rf"{NOT} {_gap(3)}(?:concern\w*|worried|issues?|problems?|polic(?:y|ies)|restrictions?|rules|guidelines)\b",
            r"\b(?:students?|pupils?|kids) (?:are|aren't|aren’t|is|isn't|isn’t) (?:not )?(?:allowed|permitted)\b",
            r"\b(?:academic (?:dishonesty|integrity|misconduct)|course policy)\b",
            r"\b(?:job|financial|sense of) security\b",
            rf"\b(?:can{APOS}?t|cannot) (?:share|discuss|go into|say|talk about|disclose)\b.{{0,60}}\b(?:nda|details|specifics)\b",
        ),
    ),
    "oversight_role_future": Cues(
        positive=(
            r"\b(?:overse\w*|oversight|supervis(?:e|ing|ory|or role)|orchestrat\w*|wrangl\w*|steward\w*|gatekeep\w*|quality control|human in the loop|in the loop)\b",
            rf"\b(?:manag\w*|direct\w*|guid\w*|instruct\w*|monitor\w*|supervis\w*|oversee\w*|orchestrat\w*|run|running|lead|leading|coordinat\w*) {_gap(2)}(?:the |an |multiple |several |these |many )?(?:ai|ais|agents?|models?|llms?|bots?|its (?:output|work))\b",
            r"\b(?:prompt engineer\w*|prompting roles?|ai[- ]specific skills|ai (?:space|field|industry|roles?|jobs?)|automation (?:coding|engineering)|more of an? (?:editor|reviewer|manager|supervisor|director|overseer|curator|conductor|checker|quality control))\b",
            rf"\b(?:move|moving|transition\w*|pivot\w*|shift\w*|switch\w*|retrain\w*) {_gap(2)}(?:in)?to (?:ai|automation|prompting|machine learning|the ai|an ai|ai[- ]related)\b",
            rf"\b(?:someone|a human|humans|people|we) {_gap(2)}(?:will )?(?:need|needs|have|has|must) (?:to )?(?:check|fix|review|oversee|monitor|verify|guide|manage|direct|supervise|correct)\b",
            r"\b(?:higher[- ]level|high[- ]level) (?:instructions|direction|decisions|thinking|tasks)\b",
            r"\b(?:ai|it) (?:will )?(?:still )?need\w* [\"'“‘]?(?:me|us|humans|people|a human)\b",
            r"\bwork(?:ing)? in (?:the )?ai\b",
            # running or moving to AI agents
            rf"\b(?:using|use|run|running|with|to) (?:[^\s.!?]+\s+){{0,1}}agents\b",
            rf"\bskills? (?:of|in|for|at) {_gap(1)}(?:guid|direct|manag|prompt|orchestrat|steer)\w*",
        ),
        require=(
            _any(
                r"\bwill\b", rf"{APOS}ll\b", r"\bgoing to\b", r"\bfuture\b", r"\beventually\b", r"\bsee myself\b",
                r"\bexpect\w*\b", r"\bhope\b", r"\bplan\w*\b", r"\bmore (?:and more|about|of)\b", r"\bshift\w*\b",
                r"\bbecom\w*\b", r"\bgoing forward\b", r"\bmoving forward\b", r"\bahead of the curve\b", r"\bstay ahead\b",
                rf"\bnew {_gap(1)}(?:team|role|job|roles|jobs|skills?)\b", r"\btransition\w*\b", r"\bone day\b", r"\bsomeday\b",
                r"\bin (?:a few|five|ten|\d+) years\b", r"\bwould be happy\b",
                # wanting or planning to move into such work counts (TAXONOMY)
                rf"\bwant(?:s|ed)? to\b", rf"\b(?:would|i{APOS}?d) like to\b", r"\bconsider\w*", r"\bpursu\w*", r"\bat some point\b",
                r"\binterested in\b", r"\bdevelop\w*", r"\bgoing forward\b",
            ),
        ),
        negative=(
            rf"{NOT} {_gap(2)}(?:see myself|want|plan|expect|interested)\b",
            r"\b(?:students?|kids|children|pupils)\b",
            r"\b(?:my|our) (?:supervisor|manager|boss|lab ?mates?)\b",
        ),
    ),
}


# --------------------------------------------------------------------------- #
# Reference expressions (the v1 semantics; kept for the tests that compare the fast matcher with them)
# --------------------------------------------------------------------------- #
def _pattern(alternatives: tuple[str, ...]) -> str:
    """One case-insensitive regex matching any of ``alternatives``."""
    return "(?i)" + _any(*alternatives)


def _hit_expr(cues: Cues, sentence: pl.Expr) -> pl.Expr:
    """True where ``sentence`` carries the theme (positive [and require], no veto), v1 style."""
    hit = sentence.str.contains(_pattern(cues.positive))
    if cues.require:
        hit = hit & sentence.str.contains(_pattern(cues.require))
    if cues.negative:
        hit = hit & ~sentence.str.contains(_pattern(cues.negative))
    return hit


def reference_sentence_hits(sentences: pl.LazyFrame) -> pl.LazyFrame:
    """v1 matching (original text, Unicode regexes): one Boolean column per flag. Slow; for tests."""
    sentence = pl.col("sentence")
    return sentences.with_columns(_hit_expr(LEXICON[flag], sentence).alias(flag) for flag in THEME_FLAGS)


def _quote_expr(cues: Cues, sentence: pl.Expr) -> pl.Expr:
    """The sentence itself, or a window of at most ``MAX_QUOTE_CHARS`` around the match."""
    ctx = _QUOTE_CONTEXT_CHARS
    window = sentence.str.extract(rf"(?i)(.{{0,{ctx}}}{_any(*cues.positive)}.{{0,{ctx}}})", 1)
    long_quote = window.str.slice(0, MAX_QUOTE_CHARS).str.strip_chars()
    return (
        pl.when(sentence.str.len_chars() <= MAX_QUOTE_CHARS)
        .then(sentence)
        .otherwise(pl.coalesce(long_quote, sentence.str.slice(0, MAX_QUOTE_CHARS)))
    )


# --------------------------------------------------------------------------- #
# Fast matching: normalised ASCII haystack, rewritten cues, literal prefilter
# --------------------------------------------------------------------------- #
_ASCII = r"\x00-\x7f"


def normalize_for_matching(text: pl.Expr) -> pl.Expr:
    """The copy cues are matched on: ’ ‘ -> ', “ ” -> ", other non-ASCII -> blank, then lowercase.

    Every character maps to exactly one ASCII character, so a character offset in the copy is
    the same offset in the original (and, the copy being ASCII, also its byte offset). Pure
    ASCII text (most sentences) skips the replacements.
    """
    text = text.fill_null("")
    asciified = text.str.replace_many(["’", "‘", "“", "”"], ["'", "'", '"', '"']).str.replace_all(r"[^\x00-\x7f]", " ")
    return pl.when(text.str.contains(r"[^\x00-\x7f]")).then(asciified).otherwise(text).str.to_lowercase()


def ascii_regex(pattern: str) -> str:
    """``pattern`` (a lowercase cue, matched case-insensitively) rewritten for a normalised haystack.

    ``\\b \\w \\s \\d`` become their ASCII forms, every ``[...]`` class is intersected with
    ASCII (so ``['’]`` becomes ``[']``) and ``.`` becomes ``[\\x00-\\x7f]``. On a lowercased
    ASCII haystack the result matches exactly where the original matched the original text,
    without case folding, and it keeps the regex engine on its fast DFA.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            esc = pattern[i : i + 2]
            out.append(f"(?-u:{esc})" if esc in (r"\b", r"\w", r"\s", r"\d") else esc)
            i += 2
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            body = "".join(ch for ch in pattern[i : j + 1] if ord(ch) < 128)
            out.append(f"[{_ASCII}&&{body}]")
            i = j + 1
        elif c == ".":
            out.append(f"[{_ASCII}]")
            i += 1
        else:
            if c.isupper():
                raise ValueError(f"lexicon cues must be lowercase: {pattern!r}")
            out.append(c)
            i += 1
    return "".join(out)


_LITERAL_SET_LIMIT = 256


def _literal_info(items) -> tuple[set[str] | None, set[str] | None]:
    """(exact, required) for a parsed regex sequence.

    ``exact``: every string the sequence can match, when that is a small finite set; ``required``:
    strings one of which is a substring of every match (``None``: no such guarantee).
    """
    cands: list[set[str]] = []
    run: set[str] | None = {""}
    whole = True
    for op, av in items:
        exact, required = _item_literals(op, av)
        if required and op not in (_re_parser.LITERAL, _re_parser.IN):  # single characters: the run covers them
            cands.append(required)
        if exact is not None and run is not None and len(run) * len(exact) <= _LITERAL_SET_LIMIT:
            run = {a + b for a in run for b in exact}
        else:
            whole = False
            if run is not None:
                cands.append(run)
            run = set(exact) if exact is not None else None
    if run is not None:
        cands.append(run)
    usable = [s for s in cands if s and "" not in s]
    best = max(usable, key=_selectivity) if usable else None
    return (run if whole else None), best


def _literal_options(items) -> list[set[str]]:
    """Every literal set one of which every match of a parsed sequence contains (each alone is a
    sound prefilter): the literal runs and the options of each group, alternation (the unions of
    one option per branch, at most ``_OPTION_LIMIT``) or repeated item (at least once)."""
    C = _re_parser
    cands: list[set[str]] = []
    run: set[str] | None = {""}
    for op, av in items:
        exact, _ = _item_literals(op, av)
        if op not in (C.LITERAL, C.IN):
            cands.extend(_item_options(op, av))
        if exact is not None and run is not None and len(run) * len(exact) <= _LITERAL_SET_LIMIT:
            run = {a + b for a in run for b in exact}
        else:
            if run is not None:
                cands.append(run)
            run = set(exact) if exact is not None else None
    if run is not None:
        cands.append(run)
    unique: list[set[str]] = []
    for c in cands:
        if c and "" not in c and c not in unique:
            unique.append(c)
    return unique


def _item_options(op, av) -> list[set[str]]:
    C = _re_parser
    if op is C.SUBPATTERN:
        return _literal_options(av[-1])
    if op is C.BRANCH:
        combos: list[set[str]] = [set()]
        for branch in av[1]:
            options = _literal_options(branch)
            if not options:
                return []
            combos = [a | b for a in combos for b in options][:_OPTION_LIMIT]
        return combos
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
        return _literal_options(av[2])
    return []


_OPTION_LIMIT = 16


# Words so frequent that a literal consisting of one of them selects almost every sentence
# (a fixed list of common English words, not fitted to any data).
_COMMON_WORDS = frozenset(
    "a about all an and are around as ask at be can could did do does ever for get got had has have i in is it "
    "let like make makes may me might more must my need needs no not of on over so that the they this to try use "
    "used uses using very want was we what will with would".split()
)


def _selectivity(literals: set[str]) -> tuple[int, int]:
    """How selective a literal set is as a prefilter: its weakest literal's length (a common word
    counts 2 at most), then fewer literals."""
    return min(min(2, len(x.strip())) if x.strip() in _COMMON_WORDS else len(x.strip()) for x in literals), -len(literals)


def _item_literals(op, av) -> tuple[set[str] | None, set[str] | None]:
    C = _re_parser
    if op is C.LITERAL:
        return {chr(av)}, {chr(av)}
    if op is C.IN:
        chars: set[str] = set()
        for sub_op, sub_av in av:
            if sub_op is C.LITERAL:
                chars.add(chr(sub_av))
            elif sub_op is C.RANGE and sub_av[1] - sub_av[0] <= 10:
                chars.update(chr(x) for x in range(sub_av[0], sub_av[1] + 1))
            else:
                return None, None
        return (chars, chars) if len(chars) <= 10 else (None, None)
    if op is C.AT:
        return {""}, None
    if op is C.SUBPATTERN:
        return _literal_info(av[-1])
    if op is C.BRANCH:
        infos = [_literal_info(branch) for branch in av[1]]
        exact = set().union(*(e for e, _ in infos)) if all(e is not None for e, _ in infos) else None
        if exact is not None and len(exact) > _LITERAL_SET_LIMIT:
            exact = None
        required = set().union(*(r for _, r in infos)) if all(r for _, r in infos) else None
        return exact, required
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):
        lo, hi, sub = av
        exact, required = _literal_info(sub)
        if lo == 0:
            return ({""} | exact if hi == 1 and exact is not None else None), None
        return (exact if lo == hi == 1 else None), required
    return None, None


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Lowercase literals one of which every match of ``pattern`` contains, or None if none are known.

    Derived from the stdlib parser's syntax tree (a literal run, a small class or alternation
    expanded, the most selective factor of a sequence, the union over alternatives). Used only
    as a prefilter: a sentence without any of them cannot match.
    """
    _, required = _literal_info(_re_parser.parse(pattern))
    return None if required is None else _reduced(required)


def _reduced(literals) -> tuple[str, ...]:
    lits = sorted({s.lower() for s in literals}, key=lambda s: (len(s), s))
    kept: list[str] = []
    for s in lits:  # a literal containing a shorter kept one adds nothing
        if not any(k in s for k in kept):
            kept.append(s)
    return tuple(sorted(kept))


def literal_options(pattern: str) -> tuple[tuple[str, ...], ...]:
    """Alternative prefilters for ``pattern``: literal sets one of which (any one) every match
    contains. The first is :func:`required_literals`'s choice; empty if there is none."""
    first = required_literals(pattern)
    if first is None:
        return ()
    options = [first]
    for option in _literal_options(_re_parser.parse(pattern)):
        reduced = _reduced(option)
        if reduced not in options:
            options.append(reduced)
    return tuple(options)


@dataclass(frozen=True)
class _FlagPlan:
    literals: tuple[str, ...] | None  # None: every sentence is a candidate (union over the alternatives)
    positive: str  # all positive cues in one regex (used for quote windows)
    require: str | None
    negative: str | None
    alternatives: tuple[str, ...] = ()  # each positive cue on its own (rewritten by ascii_regex)
    alternative_literals: tuple[tuple[str, ...] | None, ...] = ()  # the prefilter literals of each


@functools.lru_cache(maxsize=1)
def _plans() -> dict[str, _FlagPlan]:
    plans = {}
    for flag in THEME_FLAGS:
        cues = LEXICON[flag]
        per_alternative = tuple(required_literals(alternative) for alternative in cues.positive)
        literals = None if any(found is None for found in per_alternative) else tuple(sorted({x for found in per_alternative for x in found}))
        plans[flag] = _FlagPlan(
            literals=literals,
            positive=ascii_regex(_any(*cues.positive)),
            require=ascii_regex(_any(*cues.require)) if cues.require else None,
            negative=ascii_regex(_any(*cues.negative)) if cues.negative else None,
            alternatives=tuple(ascii_regex(alternative) for alternative in cues.positive),
            alternative_literals=per_alternative,
        )
    return plans


@functools.lru_cache(maxsize=1)
def _alternatives() -> tuple[tuple[int, str], ...]:
    """Every positive cue of every flag as ``(flag index, regex)``; its position is its id."""
    return tuple((i, pattern) for i, flag in enumerate(THEME_FLAGS) for pattern in _plans()[flag].alternatives)


@functools.lru_cache(maxsize=1)
def _options() -> tuple[tuple[tuple[str, ...], ...], ...]:
    """Per alternative (ids as in :func:`_alternatives`), its prefilter options (:func:`literal_options`);
    ``()`` for an alternative without any (it runs on every sentence)."""
    return tuple(literal_options(alternative) for flag in THEME_FLAGS for alternative in LEXICON[flag].positive)


@functools.lru_cache(maxsize=1)
def _option_literals() -> list[str]:
    return sorted({lit for options in _options() for option in options for lit in option})


_SAMPLE_SENTENCES = 10_000


def _literal_table(norm: pl.Series | None = None) -> tuple[list[str], pl.DataFrame, tuple[int, ...]]:
    """(the prefilter literals, ``lid -> aid`` rows, ids of the alternatives without literals).

    ``lid`` is a literal's position in the returned list (its ``pl.Enum`` code), ``aid`` an
    alternative's position in :func:`_alternatives`. Each alternative takes the option of
    :func:`_options` whose literals occur least often in an evenly spaced sample of ``norm``
    (the first option when ``norm`` is None or on ties). Any option gives the same hits; the
    choice only decides how many candidate sentences the regexes see.
    """
    options = _options()
    counts: dict[str, int] = {}
    if norm is not None and norm.len():
        step = max(1, norm.len() // _SAMPLE_SENTENCES)
        sample = norm.gather_every(step)
        found = sample.str.extract_many(_option_literals(), overlapping=True).explode().drop_nulls()
        counts = dict(found.value_counts().iter_rows())
    rows: list[tuple[str, int]] = []
    unfiltered: list[int] = []
    for aid, choices in enumerate(options):
        if not choices:
            unfiltered.append(aid)
            continue
        best = min(range(len(choices)), key=lambda i: (sum(counts.get(lit, 0) for lit in choices[i]), i))
        rows.extend((lit, aid) for lit in choices[best])
    literals = sorted({lit for lit, _ in rows})
    code = {lit: i for i, lit in enumerate(literals)}
    table = pl.DataFrame(
        {"lid": [code[lit] for lit, _ in rows], "aid": [a for _, a in rows]}, schema={"lid": pl.UInt32, "aid": pl.UInt32}
    )
    return literals, table, tuple(unfiltered)


_CHOICE_MIN_SENTENCES = 2_000  # a sample at least this big fixes the literal choice for the process
_chosen: tuple[list[str], pl.DataFrame, tuple[int, ...]] | None = None


def _chosen_literal_table(norm: pl.Series) -> tuple[list[str], pl.DataFrame, tuple[int, ...]]:
    """:func:`_literal_table`, chosen once per process from the first input with enough sentences.

    The choice only decides how much work the regexes get, never the hits, so later calls (the
    core flags batch after batch) reuse it instead of paying the sampling pass each time.
    """
    global _chosen
    if _chosen is not None:
        return _chosen
    table = _literal_table(norm)
    if norm.len() >= _CHOICE_MIN_SENTENCES:
        _chosen = table
    return table


# A sentence boundary, for the fast splitter: a terminator run at the start of a line that is
# followed by a blank (or the end) and so can never start a sentence (dropped), the blank after a
# terminator run (the run stays with its sentence), or a line break.
_BOUNDARY = r"(?m)^[.!?]+(?:\s|$)|([.!?]+)\s|\n"
_SEP = "\x00"


def _sentence_lists(text: pl.Expr) -> pl.Expr:
    """Each text's sentences (unstripped; may hold blank pieces), the same as ``SENTENCE_PATTERN``'s matches
    once stripped and blank ones dropped. Texts holding a NUL character must not be passed."""
    return text.str.replace_all(_BOUNDARY, "${1}" + _SEP).str.split(_SEP)


_PARALLEL_ROWS = 20_000  # inputs at least this long are cut in two halves run on the thread pool side by side


def _halves(n: int) -> list[tuple[int, int]]:
    """``(offset, length)`` pieces of ``range(n)``: two halves for long inputs, else one piece."""
    return [(0, n // 2), (n // 2, n - n // 2)] if n >= _PARALLEL_ROWS else [(0, n)]


def _split_query(turns: pl.DataFrame) -> pl.LazyFrame:
    text = pl.col("text").fill_null("")
    if not turns.select(text.str.contains(_SEP, literal=True).any()).item():
        lists = turns.lazy().select("transcript_id", "turn_index", _sentence_lists(text).alias("sentence"))
    else:
        numbered = turns.lazy().with_row_index("_row").with_columns(text.str.contains(_SEP, literal=True).alias("_nul"))
        lists = pl.concat(
            [
                numbered.filter(~pl.col("_nul")).select("_row", "transcript_id", "turn_index", _sentence_lists(text).alias("sentence")),
                numbered.filter(pl.col("_nul")).select("_row", "transcript_id", "turn_index", text.str.extract_all(SENTENCE_PATTERN).alias("sentence")),
            ]
        ).sort("_row").drop("_row")
    return (
        lists.explode("sentence")
        .with_columns(pl.col("sentence").str.strip_chars())
        .filter(pl.col("sentence").str.len_bytes() > 0)
        .with_columns(pl.col("sentence").str.to_lowercase().alias("norm"))
    )


def _split_turns(turns: pl.DataFrame) -> pl.DataFrame:
    """``transcript_id, turn_index, sentence, norm``: one row per non-blank sentence, in the order of
    ``turns``; ``norm`` is ``normalize_for_matching(sentence)``.

    One replace (a boundary becomes a NUL) and a literal split instead of ``str.extract_all``; a turn
    whose text holds a NUL already takes ``extract_all`` (identical results, see the tests).
    """
    pieces = [turns.slice(offset, length) for offset, length in _halves(turns.height)]
    sentences = pl.concat(pl.collect_all([_split_query(piece) for piece in pieces]))
    return sentences.with_columns(_fix_wide(sentences.get_column("sentence"), sentences.get_column("norm")))


def _fix_wide(sentence: pl.Series, lowered: pl.Series) -> pl.Series:
    """``lowered`` (the lowercased ``sentence``) with the values whose sentence is not ASCII replaced by
    ``normalize_for_matching`` of it: the replacements run only there."""
    wide = (sentence.str.len_bytes() != sentence.str.len_chars().cast(pl.UInt32)).arg_true()
    if wide.len():
        fixed = sentence.gather(wide).to_frame("s").select(normalize_for_matching(pl.col("s"))).to_series()
        lowered = lowered.scatter(wide, fixed)
    return lowered.rename("norm")


def _normalized(sentence: pl.Series) -> pl.Series:
    """``normalize_for_matching`` of a column, computing the replacements only where a value is not ASCII."""
    return _fix_wide(sentence, sentence.str.to_lowercase())


def participant_sentences(turns: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """One row per non-blank sentence of a participant turn, in reading order.

    Columns: ``transcript_id, turn_index (Int32), sentence_index (Int32), sentence``.
    Sentences are stripped of surrounding blanks but otherwise verbatim.
    """
    ordered = (
        turns.lazy()
        .filter(pl.col("speaker") == "participant")
        .select("transcript_id", pl.col("turn_index").cast(pl.Int32), "text")
        .sort("transcript_id", "turn_index", maintain_order=True)
        .collect()
    )
    return (
        _split_turns(ordered)
        .drop("norm")
        .lazy()
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over("transcript_id", "turn_index").alias("sentence_index"))
        .select("transcript_id", "turn_index", "sentence_index", "sentence")
    )


def _hits(norm: pl.Series) -> pl.DataFrame:
    """``sid`` (row of ``norm``, UInt32) and ``flag`` (index into THEME_FLAGS, UInt32) of every hit, unordered.

    1. One Aho-Corasick pass lists, per sentence, the prefilter literals it contains; each literal
       maps to the positive cues (*alternatives*) that need it (:func:`_literal_table`).
    2. Each alternative's regex runs only on its candidate sentences (a cue on its own keeps the
       regex engine fast; one big alternation per flag made it fall off its DFA).
    3. A flag's ``require`` and ``negative`` regexes run only on its positive sentences.

    Independent pieces (the halves of the Aho-Corasick pass, the regexes) are lazy queries run
    together by ``pl.collect_all``, so both cores work.
    """
    empty = pl.DataFrame(schema={"sid": pl.UInt32, "flag": pl.UInt32})
    if norm.len() == 0:
        return empty
    literals, table, unfiltered = _chosen_literal_table(norm)
    alternatives = _alternatives()
    codes = pl.Enum(literals)

    def candidates(offset: int, length: int) -> pl.LazyFrame:
        return (
            norm.slice(offset, length)
            .to_frame("norm")
            .lazy()
            .with_row_index("sid", offset=offset)
            .select("sid", pl.col("norm").str.extract_many(literals, overlapping=True).alias("lit"))
            .explode("lit")
            .drop_nulls("lit")
            .select("sid", pl.col("lit").cast(codes).to_physical().alias("lid"))
            .join(table.lazy(), on="lid")
            .group_by("aid")
            .agg(pl.col("sid").unique())
        )

    found = pl.concat(pl.collect_all([candidates(o, n) for o, n in _halves(norm.len())]))
    found = found.group_by("aid").agg(pl.col("sid").explode())
    every = pl.int_range(norm.len(), dtype=pl.UInt32, eager=True)
    work = [(int(a), s) for a, s in zip(found.get_column("aid"), found.get_column("sid"))] + [(a, every) for a in unfiltered]
    queries = [
        pl.LazyFrame({"sid": sids, "norm": norm.gather(sids)})
        .filter(pl.col("norm").str.contains(alternatives[aid][1]))
        .select("sid", pl.lit(alternatives[aid][0], dtype=pl.UInt32).alias("flag"))
        for aid, sids in work
    ]
    if not queries:
        return empty
    by_flag = pl.concat(pl.collect_all(queries)).group_by("flag").agg(pl.col("sid").unique())
    plans = _plans()
    queries = []
    for flag, sids in zip(by_flag.get_column("flag"), by_flag.get_column("sid")):
        plan = plans[THEME_FLAGS[flag]]
        query = pl.LazyFrame({"sid": sids, "norm": norm.gather(sids)})
        if plan.require:
            query = query.filter(pl.col("norm").str.contains(plan.require))
        if plan.negative:
            query = query.filter(~pl.col("norm").str.contains(plan.negative))
        queries.append(query.select("sid", pl.lit(flag, dtype=pl.UInt32).alias("flag")))
    return pl.concat(pl.collect_all(queries)) if queries else empty


def lexicon_hits(sentences: pl.DataFrame) -> pl.DataFrame:
    """``(sid, flag)`` for every sentence (row number ``sid`` of ``sentences``) that hits a flag, sorted."""
    hits = _hits(_normalized(sentences.get_column("sentence")))
    names = pl.Series(THEME_FLAGS, dtype=pl.String).gather(hits.get_column("flag"))
    return pl.DataFrame({"sid": hits.get_column("sid"), "flag": names}).sort("sid", "flag")


def sentence_hits(sentences: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Adds one Boolean column per flag: whether that sentence hits it (the fast matcher)."""
    frame = sentences.lazy().collect()
    hits = lexicon_hits(frame)
    sid = pl.int_range(pl.len(), dtype=pl.UInt32)
    return frame.with_columns(
        sid.is_in(hits.filter(pl.col("flag") == flag).get_column("sid").implode()).alias(flag) for flag in THEME_FLAGS
    ).lazy()


# --------------------------------------------------------------------------- #
# flag_themes
# --------------------------------------------------------------------------- #
_EVIDENCE = pl.List(pl.Struct({"flag": pl.String, "turn_index": pl.Int32, "quote": pl.String}))
_EVIDENCE_ROWS = {"transcript_id": pl.String, "flag": pl.String, "turn_index": pl.Int32, "quote": pl.String}


def _quotes(first: pl.DataFrame) -> pl.DataFrame:
    """``first`` (transcript_id, flag, turn_index, sentence) with ``quote``.

    A sentence of at most ``MAX_QUOTE_CHARS`` is the quote; a longer one is cut to a window of
    ``_QUOTE_CONTEXT_CHARS`` either side of the first positive match (found on the normalised
    copy, whose character offsets are the original's), at most ``MAX_QUOTE_CHARS`` long.
    """
    length = pl.col("sentence").str.len_chars()
    parts = [first.filter(length <= MAX_QUOTE_CHARS).with_columns(pl.col("sentence").alias("quote"))]
    long = first.filter(length > MAX_QUOTE_CHARS).with_columns(normalize_for_matching(pl.col("sentence")).alias("_norm"))
    plans = _plans()
    for flag in sorted(set(long.get_column("flag").to_list())):
        rows = long.filter(pl.col("flag") == flag)
        pattern = plans[flag].positive
        start = pl.col("_norm").str.find(pattern).cast(pl.Int64).fill_null(0)
        matched = pl.col("_norm").str.extract(f"({pattern})", 1).str.len_chars().cast(pl.Int64).fill_null(0)
        begin = pl.max_horizontal(start - _QUOTE_CONTEXT_CHARS, pl.lit(0))
        size = pl.min_horizontal(start - begin + matched + _QUOTE_CONTEXT_CHARS, pl.lit(MAX_QUOTE_CHARS))
        parts.append(rows.with_columns(pl.col("sentence").str.slice(begin, size).str.strip_chars().alias("quote")).drop("_norm"))
    return pl.concat(parts, how="vertical_relaxed")


def _evidence_rows(turns: pl.DataFrame) -> pl.DataFrame:
    """``transcript_id, flag, turn_index, quote``: the first hit of every (transcript, flag) that has one.

    ``turns``: participant turns sorted by (transcript_id, turn_index), so a sentence's row number
    (``sid``) is its reading order and a flag's first hit in a transcript is its smallest ``sid``.
    """
    sentences = _split_turns(turns)
    hits = _hits(sentences.get_column("norm"))
    if hits.height == 0:
        return pl.DataFrame(schema=_EVIDENCE_ROWS)
    transcript = sentences.get_column("transcript_id").rle_id()  # sentences are grouped by transcript
    first = hits.with_columns(transcript.gather(hits.get_column("sid")).alias("_t")).group_by("_t", "flag").agg(pl.col("sid").min())
    sid = first.get_column("sid")
    first = pl.DataFrame(
        {
            "transcript_id": sentences.get_column("transcript_id").gather(sid),
            "flag": pl.Series(THEME_FLAGS, dtype=pl.String).gather(first.get_column("flag")),
            "turn_index": sentences.get_column("turn_index").gather(sid),
            "sentence": sentences.get_column("sentence").gather(sid),
        }
    )
    return _quotes(first).select(pl.col("transcript_id"), pl.col("flag"), pl.col("turn_index").cast(pl.Int32), pl.col("quote"))


def flag_themes(turns: pl.DataFrame) -> pl.DataFrame:
    """Theme flags per transcript from a turns frame (see module docstring).

    ``turns`` needs ``transcript_id, split, turn_index, speaker, text``. Returns one
    row per distinct ``transcript_id`` (sorted), with ``transcript_id, split``, the
    14 flags (Boolean, never null), ``evidence`` (one entry per true flag, in
    ``THEME_FLAGS`` order), ``n_flags`` (Int32), ``method`` and ``method_version``.
    """
    turns = (
        turns.lazy()
        .select(pl.col("transcript_id").cast(pl.String), pl.col("split").cast(pl.String), pl.col("turn_index").cast(pl.Int32), "speaker", "text")
        .sort("transcript_id", "turn_index")
        .collect()
    )
    transcripts = turns.group_by("transcript_id", maintain_order=True).agg(pl.col("split").first())
    participant = turns.filter(pl.col("speaker") == "participant").select("transcript_id", "turn_index", "text")
    parts = [pl.DataFrame(schema=_EVIDENCE_ROWS)]
    ids = transcripts.get_column("transcript_id")
    for start in range(0, ids.len(), CHUNK_TRANSCRIPTS):
        chunk = ids.slice(start, CHUNK_TRANSCRIPTS)
        parts.append(_evidence_rows(participant.filter(pl.col("transcript_id").is_between(pl.lit(chunk.first()), pl.lit(chunk.last())))))
    order = pl.DataFrame({"flag": list(THEME_FLAGS), "_order": list(range(len(THEME_FLAGS)))})
    per_transcript = (
        pl.concat(parts)
        .join(order, on="flag")
        .sort("transcript_id", "_order")
        .group_by("transcript_id", maintain_order=True)
        .agg(
            pl.struct("flag", "turn_index", "quote").alias("evidence"),
            *[(pl.col("flag") == flag).any().alias(flag) for flag in THEME_FLAGS],
        )
    )
    return (
        transcripts.join(per_transcript, on="transcript_id", how="left")
        .with_columns(
            *[pl.col(flag).fill_null(False) for flag in THEME_FLAGS],
            pl.col("evidence").fill_null(pl.lit([], dtype=_EVIDENCE)).cast(_EVIDENCE),
        )
        .with_columns(
            pl.sum_horizontal(pl.col(flag).cast(pl.Int32) for flag in THEME_FLAGS).cast(pl.Int32).alias("n_flags"),
            pl.lit(METHOD, dtype=pl.String).alias("method"),
            pl.lit(METHOD_VERSION, dtype=pl.String).alias("method_version"),
        )
        .select("transcript_id", "split", *THEME_FLAGS, "evidence", "n_flags", "method", "method_version")
        .sort("transcript_id")
    )
