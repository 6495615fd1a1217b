"""The knowledge base: text extraction, passages, and retrieval.

Retrieval, best available first:
- embeddings, when OPENAI_EMBEDDING_MODEL is set and the passages have vectors:
  cosine similarity in Python (fine for the few thousand passages of a business);
- otherwise PostgreSQL full-text search: a tsvector per passage (the organisation's
  language, GIN-indexed), ranked with ts_rank against an OR of the question's words.
"""

from __future__ import annotations

import io
import logging
import math
import re
import unicodedata

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import transaction
from django.db.models import F

from .models import KnowledgeDocument, KnowledgeFAQ, KnowledgePassage

logger = logging.getLogger(__name__)

PASSAGE_CHARS = 1200
PASSAGE_OVERLAP = 150
MAX_FILE_BYTES = 10 * 1024 * 1024

STOPWORDS = set(
    """a an and are as at be by do does for from how i in is it me my of on or our the this to we what when where which
    who why will with you your can could would should have has had not no yes please hi hello there
    o os as um uma uns umas e de do da dos das em no na nos nas para por com que se eu meu minha voce voces seu sua
    qual quais quando onde como porque por favor ola oi tem ter sao ser estar esta este isso""".split()
)


class KnowledgeError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- Text ----------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"\w+", fold(text)) if w not in STOPWORDS and len(w) > 1]


def extract_text(*, kind: str, data: bytes, filename: str = "") -> str:
    """The text of an uploaded document. Raises KnowledgeError naming the file field."""
    if len(data) > MAX_FILE_BYTES:
        raise KnowledgeError("file", f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if kind == KnowledgeDocument.Kind.PDF:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(io.BytesIO(data))
            text = "\n\n".join((page.extract_text() or "") for page in reader.pages)
        except (PdfReadError, ValueError, KeyError, OSError) as exc:
            raise KnowledgeError("file", f"This PDF cannot be read ({exc}).") from exc
        if not text.strip():
            raise KnowledgeError("file", "This PDF has no text to extract (a scanned image?).")
        return text
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise KnowledgeError("file", "The file is not UTF-8 text.")


def kind_for(filename: str) -> str:
    name = filename.lower()
    if name.endswith(".pdf"):
        return KnowledgeDocument.Kind.PDF
    if name.endswith((".md", ".markdown")):
        return KnowledgeDocument.Kind.MARKDOWN
    if name.endswith((".txt", ".text")):
        return KnowledgeDocument.Kind.TEXT
    raise KnowledgeError("file", "Upload a .txt, .md or .pdf file.")


def chunk(text: str, *, size: int = PASSAGE_CHARS, overlap: int = PASSAGE_OVERLAP) -> list[str]:
    """Cut text into passages of about `size` characters at paragraph (then sentence)
    boundaries; a Markdown heading starts a new passage and is kept with it."""
    text = text.replace("\r\n", "\n")
    blocks = [b.strip() for b in re.split(r"\n\s*\n|\n(?=#{1,6} )", text) if b.strip()]
    pieces: list[str] = []
    for block in blocks:
        if len(block) <= size:
            pieces.append(block)
            continue
        sentences = re.split(r"(?<=[.!?])\s+", block)
        current = ""
        for sentence in sentences:
            while len(sentence) > size:  # one endless sentence: cut hard
                pieces.append(sentence[:size])
                sentence = sentence[size - overlap:]
            if current and len(current) + len(sentence) + 1 > size:
                pieces.append(current)
                current = current[-overlap:].split(" ", 1)[-1] + " " + sentence if overlap else sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            pieces.append(current)
    passages: list[str] = []
    current = ""
    for piece in pieces:
        starts_section = piece.startswith("#")
        if current and (starts_section or len(current) + len(piece) + 2 > size):
            passages.append(current)
            current = piece
        else:
            current = f"{current}\n\n{piece}".strip()
    if current:
        passages.append(current)
    return passages


# --- Indexing ------------------------------------------------------------------------


def _language(organization_id: int) -> str:
    from .models import BotSettings

    settings_row = BotSettings.objects.filter(organization_id=organization_id, number__isnull=True).first()
    return settings_row.search_language if settings_row else BotSettings.SearchLanguage.ENGLISH


def _store_passages(*, organization_id: int, texts: list[str], document=None, faq=None) -> list[KnowledgePassage]:
    language = _language(organization_id)
    with transaction.atomic():
        if document is not None or faq is not None:
            KnowledgePassage.objects.filter(document=document, faq=faq, organization_id=organization_id).delete()
        passages = KnowledgePassage.objects.bulk_create([
            KnowledgePassage(organization_id=organization_id, document=document, faq=faq, position=i, text=text,
                             language=language)
            for i, text in enumerate(texts)
        ])
        if passages:
            KnowledgePassage.objects.filter(pk__in=[p.pk for p in passages]).update(
                search_vector=SearchVector("text", config=F("language"))
            )
    _embed(organization_id, passages)
    return passages


def _embed(organization_id: int, passages: list[KnowledgePassage]) -> None:
    from django.conf import settings

    from . import client

    if not settings.OPENAI_EMBEDDING_MODEL or not passages:
        return
    from .selectors import settings_for

    bot_settings = settings_for(organization_id=organization_id, number_id=None)
    if not client.is_configured(bot_settings):
        return
    try:
        vectors = client.embed(organization_id=organization_id, texts=[p.text for p in passages],
                               bot_settings=bot_settings)
    except client.AIError as exc:  # full-text search still works meanwhile
        logger.warning("embeddings of %d passages failed: %s", len(passages), exc.detail)
        return
    for passage, vector in zip(passages, vectors):
        KnowledgePassage.objects.filter(pk=passage.pk).update(embedding=vector)
        passage.embedding = vector


def document_index(*, document: KnowledgeDocument) -> list[KnowledgePassage]:
    """(Re)build the passages of a document from its text."""
    return _store_passages(organization_id=document.organization_id, texts=chunk(document.text), document=document)


def faq_index(*, faq: KnowledgeFAQ) -> list[KnowledgePassage]:
    text = f"Q: {faq.question.strip()}\nA: {faq.answer.strip()}"
    return _store_passages(organization_id=faq.organization_id, texts=[text], faq=faq)


def organization_reindex(*, organization_id: int) -> int:
    """Rebuild every passage (after a change of language or embeddings model)."""
    count = 0
    for document in KnowledgeDocument.objects.filter(organization_id=organization_id):
        count += len(document_index(document=document))
    for faq in KnowledgeFAQ.objects.filter(organization_id=organization_id):
        count += len(faq_index(faq=faq))
    return count


# --- Retrieval -----------------------------------------------------------------------


def retrieve(*, organization_id: int, query: str, limit: int = 4, bot_settings=None) -> list[KnowledgePassage]:
    """The passages most relevant to `query`, best first (only ones that match)."""
    if not query.strip() or limit <= 0:
        return []
    from django.conf import settings

    if settings.OPENAI_EMBEDDING_MODEL:
        found = _retrieve_embeddings(organization_id, query, limit, bot_settings)
        if found is not None:
            return found
    return _retrieve_postgres(organization_id, query, limit)


def _retrieve_postgres(organization_id: int, query: str, limit: int) -> list[KnowledgePassage]:
    words = [w for w in re.findall(r"\w+", fold(query)) if w not in STOPWORDS and len(w) > 1]
    if not words:
        return []
    language = _language(organization_id)
    # An OR of the words: a customer's question rarely has every word of the answer.
    search = SearchQuery(" | ".join(dict.fromkeys(words)), search_type="raw", config=language)
    return list(
        KnowledgePassage.objects.filter(organization_id=organization_id, search_vector=search)
        .annotate(rank=SearchRank(F("search_vector"), search))
        .select_related("document", "faq")
        .order_by("-rank", "id")[:limit]
    )


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _retrieve_embeddings(organization_id, query, limit, bot_settings) -> list[KnowledgePassage] | None:
    from . import client

    passages = list(
        KnowledgePassage.objects.filter(organization_id=organization_id, embedding__isnull=False)
        .select_related("document", "faq")
    )
    if not passages or not client.is_configured(bot_settings):
        return None
    try:
        [vector] = client.embed(organization_id=organization_id, texts=[query], bot_settings=bot_settings)
    except client.AIError as exc:
        logger.warning("query embedding failed, falling back to full-text search: %s", exc.detail)
        return None
    for passage in passages:
        passage.rank = _cosine(vector, passage.embedding)
    passages = [p for p in passages if p.rank > 0]
    passages.sort(key=lambda p: (-p.rank, p.pk))
    return passages[:limit]
