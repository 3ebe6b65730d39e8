"""The agents' followers of the reference and models topics into the decision code's holders."""

from __future__ import annotations

from decision_core.live_models import ModelBook
from decision_core.reference import ReferenceData, topic_roles
from schemas.connections import KafkaConnection
from schemas.follower import TopicFollower
from schemas.topics import MODELS
from stream_agents.metrics import count_reference_record


def reference_follower(kafka: KafkaConnection, data: ReferenceData) -> TopicFollower:
    """Follows the rules, lists, accounts and merchant-risk topics into ``data``."""
    roles = topic_roles(kafka.topic_prefix)
    return TopicFollower(kafka, roles, data.apply, "reference", count_reference_record)


def model_follower(kafka: KafkaConnection, book: ModelBook) -> TopicFollower:
    """Follows the models topic into ``book``."""
    roles = {f"{kafka.topic_prefix}{MODELS.name}": "models"}
    return TopicFollower(kafka, roles, book.apply, "models", count_reference_record)
