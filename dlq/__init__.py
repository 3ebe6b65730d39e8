"""Dead letters: list, show and re-drive the records the agents, the sink and the webhook
dispatcher could not handle (``sentinel dlq``).

A top-level package: it serves every service's dead-letter topic and imports none of the
services, only the shared contracts in ``schemas``. ``letters`` and ``render`` are pure;
``kafka`` is the only module that talks to the broker; ``source`` reads letters and marks
through it; ``redrive`` says what a re-drive produces and runs it; ``cli`` is the typer
group.
"""
