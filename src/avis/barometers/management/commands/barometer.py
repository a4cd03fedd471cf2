from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from avis.accounts.models import Organisation
from avis.barometers import queries, services
from avis.barometers.dispositions import wave_rates
from avis.errors import AvisError


class Command(BaseCommand):
    help = (
        "Barometer waves from the command line: "
        "`avis barometer draw BAROMETER_ID WAVE --organisation SLUG [--seed N] [--start]` draws the "
        "wave's sample (and with --start invites it); "
        "`avis barometer status BAROMETER_ID WAVE --organisation SLUG` prints its fieldwork per stratum; "
        "`avis barometer report BAROMETER_ID WAVE --organisation SLUG [--language fr|en] [--output FILE]` "
        "writes its PDF report."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["draw", "status", "report"])
        parser.add_argument("barometer", type=int, metavar="BAROMETER_ID")
        parser.add_argument("wave", type=int, metavar="WAVE", help="the wave's number (1, 2, …)")
        parser.add_argument("--organisation", metavar="SLUG", required=True)
        parser.add_argument("--seed", type=int, help="draw: the seed (default: a random one, recorded)")
        parser.add_argument("--start", action="store_true", help="draw: start the fieldwork at once")
        parser.add_argument("--language", choices=["fr", "en"], default="fr")
        parser.add_argument("--output", metavar="FILE", help="report: where to write the PDF")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {options['organisation']!r}.")
        try:
            with translation.override(options["language"]):
                getattr(self, f"_{options['action']}")(organisation, options)
        except AvisError as exc:
            raise CommandError(exc.message) from exc

    def _draw(self, organisation: Organisation, options: dict[str, Any]) -> None:
        wave = services.draw_wave(
            organisation=organisation,
            barometer_id=options["barometer"],
            number=options["wave"],
            seed=options["seed"],
        )
        design = wave.design
        self.stdout.write(
            f"Wave {wave.number} drawn with seed {wave.seed}: {design['sample_size']:,} customers "
            f"from a frame of {wave.frame_size:,}; expected margin ±{design['expected_margin']:.1f} points."
        )
        for reason, count in wave.exclusions.items():
            self.stdout.write(f"  left out at the draw, {reason}: {count:,}")
        if options["start"]:
            wave = services.start_fieldwork(
                organisation=organisation, barometer_id=options["barometer"], number=options["wave"]
            )
            self.stdout.write(f"Fieldwork started; it ends on {wave.fieldwork_ends_at:%Y-%m-%d %H:%M %Z}.")

    def _status(self, organisation: Organisation, options: dict[str, Any]) -> None:
        wave = queries.wave(
            organisation=organisation, barometer_id=options["barometer"], number=options["wave"]
        )
        progress = queries.fieldwork(wave=wave)
        self.stdout.write(f"{wave.barometer} — wave {wave.number}: {wave.get_status_display()}")
        columns = (
            ("sampled", 8),
            ("invited", 8),
            ("delivered", 9),
            ("completes", 9),
            ("target", 7),
            ("rate", 6),
        )
        self.stdout.write(f"{'stratum':<32} " + " ".join(f"{name:>{width}}" for name, width in columns))
        for row in [*progress.strata, progress.total]:
            rate = f"{row.response_rate:.0%}" if row.response_rate is not None else "—"
            full = " full" if row.key and row.full else ""
            self.stdout.write(
                f"{(row.key or 'all')[:32]:<32} {row.sampled:>8,} {row.invited:>8,} {row.delivered:>9,} "
                f"{row.completes:>9,} {row.target:>7,} {rate:>6}{full}"
            )
        rates = wave_rates(wave=wave).overall
        shown = ", ".join(
            f"{name} {value:.1%}"
            for name, value in rates.as_floats().items()
            if value is not None and name in ("RR1", "RR3", "COOP1", "REF1", "CON1")
        )
        self.stdout.write(f"AAPOR: {shown or '—'} (e: {rates.eligibility.explanation})")

    def _report(self, organisation: Organisation, options: dict[str, Any]) -> None:
        from avis.barometers.report import render_wave_report_pdf, wave_report_filename

        wave = queries.wave(
            organisation=organisation, barometer_id=options["barometer"], number=options["wave"]
        )
        pdf = render_wave_report_pdf(wave=wave, language=options["language"])
        path = Path(options["output"] or wave_report_filename(wave, options["language"]))
        path.write_bytes(pdf)
        self.stdout.write(f"Report of wave {wave.number} written to {path} ({len(pdf):,} bytes).")
