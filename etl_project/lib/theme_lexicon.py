"""Rule data of the lexicon method: the regex cues of each theme flag (no engine, no polars).

Each flag has a small lexicon (:data:`LEXICON`) of case-insensitive, lowercase regexes:

* ``positive`` -- phrasings that express the theme; one must match;
* ``require``  -- optional context that must *also* appear in the sentence
  (e.g. a future/role framing for ``oversight_role_future``);
* ``negative`` -- vetoes: denials, negations, wishes or other readings the
  coding rules exclude ("not worried", "I don't think it will replace me",
  "colleagues are afraid", "I wish it could ...").

A sentence *hits* a flag when positive and require match and no negative does. The engine that
runs these cues fast is :mod:`etl_project.lib.theme_engine`.

Versions: v1.1 kept v1's rules; v1.2 revised the cues of four weak flags from the TAXONOMY
definitions and coding rules: ``quality_improvement`` (bare ``grammar``/``wording``/
``enhanc...``/``impressed`` need a correction or an object; "catches things I miss"; gains from
doing it oneself and errors found while testing are vetoed), ``delegates_whole_tasks`` (others'
use, hypotheticals and checking "independently" vetoed), ``verifies_output`` (tweaking/making
changes to what it gives; testing the tool itself vetoed), ``oversight_role_future`` (wanting or
considering such work counts as the future framing; running agents). v1's author wrote the rules
reading most of the 180 development transcripts: see ``docs/THEMES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl_project.lib.theme_taxonomy import THEME_FLAGS

LEXICON_VERSION = "lexicon-v1.2"

__all__ = ["LEXICON", "LEXICON_VERSION", "Cues", "THEME_FLAGS"]

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
