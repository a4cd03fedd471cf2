from __future__ import annotations

from avis.accounts.models import Organisation
from avis.surveys.models import Answer, Invitation, Survey


def active_surveys_by_touchpoint(*, organisation: Organisation) -> dict[int, Survey]:
    return {
        survey.touchpoint_id: survey
        for survey in Survey.objects.filter(organisation=organisation, is_active=True)
    }


def invitation_for_token(token: str) -> Invitation | None:
    """The token is the respondent's only credential, so it alone selects the row."""
    return (
        Invitation.objects.select_related("survey", "organisation", "touchpoint", "interaction__agent")
        .prefetch_related("survey__questions")
        .filter(token=token)
        .first()
    )


def invitations_for_decisions(
    *, organisation: Organisation, decision_ids: list[int]
) -> dict[int, Invitation]:
    found: dict[int, Invitation] = {}
    for start in range(0, len(decision_ids), 2000):
        rows = Invitation.objects.filter(
            organisation=organisation, decision_id__in=decision_ids[start : start + 2000]
        )
        found |= {row.decision_id: row for row in rows}
    return found


def readable_answers(answers: list[Answer], language: str, *, company: str) -> list[tuple[str, str]]:
    """Each answer as (question prompt, answer in words), in the reader's language."""
    readable = []
    for answer in answers:
        question = answer.question
        prompt = question.prompt.get(language) or question.prompt.get("en") or question.code
        prompt = prompt.split(" (")[0].replace("{company}", company).strip()
        if answer.not_applicable:
            value = question.not_applicable_label.get(language) or "n/a"
        elif answer.number is not None:
            value = str(answer.number)
        elif answer.choice:
            labels = {c["value"]: c["label"].get(language) or c["value"] for c in question.choices}
            value = labels.get(answer.choice, answer.choice)
        else:
            value = f"« {answer.text} »"
        readable.append((prompt, value))
    return readable
