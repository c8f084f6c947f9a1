"""The `pii` guardrail: personal data found by Presidio's pattern recognizers.

Needs the `pii` extra (`.venv/bin/pip install '.[pii]'` from the clone: presidio-analyzer, with
spaCy, about 250 MB installed). No spaCy model is loaded: the recognizers used here are
Presidio's regex and checksum ones (e-mail addresses, phone numbers through Google's
`phonenumbers`, credit cards with the Luhn check, IBANs, US SSNs, IP addresses), run without an
NLP pipeline, so names and places (which need a model) are not found. E-mail domains are checked
against the public-suffix list tldextract ships, never one fetched at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import tldextract
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

from micro_mcp.errors import ConfigError
from micro_mcp.guardrails.model import Finding

_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
"""The public-suffix list of the installed tldextract: Presidio's default extractor downloads
the list on first use, which a gateway must not do (and cannot, offline)."""


class _OfflineEmail(EmailRecognizer):
    """Presidio's e-mail recognizer, its domain check on the shipped suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return _SUFFIXES(pattern_text).fqdn != ""


_RECOGNIZERS: dict[str, Callable[[], EntityRecognizer]] = {
    "EMAIL_ADDRESS": _OfflineEmail,
    "PHONE_NUMBER": PhoneRecognizer,
    "CREDIT_CARD": CreditCardRecognizer,
    "IBAN_CODE": lambda: IbanRecognizer(),  # its __init__ is typed too loosely to pass as is
    "US_SSN": UsSsnRecognizer,
    "IP_ADDRESS": IpRecognizer,
}
"""The entities the guardrail can find, and the recognizer of each."""


class _NoNlp(NlpEngine):
    """An NLP engine that does nothing: pattern recognizers need no tokens or entities."""

    def load(self) -> None:
        """Nothing to load."""

    def is_loaded(self) -> bool:
        """Always ready."""
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """No tokens, lemmas or entities."""
        return NlpArtifacts([], [], [], [], None, language)  # pyright: ignore[reportArgumentType]

    def process_batch(
        self,
        texts: Iterable[str],
        language: str,
        batch_size: int = 1,
        n_process: int = 1,
        **kwargs: Any,
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        """Each text with no artifacts."""
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        """No stop words."""
        return False

    def is_punct(self, word: str, language: str) -> bool:
        """No punctuation."""
        return False

    def get_supported_entities(self) -> list[str]:
        """None: the recognizers say what they find."""
        return []

    def get_supported_languages(self) -> list[str]:
        """English, the language of Presidio's pattern recognizers."""
        return ["en"]


_PHONE_CANDIDATE: Final = re.compile(r"(?<![\w+])\+?\(?\d[\d \t().-]{5,22}\d(?!\w)")
"""A run of digits, spaces, dots, dashes and parentheses that could be a phone number: Presidio's
phone recognizer (Google's `phonenumbers`, tried for each of eight regions) is run on these
alone, not on the whole text, which cost 80 ms for 4 KB of dates and sizes against 0.5 ms.
Numbers written with letters (`1-800-FLOWERS`) are not found."""
_PHONE_DIGITS: Final = 7
"""The fewest digits a phone number has (a local number without its area code)."""


class PiiDetector:
    """Finds personal data of the configured entity types, above a score."""

    slow = True  # a few milliseconds a call: always off the event loop

    def __init__(self, entities: tuple[str, ...], threshold: float) -> None:
        """Raises:
        ConfigError: an entity type this guardrail does not know.
        """
        unknown = sorted(set(entities) - set(_RECOGNIZERS))
        if unknown:
            raise ConfigError(
                f"guardrails: pii entities {', '.join(unknown)} are not known; "
                f"known: {', '.join(_RECOGNIZERS)}"
            )
        self._phone = PhoneRecognizer() if "PHONE_NUMBER" in entities else None
        self._artifacts = _NoNlp().process_text("", "en")
        others = [e for e in entities if e != "PHONE_NUMBER"]
        registry = RecognizerRegistry(recognizers=[_RECOGNIZERS[e]() for e in others])
        self._entities = others
        self._threshold = threshold
        self._analyzer = AnalyzerEngine(
            registry=registry, nlp_engine=_NoNlp(), supported_languages=["en"]
        )

    def find(self, text: str) -> list[Finding]:
        """Every span of personal data in `text`."""
        found: list[Finding] = []
        if self._entities:
            results = self._analyzer.analyze(
                text, language="en", entities=self._entities, score_threshold=self._threshold
            )
            found.extend(Finding(r.start, r.end, r.entity_type) for r in results)
        if self._phone is not None:
            for candidate in _PHONE_CANDIDATE.finditer(text):
                number = candidate.group(0)
                if sum(c.isdigit() for c in number) < _PHONE_DIGITS:
                    continue
                base = candidate.start()
                found.extend(
                    Finding(base + r.start, base + r.end, r.entity_type)
                    for r in self._phone.analyze(number, ["PHONE_NUMBER"], self._artifacts)
                    if r.score >= self._threshold
                )
        return found
