"""Reference data every worker holds whole: rules, named lists, account profiles and
merchant risk, applied record by record from their compacted topics.

Each change builds a new immutable RuleSet or ListSet and swaps it in; the pipeline reads
the current one per batch. Merchant risk is held as the job last published it; the pipeline
applies the stamp policy (``features.merchant.applies``) per transaction. A thread follows the
topics (``schemas.follower.TopicFollower``, roles from ``topic_roles``) and hands each record
to ``ReferenceData.apply``: in the agents, and once in replay.
"""

from __future__ import annotations

import logging

from decision_core.features import HomeProfile
from decision_core.features.merchant import HOUR_MS, MerchantValues
from decision_core.observer import SILENT, Observer
from rule_engine import EMPTY_LISTS, ListSet, NamedList, RuleSet, RuleSpec
from schemas.codec import (
    decode_account_profile,
    decode_merchant_risk,
    decode_named_list,
    decode_rule,
)
from schemas.topics import ACCOUNTS, LISTS, MERCHANT_RISK, RULES

log = logging.getLogger("decision_core.reference")


def topic_roles(prefix: str) -> dict[str, str]:
    """The reference topics (names with ``prefix``) and the role ``ReferenceData.apply``
    knows each one's records by."""
    return {
        f"{prefix}{RULES.name}": "rules",
        f"{prefix}{LISTS.name}": "lists",
        f"{prefix}{ACCOUNTS.name}": "accounts",
        f"{prefix}{MERCHANT_RISK.name}": "merchant-risk",
    }


class ReferenceData:
    """The current rules, lists and profiles, updated in place by ``apply``."""

    def __init__(
        self,
        rules: RuleSet | None = None,
        lists: ListSet = EMPTY_LISTS,
        observer: Observer = SILENT,
    ) -> None:
        self.rules = rules if rules is not None else RuleSet.empty()
        self.lists = lists
        self.profiles: dict[str, HomeProfile] = {}
        self.merchants: dict[str, MerchantValues] = {}
        self.observer = observer

    def profile(self, account_id: str) -> HomeProfile | None:
        return self.profiles.get(account_id)

    def merchant_risk(self, merchant_id: str) -> MerchantValues | None:
        return self.merchants.get(merchant_id)

    def apply(self, role: str, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of a reference topic (a None value deletes its key)."""
        name = (key or b"").decode()
        if role == "rules":
            self._apply_rule(name, value)
        elif role == "lists":
            self.lists = (
                self.lists.without(name)
                if value is None
                else self.lists.with_list(_named_list(value))
            )
        elif role == "merchant-risk":
            self._apply_merchant(name, value)
        elif value is None:
            self.profiles.pop(name, None)
        else:
            p = decode_account_profile(value)
            self.profiles[p.account_id] = HomeProfile(p.home_country, p.home_lat, p.home_lon)

    def _apply_rule(self, rule_id: str, value: bytes | None) -> None:
        if value is None:
            self.rules = self.rules.without(rule_id)
        else:
            spec = RuleSpec.from_record(decode_rule(value))
            self.rules = self.rules.with_rule(spec)
            if spec.rule_id in self.rules.rejected:
                self.observer.rule_rejected(spec.rule_id)
                log.warning("rule %s v%s does not compile; not run", spec.rule_id, spec.version)
        self.observer.rules_loaded(len(self.rules))

    def _apply_merchant(self, merchant_id: str, value: bytes | None) -> None:
        # A tombstone is the job's way of saying "all zeros now".
        if value is None:
            self.merchants.pop(merchant_id, None)
            return
        r = decode_merchant_risk(value)
        hour = int(r.hour.timestamp() * 1000) // HOUR_MS
        self.merchants[r.merchant_id] = MerchantValues(hour, r.values)


def _named_list(value: bytes) -> NamedList:
    record = decode_named_list(value)
    return NamedList.of(record.name, record.kind, record.values)
