"""The hourly merchant-risk job (`sentinel merchant-risk run`): ledger in, compacted topic out.

At the top of each UTC hour ``h`` it reads, in one query, the transactions of the window the
features look at (hours [h-888, h-168)) grouped by merchant and hour with the fraud labels
known before ``h`` (``ledger``), computes every merchant's six values with the definition
training uses (``decision_core.features.merchant.window_values``, in ``compute``), and
publishes them to ``merchant-risk`` keyed by merchant id, stamped with ``h`` (``topic``):
every merchant with a non-zero value, and a tombstone for each merchant that had values and
has none now. The agents follow the topic (``stream_agents.followers``).
"""
