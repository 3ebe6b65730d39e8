"""The rules outbox relay (`sentinel rules relay`): committed rule versions onto the
compacted ``rules`` topic, so that no other service writes that topic.

``plan`` decides what to publish (pure), ``store`` is its SQL (the pending versions, the
publications, the lock that serialises relays), ``relay`` one pass under that lock,
``service`` the long-running loop (LISTEN/NOTIFY plus a periodic sweep), ``settings`` its
``SENTINEL_RULES_RELAY_*`` settings and ``metrics`` what it reports.
"""
