"""Rules, lists and profiles from their topics' records, judged with the model score."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from decision_core.judge import RulesJudge
from decision_core.reference import ReferenceData
from rule_engine import Thresholds
from schemas.codec import encode_account_profile, encode_named_list, encode_rule
from schemas.enums import Channel, Outcome, RuleMode, TxType
from schemas.records import AccountProfile, NamedList, RuleHit, Transaction
from tests.support import records

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def rule(
    rule_id: str,
    expression: str,
    action: str = "REVIEW",
    version: int = 1,
    mode: RuleMode = RuleMode.ACTIVE,
) -> bytes:
    return encode_rule(
        records.rule(rule_id, expression, action, version=version, mode=mode, updated_at=NOW)
    )


def tx(amount: str = "6000.00", country: str = "FR", merchant: str = "m-1") -> Transaction:
    return Transaction(
        transaction_id=str(uuid.uuid4()),
        account_id="acct-1",
        card_token="tok_abcdefgh",
        amount=Decimal(amount),
        currency="INR",
        merchant_id=merchant,
        country=country,
        channel=Channel.ECOM,
        timestamp=NOW,
        type=TxType.DEBIT,
    )


def judge(reference: ReferenceData) -> RulesJudge:
    return RulesJudge(reference, Thresholds(0.5, 0.9))


SEED = "amount > 5000 && home_country != null && country != home_country"


def test_the_design_card_rule_reviews_a_large_amount_away_from_home() -> None:
    reference = ReferenceData()
    reference.apply("rules", b"r-away", rule("r-away", SEED))
    away = judge(reference)(tx(), {}, 0.1, "IN")
    assert away.outcome is Outcome.REVIEW
    assert away.rules_fired == (RuleHit(rule_id="r-away", version=1, action="REVIEW"),)
    assert judge(reference)(tx(country="IN"), {}, 0.1, "IN").outcome is Outcome.APPROVE


def test_a_new_version_replaces_the_old_and_a_tombstone_removes_the_rule() -> None:
    reference = ReferenceData()
    reference.apply("rules", b"r", rule("r", "amount > 5000", "REVIEW", version=1))
    reference.apply("rules", b"r", rule("r", "amount > 5000", "DECLINE", version=2))
    verdict = judge(reference)(tx(), {}, 0.0, None)
    assert (verdict.outcome, verdict.rules_fired[0].version) == (Outcome.DECLINE, 2)
    reference.apply("rules", b"r", None)
    assert judge(reference)(tx(), {}, 0.0, None).outcome is Outcome.APPROVE


def test_shadow_rules_are_recorded_but_never_decide() -> None:
    reference = ReferenceData()
    reference.apply("rules", b"s", rule("s", "amount > 1", "DECLINE", mode=RuleMode.SHADOW))
    verdict = judge(reference)(tx(), {}, 0.0, None)
    assert verdict.outcome is Outcome.APPROVE
    assert [h.rule_id for h in verdict.shadow_rules_fired] == ["s"]


def test_lists_from_their_topic_are_usable_in_rules() -> None:
    reference = ReferenceData()
    reference.apply("rules", b"deny", rule("deny", "merchant_id in lists.blocked", "DECLINE"))
    blocked = NamedList(name="blocked", kind="merchants", values=("m-666",), updated_at=NOW)
    reference.apply("lists", b"blocked", encode_named_list(blocked))
    assert judge(reference)(tx(merchant="m-666"), {}, 0.0, None).outcome is Outcome.DECLINE
    assert judge(reference)(tx(merchant="m-1"), {}, 0.0, None).outcome is Outcome.APPROVE


def test_profiles_from_the_accounts_topic() -> None:
    reference = ReferenceData()
    profile = AccountProfile(
        account_id="acct-1", home_country="IN", updated_at=NOW, home_lat=18.5, home_lon=73.8
    )
    reference.apply("accounts", b"acct-1", encode_account_profile(profile))
    home = reference.profile("acct-1")
    assert home is not None and (home.home_country, home.home_lat) == ("IN", 18.5)
    reference.apply("accounts", b"acct-1", None)
    assert reference.profile("acct-1") is None


def test_a_rule_failing_at_run_time_counts_as_not_fired() -> None:
    reference = ReferenceData()
    reference.apply("rules", b"nulls", rule("nulls", "travel_speed_kmh > 900", "DECLINE"))
    verdict = judge(reference)(tx(), {"travel_speed_kmh": float("nan")}, 0.0, None)
    assert (verdict.outcome, verdict.rules_fired) == (Outcome.APPROVE, ())


def test_the_model_score_and_the_rules_combine_strictest_wins() -> None:
    reference = ReferenceData()
    reference.apply("rules", b"r", rule("r", "amount > 5000", "REVIEW"))
    assert judge(reference)(tx(), {}, 0.95, None).outcome is Outcome.DECLINE
    assert judge(reference)(tx(amount="10.00"), {}, 0.6, None).outcome is Outcome.REVIEW


def test_the_judgement_says_whether_the_score_reached_a_threshold() -> None:
    """What ``exact_reasons`` reads: a REVIEW only a rule asked for is not the score's."""
    reference = ReferenceData()
    reference.apply("rules", b"r-away", rule("r-away", SEED))
    by_rule = judge(reference)(tx(), {}, 0.1, "IN")
    by_score = judge(reference)(tx(country="IN"), {}, 0.6, "IN")
    both = judge(reference)(tx(), {}, 0.95, "IN")
    assert (by_rule.outcome, by_rule.score_flagged) == (Outcome.REVIEW, False)
    assert (by_score.outcome, by_score.score_flagged) == (Outcome.REVIEW, True)
    assert (both.outcome, both.score_flagged) == (Outcome.DECLINE, True)
    # Without a model the thresholds are not applied: never the score's.
    assert not judge(reference)(tx(), {}, None, "IN").score_flagged
