"""Sample templates at the built-in simulator (the stand-in for Meta), one set per
WhatsApp Business Account of the numbers: the demo's template picker and
notifications have something to use. They reach our tables by sync, which calls the
web server: `manage.py demo` runs sync_templates once /readyz answers (or run it
while a server runs)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

SAMPLES = [
    {"name": "order_update", "language": "en_US", "category": "UTILITY", "parameter_format": "POSITIONAL",
     "components": [
         {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": {"header_text": ["#1042"]}},
         {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is now {{3}}.",
          "example": {"body_text": [["Ann", "#1042", "on its way"]]}},
         {"type": "FOOTER", "text": "Reply STOP to opt out"},
         {"type": "BUTTONS", "buttons": [
             {"type": "URL", "text": "Track", "url": "https://shop.example/track/{{1}}",
              "example": ["https://shop.example/track/1042"]},
             {"type": "QUICK_REPLY", "text": "Thanks"}]},
     ]},
    {"name": "welcome_back", "language": "en_US", "category": "UTILITY", "parameter_format": "NAMED",
     "components": [
         {"type": "BODY", "text": "Hello {{first_name}}, we are here if you need anything.",
          "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ann"}]}},
     ]},
    {"name": "pedido_atualizado", "language": "pt_BR", "category": "UTILITY", "parameter_format": "POSITIONAL",
     "components": [{"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} foi atualizado.",
                     "example": {"body_text": [["Ana", "#1042"]]}}]},
    {"name": "login_code", "language": "en_US", "category": "AUTHENTICATION", "parameter_format": "POSITIONAL",
     "components": [
         {"type": "BODY", "text": "{{1}} is your verification code.", "add_security_recommendation": True},
         {"type": "FOOTER", "text": "This code expires in 10 minutes.", "code_expiration_minutes": 10},
         {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Copy code",
                                          "url": "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}"}]},
     ]},
    {"name": "summer_sale", "language": "en_US", "category": "MARKETING", "parameter_format": "POSITIONAL",
     "components": [
         {"type": "BODY", "text": "Summer sale: use code {{1}} for {{2}} off today.",
          "example": {"body_text": [["SUMMER15", "15%"]]}},
         {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "SUMMER15"}]},
     ]},
]


class Command(BaseCommand):
    help = "Put sample message templates in the built-in simulator for every number's WhatsApp Business Account."

    def handle(self, *args, **options):
        from apps.simulator.models import SimulatedTemplate
        from apps.whatsapp.models import WhatsAppNumber

        if not settings.SIMULATOR_ENABLED:
            raise CommandError("The simulator is not enabled: create templates at Meta (or in admin) instead.")
        created = 0
        wabas = sorted(set(WhatsAppNumber.objects.exclude(waba_id="").values_list("waba_id", flat=True)))
        for waba_id in wabas:
            for index, sample in enumerate(SAMPLES):
                _row, new = SimulatedTemplate.objects.get_or_create(
                    waba_id=waba_id, name=sample["name"], language=sample["language"],
                    defaults={"meta_id": f"9{waba_id[-9:]:0>9}{index:03d}", "category": sample["category"],
                              "status": "APPROVED", "parameter_format": sample["parameter_format"],
                              "components": sample["components"]},
                )
                created += new
        self.stdout.write(f"{created} sample templates added at the simulator for {len(wabas)} WhatsApp Business "
                          "Account(s); `manage.py demo` syncs them once the server answers (or run sync_templates).")
