"""`sentinel score`: a data set's transactions scored offline by a registered model.

Features by the live agent's code (``fraudsim.train.features``), with the history before
the scored range replayed as warm-up state; merchant risk by training's definition;
scores, reason codes and outcomes by the decision core (``decision_core.scoring``,
``decision_core.judge.RulesJudge``). No Kafka, no ledger.
"""
