"""Transaction simulator, model training and the model registry commands (offline tooling).

A top-level package because it belongs to no service: it reads the shared contracts
(``schemas``) and the stream's own pure feature code (``decision_core.features``, so training
computes exactly the features the live agent computes), while no service imports it. Its
producer is also the demo's traffic source. ``fraudsim.simulate`` makes labelled data,
``fraudsim.train`` fits and evaluates the model, ``fraudsim.registry`` lists and promotes it.
"""
