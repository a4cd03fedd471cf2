from django.apps import AppConfig


class CustomersConfig(AppConfig):
    """Customers, their channels, locale, time zone and opt-outs."""

    name = "avis.customers"
    label = "customers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from avis.customers import customer_import  # noqa: F401  (registers the customers import)
