"""One of several processes deciding at once for the same customers (run by test_caps_across_processes).

python tests/governance/decide_in_process.py ORGANISATION_ID PROCESS_NUMBER COUNT CUSTOMERS
"""

from __future__ import annotations

import os
import random
import sys
from datetime import timedelta

import django


def main() -> None:
    organisation_id, number, count, customers = (int(value) for value in sys.argv[1:5])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avis.settings")
    django.setup()
    from django.utils import timezone

    from avis.accounts.models import Organisation
    from avis.interactions.flow import ingest_interactions
    from avis.interactions.schemas import InteractionIn
    from tests.factories import interaction_payload

    organisation = Organisation.objects.get(id=organisation_id)
    rng = random.Random(number)
    touchpoints = ["call_center.call", "branch.visit", "claim.settled"]
    for batch in range(count // 5):
        items = [
            InteractionIn(
                **interaction_payload(
                    f"p{number}-{batch}-{i}",
                    customer=f"SHARED-{rng.randrange(customers)}",
                    touchpoint=rng.choice(touchpoints),
                    occurred_at=timezone.now() - timedelta(minutes=1),
                )
            )
            for i in range(5)
        ]
        for result in ingest_interactions(organisation=organisation, items=items):
            if result.errors:
                raise SystemExit(f"rejected: {result.errors}")
    print("done", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    main()
