"""Reference data in PostgreSQL, shared by the API's admin routes and the analyst console.

Rules (immutable versions, their audit, the records they publish), named lists, account
profiles, and the recent decided transactions a rule's dry run reads. A top-level package
because the API and the console both change rules through it and never import each other
(ADR 0006): one code path from an edit to the ``rules`` table and topic.
"""
