"""The knowledge base: extraction (text, Markdown, PDF), passages, and retrieval by
PostgreSQL full-text search and by embeddings from the local OpenAI-compatible
server."""

import pytest
from django.db import connection

from apps.accounts.tests.factories import OrganizationFactory
from apps.bot import knowledge
from apps.bot.models import BotSettings, KnowledgeDocument, KnowledgePassage
from apps.bot.tests.factories import BotSettingsFactory, KnowledgeFAQFactory
from apps.bot.tests.helpers import make_pdf

pytestmark = pytest.mark.django_db


DOCS = {
    "Delivery": "We deliver cakes and bread within 5 km of the shop. Delivery costs 10 reais and takes one hour.",
    "Payment": "We accept credit cards, debit cards and Pix. Invoices are sent by email after payment.",
    "Allergies": "Our gluten-free products are made in a separate kitchen. Ask us about nuts and lactose.",
}


def index_docs(organization, docs=DOCS):
    for title, text in docs.items():
        document = KnowledgeDocument.objects.create(organization=organization, title=title, text=text, kind="text")
        knowledge.document_index(document=document)


@pytest.mark.parametrize(("question", "expected"), [
    ("How much does delivery cost?", "Delivery"),
    ("can I pay with pix or credit card", "Payment"),
    ("is the gluten free bread safe?", "Allergies"),
])
def test_retrieval_picks_the_right_passage(question, expected):
    organization = OrganizationFactory()
    index_docs(organization)
    index_docs(OrganizationFactory(), {"Other": "Delivery delivery delivery costs nothing at the other shop."})
    found = knowledge.retrieve(organization_id=organization.pk, query=question, limit=2)
    assert found[0].document.title == expected
    assert all(p.organization_id == organization.pk for p in found)


def test_retrieval_in_portuguese_ignores_accents_and_case():
    organization = OrganizationFactory()
    BotSettingsFactory(organization=organization, search_language=BotSettings.SearchLanguage.PORTUGUESE)
    index_docs(organization, {
        "Entrega": "Fazemos entregas de bolos em até 5 km. A entrega custa 10 reais.",
        "Pagamento": "Aceitamos cartão de crédito, débito e Pix.",
    })
    assert KnowledgePassage.objects.filter(organization=organization).first().language == "portuguese"
    found = knowledge.retrieve(organization_id=organization.pk, query="Vocês aceitam CARTAO de credito?", limit=1)
    assert [p.document.title for p in found] == ["Pagamento"]


def test_nothing_matches_nothing():
    organization = OrganizationFactory()
    index_docs(organization)
    assert knowledge.retrieve(organization_id=organization.pk, query="zebra xylophone", limit=3) == []
    assert knowledge.retrieve(organization_id=organization.pk, query="  ", limit=3) == []


def test_postgres_uses_the_stored_tsvector_and_gin_index():
    organization = OrganizationFactory()
    index_docs(organization)
    assert not KnowledgePassage.objects.filter(organization=organization, search_vector__isnull=True).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'bot_passage_search_gin'")
        assert "gin" in cursor.fetchone()[0].lower()


def test_faq_pairs_are_one_passage_each():
    organization = OrganizationFactory()
    faq = KnowledgeFAQFactory(organization=organization, question="Do you open on Sunday?", answer="Yes, 8 to 12.")
    knowledge.faq_index(faq=faq)
    knowledge.faq_index(faq=faq)  # re-indexing replaces
    [passage] = KnowledgePassage.objects.filter(faq=faq)
    assert passage.text == "Q: Do you open on Sunday?\nA: Yes, 8 to 12."
    assert knowledge.retrieve(organization_id=organization.pk, query="open sunday?", limit=1)[0].faq == faq


def test_long_documents_are_chunked_at_boundaries():
    sections = [f"# Section {i}\n\n" + ("Sentence about topic %d. " % i) * 30 for i in range(4)]
    text = "\n\n".join(sections)
    passages = knowledge.chunk(text, size=500, overlap=50)
    assert len(passages) >= 4
    assert all(len(p) <= 500 for p in passages)
    assert [p for p in passages if p.startswith("# Section 2")]
    assert "Sentence about topic 3." in passages[-1]


def test_pdf_text_is_extracted():
    data = make_pdf(["Opening hours: 7 am to 7 pm.", "Closed on Mondays."])
    text = knowledge.extract_text(kind="pdf", data=data, filename="hours.pdf")
    assert "Opening hours: 7 am to 7 pm." in text
    assert "Closed on Mondays." in text


def test_bad_files_are_refused_with_the_reason():
    with pytest.raises(knowledge.KnowledgeError) as error:
        knowledge.extract_text(kind="pdf", data=b"not a pdf at all", filename="x.pdf")
    assert error.value.field == "file"
    with pytest.raises(knowledge.KnowledgeError, match="Upload a .txt, .md or .pdf file."):
        knowledge.kind_for("photo.jpg")
    assert knowledge.kind_for("FAQ.MD") == "markdown"
    assert knowledge.extract_text(kind="text", data="Olá, café".encode("cp1252"), filename="a.txt") == "Olá, café"


def test_embeddings_where_configured(ai, settings):
    settings.OPENAI_EMBEDDING_MODEL = "test-embedding"
    organization = OrganizationFactory()
    BotSettingsFactory(organization=organization)
    index_docs(organization)
    assert not KnowledgePassage.objects.filter(organization=organization, embedding__isnull=True).exists()
    found = knowledge.retrieve(organization_id=organization.pk, query="pay with credit cards", limit=1)
    assert found[0].document.title == "Payment"
    embedding_requests = [r for r in ai.requests if r["path"].endswith("/embeddings")]
    last = embedding_requests[-1]["body"]
    assert (last["model"], last["input"]) == ("test-embedding", ["pay with credit cards"])
