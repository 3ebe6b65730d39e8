"""The pure decision: features, the rules' binding, scoring, policy, the account state's codec.

No faust, Kafka, HTTP, database or metrics import (``tests/unit/decision_core/
test_import_graph.py`` holds it to that): the agents (``stream_agents``), replay, training
and the benchmarks all decide with this code.
"""
