"""Every default qbank applies when nobody says otherwise, in one place.

A standard's own values (its near-duplicate threshold, its minimum questions per outcome, its
evidence levels) override these; they apply only where a standard, a release or a command line
leaves them out. Everything else imports them from here, so a default is changed once.
"""

from __future__ import annotations

EXPOSURE_CAP = 0.30  # share of a method's recent sets a question may appear in before the draw avoids it
USAGE_WINDOW = 500  # recent sets of a method that exposure is measured over
NEAR_DUPLICATE_THRESHOLD = 90  # similarity score (1-100) at which two question texts are near-duplicates
MAX_OUTCOMES_PER_QUESTION = 3  # outcome tags a question may carry without a written justification
SIMILAR_WARNING = 50  # similarity at which validate warns of two texts sharing their content words
MIN_QUESTIONS_PER_OUTCOME = 3  # approved questions each outcome needs in each method that assesses it
EVIDENCE_LEVELS = ("not evidenced", "evidenced")  # evidence levels of a method without grading rules, lowest first

ATTEMPTS = ("first", "resit", "retake")  # an apprentice's attempts at an assessment, as EPA plans name them
REVIEW_INTERVAL_MONTHS = 12  # how old a question's review may be, unless the standard says otherwise
