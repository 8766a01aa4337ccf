"""qbank: versioned question banks and a conversational assessment assistant for EPA.

The library knows nothing of any user interface. Modules, one concept each:
  bankfiles   reading standard files, question files and release manifests
  validation  loading a bank tree and checking it whole
  similarity  near-duplicate detection
  releases    freezing releases and diffing them
  models      the store's tables; store: opening it (SQLite or PostgreSQL)
  importer    loading releases into the store, all or nothing
  catalogue   reading the store: list, show, stats, diffs
  draw        the pure draw; draws: storing, replaying and swapping sets; simulate: populations
  grading     the pure grading engine; gradingfile: reading and checking [grading] rules
  sessions    assessments as they are recorded; record: the assessor's record (jinja2)
  evidence    turning ticked outcomes into evidence entries (pure)
  suggest     ranking the next question to ask (pure)
  settings    the user's settings file: the assessor's name
  reviews     standardisation reviews over the store; reports: rendering them (table/JSON/CSV/HTML)
"""

__version__ = "0.1.0"
