"""`avis barometer draw|status`: the wave drawn and followed from the command line."""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from avis.barometers.services import plan_wave
from tests.barometers.setup import make_barometer, region_base
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))


@time_machine.travel(NOW, tick=False)
def test_draw_start_status_and_report_from_the_command_line(org, tmp_path) -> None:
    open_all_day(org.organisation)
    region_base(org.organisation, {"north": 300, "south": 200})
    barometer = make_barometer(org.organisation)
    plan_wave(organisation=org.organisation, barometer_id=barometer.id, frame_date=NOW.date())
    slug = org.organisation.slug
    out = StringIO()
    call_command(
        "barometer",
        "draw",
        str(barometer.id),
        "1",
        "--organisation",
        slug,
        "--seed",
        "5",
        "--start",
        stdout=out,
    )
    assert "drawn with seed 5" in out.getvalue() and "Fieldwork started" in out.getvalue()
    out = StringIO()
    call_command("barometer", "status", str(barometer.id), "1", "--organisation", slug, stdout=out)
    text = out.getvalue()
    assert "north" in text and "south" in text and "RR1" in text or "AAPOR" in text
    with pytest.raises(CommandError, match="already drawn"):
        call_command("barometer", "draw", str(barometer.id), "1", "--organisation", slug)
    pdf = tmp_path / "wave.pdf"
    out = StringIO()
    call_command(
        "barometer",
        "report",
        str(barometer.id),
        "1",
        "--organisation",
        slug,
        "--output",
        str(pdf),
        stdout=out,
    )
    assert pdf.read_bytes().startswith(b"%PDF") and "written to" in out.getvalue()
