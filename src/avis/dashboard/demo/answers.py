"""How a simulated customer lives an interaction and answers the survey about it.

Whether the request is solved comes from the topic and the process (a good
agent helps a little); the agent score comes from the agent (an unsolved
problem drags it down a little); the recommendation score follows both, the
outcome first. That is how real answers behave, and why avis asks about the
outcome and the person separately.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from avis.dashboard.demo.comments import write_comment
from avis.dashboard.demo.company import (
    AGENT_BY_CODE,
    CLAIMS_SYSTEM_TROUBLE,
    CLAIMS_TROUBLE_PENALTY,
    TOUCHPOINT_BY_CODE,
    AgentSpec,
    Topic,
)

RESOLUTIONS = ("yes", "partly", "no")


@dataclass(frozen=True)
class Lived:
    """What really happened in one interaction, which the survey tries to measure."""

    touchpoint: str
    topic: str
    agent: AgentSpec | None
    resolution: str
    slow_claims: bool = False


def _topic(touchpoint: str, code: str) -> Topic:
    spec = TOUCHPOINT_BY_CODE[touchpoint]
    return next((t for t in spec.topics if t.code == code), spec.topics[0])


def claims_in_trouble(*, occurred_at: datetime, now: datetime) -> bool:
    start, end = CLAIMS_SYSTEM_TROUBLE
    return now - timedelta(days=start) <= occurred_at < now - timedelta(days=end)


def live_through(
    rng: random.Random,
    *,
    touchpoint: str,
    topic: str,
    agent_code: str | None,
    occurred_at: datetime,
    now: datetime,
    repeat: bool = False,
) -> Lived:
    """Draw whether the request got solved: mostly the process, a little the agent."""
    agent = AGENT_BY_CODE.get(agent_code or "")
    spec = _topic(touchpoint, topic)
    yes, partly = spec.resolved, spec.partly
    if agent is not None:
        yes += (agent.quality - 4.0) * 0.04
    if repeat:  # the second call about the same thing is solved more often
        yes += 0.15
    slow = touchpoint == "claim.settled" and claims_in_trouble(occurred_at=occurred_at, now=now)
    if slow:
        yes -= CLAIMS_TROUBLE_PENALTY
    yes = min(max(yes, 0.05), 0.97)
    roll = rng.random()
    resolution = "yes" if roll < yes else "partly" if roll < yes + partly else "no"
    return Lived(touchpoint, topic, agent, resolution, slow)


def will_answer(*, key: str, channel: str, lived_resolution: str | None = None) -> bool:
    """Whether this customer answers at all: fixed by the invitation, so a retry decides the same.

    Texts are answered more than emails; a customer left with an unsolved
    problem answers a little more often (they have something to say).
    """
    rate = 0.52 if channel == "sms" else 0.38
    if lived_resolution == "no":
        rate += 0.06
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


def answer_delay(rng: random.Random, *, channel: str) -> timedelta:
    """Time from the invitation to the answer: minutes for a text, hours for an email, a long tail."""
    median_minutes = 12 if channel == "sms" else 150
    minutes = median_minutes * math.exp(rng.gauss(0, 1.3))
    return timedelta(minutes=min(max(minutes, 0.5), 6 * 24 * 60))


def answers_for(rng: random.Random, *, lived: Lived, language: str) -> dict[str, str]:
    """The standard survey's answers, as the text a respondent submits."""
    perceived = lived.resolution
    if rng.random() < 0.08:  # people do not always see it as the company does
        perceived = rng.choice([r for r in RESOLUTIONS if r != lived.resolution])

    spec = TOUCHPOINT_BY_CODE[lived.touchpoint]
    not_applicable = 0.04 + (0.35 if not spec.agent_seen else 0.0) + (0.08 if perceived == "no" else 0.0)
    agent_score: int | None = None
    if lived.agent is not None and rng.random() >= not_applicable:
        shift = {"yes": 0.2, "partly": -0.1, "no": -0.35}[perceived]
        agent_score = round(min(max(rng.gauss(lived.agent.quality + shift, 0.7), 1), 5))

    latent = 7.9 + {"yes": 0.9, "partly": -1.3, "no": -3.6}[perceived] + rng.gauss(0, 1.4)
    if agent_score is not None:
        latent += 0.55 * (agent_score - 4)
    nps = round(min(max(latent, 0), 10))

    comment = write_comment(
        rng,
        language=language,
        touchpoint=lived.touchpoint,
        topic=lived.topic,
        resolution=perceived,
        agent_score=agent_score,
        agent_first_name=lived.agent.first_name if lived.agent else None,
        slow_claims=lived.slow_claims,
    )
    answers = {
        "nps": str(nps),
        "resolved": perceived if rng.random() > 0.03 else "",  # a few skip the optional question
        "agent": "na" if agent_score is None else str(agent_score),
        "comment": comment,
    }
    if spec.asks_effort:
        # Effort follows the resolution more than the score does: an unsolved chat was hard work.
        effort = 5.6 + {"yes": 0.8, "partly": -1.2, "no": -2.6}[perceived] + rng.gauss(0, 1.0)
        answers["effort"] = str(round(min(max(effort, 1), 7)))
    return answers
