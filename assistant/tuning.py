"""The answer path's tuning numbers, in one place, each with a line on where it came from.

Grouped by stage: prepare (follow-ups, spelling), retrieve, read (the reader; the heuristic
answerer; conflicts and values, shared by both), check (the support scorer), and the generative
composer with its guard. Every constant here is used as it stands: the modules named beside
each group import it from here, so changing a number here changes it everywhere.

An origin reads one of:

- "fitted by SCRIPT on SPLIT": a script chose it on held-out data (none of the numbers here:
  fitted numbers live in the JSON files below);
- "hand-set on SET": chosen by hand while looking at the results on that set, so every figure
  on that set is in-sample; the commit that set it is named;
- "hand-set: design choice (why)": chosen by reasoning, not by a measurement;
- "hand-set, origin not recorded": neither git history nor the docs say how it was chosen; the
  commit that introduced it is named.

The sets: evals/datasets/sample (35 questions on samples/articles), evals/datasets/user-articles
(48 questions), evals/datasets/support-pairs (116 labelled sentence/passage pairs, checked by
`python -m evals.scorer_check`), squad2-normans (SQuAD 2.0's "Normans" article); see
docs/evaluation.md.

Not here:

- Fitted numbers, kept beside what they fit:
  - assistant/reader_model/calibration.json: the reader's answer threshold, the Platt slope and
    intercept of its confidence, the decision score's weights (margin_weight, answerable_weight;
    v2 models) and the plain-answer band (plain_from); written by training/calibrate_reader.py on
    the squad2-pool validation split (5 held-out articles; `--band-only` refits the band alone).
  - assistant/reader_model/reader.onnx, with training.json (its hyper-parameters): written by
    training/train_reader.py and training/export_reader.py.
  - assistant/heuristic_weights.json: the heuristic answerer's sentence weights, confidence and
    abstention threshold (0.4); hand-set on squad2-normans and the two gold sets (its
    "fitted_on" says so); training/fit_heuristic.py (`make fit-heuristic`) refits them into
    build/heuristic_weights.json, which is not shipped (its "refit" says why).
- User-facing settings (top_k, chunk_words, max_answer_sentences, abstain_threshold, spelling,
  llm_max_passages, ...): assistant/settings.py.
- Limits that are not tuning: the question length (assistant/question.py), the LLM client's
  timeouts and back-off (assistant/llm.py), the support scorer's cache size (grounding.py).

This module imports nothing: any module of the package may import it.
"""

# --- prepare: follow-up questions (assistant/chat.py) -----------------------------------------

# A question with at most this many content words (question words aside) is a follow-up.
# hand-set, origin not recorded (bd407b7)
FOLLOW_UP_MAX_CONTENT_WORDS = 1
# Words of the previous question an offline rewrite carries over to a follow-up, at most.
# hand-set, origin not recorded (bd407b7)
FOLLOW_UP_CARRIED_TERMS = 8
# A model's rewrite of a follow-up is used only when it has this many words, from min to max.
# hand-set, origin not recorded (bd407b7)
REWRITE_MIN_WORDS = 3
REWRITE_MAX_WORDS = 40

# --- prepare: spelling (assistant/spelling.py) ------------------------------------------------

# Edits between a typo and its correction. hand-set: design choice (enough for one mistyped
# letter; a distance of 2 multiplies the dictionary's memory by four) (11bfecd)
SPELLING_MAX_EDIT_DISTANCE = 1
# Shorter words are never corrected.
# hand-set: design choice (they have too many one-edit neighbours to correct safely) (11bfecd)
SPELLING_MIN_WORD_LENGTH = 4
# The articles' most widespread words the dictionary holds.
# hand-set: design choice (a bound on memory for a large archive) (11bfecd)
SPELLING_ARTICLE_WORDS = 50_000
# The commonest English words the fallback dictionary holds. hand-set: design choice (0.2 s to
# build) in 12e81a8; the fallback took one-typo user-articles questions read right 18 -> 31 of 32
SPELLING_ENGLISH_WORDS = 30_000
# symspellpy's prefix length. hand-set: design choice (symspellpy's own default)
SPELLING_PREFIX_LENGTH = 7

# --- retrieve (assistant/retrieval.py, assistant/answering/retrieve.py) -----------------------

# Reciprocal rank fusion's k.
# hand-set: design choice (the constant of Cormack et al. 2009; insensitive in practice)
RRF_K = 60
# Each search (dense, BM25) fetches max(top_k * RETRIEVE_POOL_PER_PASSAGE, RETRIEVE_MIN_POOL).
# hand-set, origin not recorded (13d4be2)
RETRIEVE_POOL_PER_PASSAGE = 4
RETRIEVE_MIN_POOL = 20
# An article's n-th chunk in the fused ranking (from 0) is weighted
# DIVERSITY_DISCOUNT ** max(0, n - DIVERSITY_SPARED_CHUNKS). hand-set, origin not recorded (13d4be2)
DIVERSITY_DISCOUNT = 0.7
# hand-set on the sample gold set (evals/datasets/sample) in 22eb9bc: sparing the second chunk took
# cites gold evidence 77 -> 80 %, unanswerable declined 67 -> 78 %, false abstention 0 -> 4 %
DIVERSITY_SPARED_CHUNKS = 1
# Passages past top_k the reader reads once it has an answer, to find a source that disagrees.
# hand-set, origin not recorded (4a74892)
CONFLICT_PROBE_PASSAGES = 4
# The search with the answer's own sentence fetches this many times CONFLICT_PROBE_PASSAGES.
# hand-set, origin not recorded (83d20f4)
SENTENCE_PROBE_SEARCH_FACTOR = 3
# BM25 hits fetched for each unit word the heuristic answerer's conflict probe searches for.
# hand-set, origin not recorded (13d4be2)
UNIT_PROBE_HITS = 10

# --- read: the reader (assistant/reader.py, assistant/reading.py) -----------------------------

# Tokens a window of question + passage holds, and the overlap of a passage's windows.
# hand-set, origin not recorded (422181d); must equal the windows the shipped model was
# trained on (training/train_reader.py --max-length/--stride, in reader_model/training.json)
READER_MAX_LENGTH = 256
READER_STRIDE = 96
# A question is cut to this many word pieces, so the passage keeps its room.
# hand-set, origin not recorded (422181d)
READER_MAX_QUESTION_TOKENS = 64
# The most windows one model call reads: a question reads about 11 (6 passages, then 4 more and
# a probe's 4, each usually one window), so this only bounds memory when a passage is huge (a
# store ingested before index/text.MAX_SENTENCE_CHARS held a 2 MB one-sentence chunk: 2,500
# windows in one call took 23 GB). 64 windows of 256 tokens take about 0.3 GB.
READER_MAX_BATCH_WINDOWS = 64
# The longest answer span, in tokens. hand-set, origin not recorded (422181d)
READER_MAX_ANSWER_TOKENS = 30
# Best start and end logits paired when looking for the best span.
# hand-set, origin not recorded (422181d)
READER_TOP_LOGITS = 20
# The part of a sentence after an injected instruction is quoted only with this many words.
# hand-set, origin not recorded (ae47cd1)
QUOTE_AFTER_INSTRUCTIONS_MIN_WORDS = 3

# --- read: the heuristic answerer (assistant/extractive.py) -----------------------------------
# Its weights, confidence and abstention threshold are in heuristic_weights.json (see above).

# A second sentence joins the answer when it scores at least this share of the best one.
# hand-set on the dev sets (squad2-normans, sample, user-articles) in eb61fb1 (0.85 -> 0.7)
SECOND_SENTENCE_RATIO = 0.7
# The conflict check runs when the best sentence stating an amount scores this share of the best.
# hand-set, origin not recorded (13d4be2)
CONFLICT_RATIO = 0.8
# Another article's sentence is weighed for a conflict when it scores this share of the best one.
# hand-set, origin not recorded (13d4be2)
CONFLICT_MIN_SCORE_RATIO = 0.3
# The question words found in the sentence before a candidate count for this much of their IDF.
# hand-set: design choice (pronouns carry the subject into the next sentence) (13d4be2)
PREVIOUS_SENTENCE_COVERAGE = 0.5
# Sentences a list question ("what are the ...") may quote.
# hand-set, origin not recorded (13d4be2)
LIST_ANSWER_SENTENCES = 4
# The best sentences the confidence's type check and alignment gap look at.
# hand-set, origin not recorded (eb61fb1, 62e2b54)
CONFIDENCE_SENTENCES = 2
# The best answer's amounts whose unit words the conflict probe searches other articles for.
# hand-set, origin not recorded (a26916c)
PROBE_UNIT_WORDS = 2

# --- read: conflicts and values (extractive.py, reading.py, conflicts.py, values.py, ...) -----

# Two sentences are about the same event at this cosine or above (both answerers' conflicts).
# hand-set: design choice (MiniLM puts unrelated news sentences below about 0.3, two reports
# of one event well above it) (a26916c)
SAME_TOPIC_COSINE = 0.3
# A phrase ("smooth and quiet", not a name, an amount or a date) is shown against another answer
# as sources that disagree only when their sentences are this alike: the same report with
# another detail, not two facts of one event ("passengers found the crossing smooth" against
# "the operator called the week a great success"). Fitted by training/fit_conflict_similarity.py
# on squad2-pool's training articles (2026-12-04): 0.58 keeps 92.8 % of 2,908 sentences that
# disagree on one phrase and 5.2 % of 1,226 pairs of one article's facts (reader answerer,
# assistant/reading.py).
PHRASE_CONFLICT_COSINE = 0.58
# Two spans' words agree when they overlap (Jaccard) at least this much (values.same_value).
# hand-set, not fitted: no labelled set of agreeing and disagreeing spans exists yet (4a74892)
SAME_VALUE_MIN_OVERLAP = 0.5
# Two amounts of one unit disagree when they differ by more than this share of the larger.
# hand-set, origin not recorded (13d4be2)
AMOUNTS_DIFFER_BY = 0.05
# "How many journalists": the counted noun's first letters, a crude stem ("journ").
# hand-set, origin not recorded (eb61fb1)
COUNTED_NOUN_STEM = 5
# A number counts the noun when the noun is among the next words / characters after it.
# hand-set, origin not recorded (eb61fb1)
COUNTED_NOUN_WINDOW_WORDS = 4
COUNTED_NOUN_WINDOW_CHARS = 40
# A unit answers "how many X" when it and the counted noun share their first letters.
# hand-set, origin not recorded (a26916c)
UNIT_NOUN_PREFIX = 4

# --- check: the support scorer (assistant/grounding.py) ---------------------------------------
# Checked, not fitted, on evals/datasets/support-pairs by `python -m evals.scorer_check`.

# A sentence is supported by a passage at this score or above (the guard and evals use it too).
# hand-set, origin not recorded (13d4be2)
SUPPORT_THRESHOLD = 0.5
# similarity = (best window cosine - SUPPORT_COSINE_FLOOR) / SUPPORT_COSINE_RANGE, within 0..1.
# hand-set, origin not recorded (13d4be2); the code's note: MiniLM paraphrases sit at 0.6-0.9
SUPPORT_COSINE_FLOOR = 0.35
SUPPORT_COSINE_RANGE = 0.5
# score = SUPPORT_SIMILARITY_WEIGHT * similarity + SUPPORT_PRECISION_WEIGHT * word precision.
# hand-set, origin not recorded (13d4be2)
SUPPORT_SIMILARITY_WEIGHT = 0.55
SUPPORT_PRECISION_WEIGHT = 0.45
# A missing number, date, name or negation multiplies the score by this.
# hand-set, origin not recorded (13d4be2)
SUPPORT_VETO_FACTOR = 0.4
# A verbatim quote of at least this many words, not right after a negation within the
# VERBATIM_NEGATION_LOOKBACK words before it, is supported outright. hand-set on
# evals/datasets/support-pairs in 54dc607 (ROC-AUC 0.847 -> 0.867)
VERBATIM_MIN_WORDS = 4
VERBATIM_NEGATION_LOOKBACK = 3

# --- generative composer and guard (assistant/guard.py, assistant/prompts.py) -----------------

# A line of a model's reply with fewer words is not a claim (a marker on its own line, ...).
# hand-set, origin not recorded (bd407b7)
GUARD_MIN_CLAIM_WORDS = 2
# A clause with fewer content words stays with its neighbour.
# hand-set, origin not recorded (bd407b7)
GUARD_MIN_CLAUSE_CONTENT_WORDS = 3
# A reply is off the point when its best sentence's cosine to the question is under this share
# of the extractive quote's. hand-set on benchmarks/llm.py's SmolLM2 replies in 7b4f02c
# (of those the support check passed, off-point ones at 0.68-0.77, on-point ones 0.94 and up)
OFF_POINT_RATIO = 0.8
# The condense prompt shows the last this-many messages, each clipped to PROMPT_CLIP_CHARS.
# hand-set, origin not recorded (bd407b7)
CONDENSE_HISTORY_MESSAGES = 6
PROMPT_CLIP_CHARS = 400
