"""Analyst replay and backtesting: a range of the transactions topic through a candidate.

``sentinel replay`` reads a time or offset range of ``transactions`` (every partition, each
in offset order, so every account's events keep their order), warms the feature state
from the longest window before the range, and decides every record in the range with the
live agents' own code (``decision_core.pipeline.DecisionPipeline``, ``RulesJudge``, the
``rule_engine`` and the XGBoost ``Model``) under a candidate rule set, model and
thresholds. It compares the outcome with what the ledger recorded live and with the fraud
labels, and reports the difference. It never writes to the ledger or to a live topic.

Layout: ``plan`` (ranges, options; pure), ``candidate`` (rules, model, thresholds),
``source`` (the Kafka edge), ``database`` (read-only: live decisions, candidate rules),
``report`` and ``summary`` (the comparison; pure and mergeable), ``engine`` (one worker's loop),
``runner`` (partitions across processes), ``service`` (request to report), ``output``
(rich tables, JSON, CSV), ``settings``, ``cli``.
"""
