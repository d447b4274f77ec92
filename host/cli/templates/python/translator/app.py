"""A Kino translator: translates transcript segments word by word from a small
built-in phrasebook, passing unknown words through.

This module is the component's `translator` world
(kino:stage/translator@0.1.0, see wit/worlds.wit). How WIT maps to Python
here (componentize-py; `componentize-py -d wit -w translator bindings .`
writes the bindings to read, with type hints, into `wit_world/`):

- the world's exports are methods of a class named `WitWorld` in this module,
  subclassing `wit_world.WitWorld`, in snake_case (`supported-pairs` ->
  `supported_pairs`, `max-batch-size` -> `max_batch_size`);
- records are dataclasses with snake_case fields (`start-ms` -> `start_ms`);
- variants are one dataclass per case (`PluginError_InvalidInput("why")`);
- option<T> is `Optional[T]`; list<T> is a Python list; integers are `int`;
- result<T, E>: return T for ok; `raise Err(E)` (from componentize_py_types)
  for err. Any other exception traps the call;
- the host interface is the module `wit_world.imports.host`.
"""

import dataclasses
import re
from typing import Dict, List

import wit_world
from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports.types import (
    LanguagePair,
    PluginError_InvalidInput,
    Segment,
    TranslatedSegment,
)

# The most segments one `translate` call accepts.
MAX_BATCH_SIZE = 64

# source -> target -> word -> translation. Replace with your own backend.
PHRASEBOOK: Dict[str, Dict[str, Dict[str, str]]] = {
    "es": {
        "en": {"hola": "hello", "a": "to", "todos": "everyone", "gracias": "thanks", "por": "for",
               "venir": "coming", "y": "and", "buenos": "good", "días": "morning"},
    },
    "en": {
        "es": {"hello": "hola", "world": "mundo", "coffee": "café", "morning": "mañana",
               "good": "buen", "the": "el", "and": "y"},
        "fr": {"hello": "bonjour", "world": "monde", "coffee": "café", "morning": "matin",
               "good": "bon", "the": "le", "and": "et"},
    },
}

# Words (letters, digits, apostrophes) are looked up; the rest is kept.
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def primary(tag: str) -> str:
    """`en-US` -> `en`: tags are compared by their primary subtag."""
    return tag.split("-")[0].lower()


def glossary() -> Dict[str, str]:
    """Tenant terms from the `glossary` config key: `source = target; ...`."""
    terms = {}
    for entry in re.split(r"[;\n]", host.config("glossary") or ""):
        source, sep, target = entry.partition("=")
        if sep and source.strip() and target.strip():
            terms[source.strip().lower()] = target.strip()
    return terms


class WitWorld(wit_world.WitWorld):
    def supported_pairs(self) -> List[LanguagePair]:
        return [
            LanguagePair(source=source, target=target)
            for source, targets in PHRASEBOOK.items()
            for target in targets
        ]

    def max_batch_size(self) -> int:
        return MAX_BATCH_SIZE

    def translate(self, source: str, target: str, segments: List[Segment]) -> List[TranslatedSegment]:
        words = PHRASEBOOK.get(primary(source), {}).get(primary(target))
        if words is None:
            raise Err(PluginError_InvalidInput(f"unsupported language pair {source}->{target}"))
        if len(segments) > MAX_BATCH_SIZE:
            raise Err(PluginError_InvalidInput(f"{len(segments)} segments, more than {MAX_BATCH_SIZE}"))
        terms = glossary()
        out = []
        left = 0
        for segment in segments:
            untranslated: List[str] = []

            def swap(match: "re.Match[str]") -> str:
                word = match.group(0)
                key = word.lower()
                hit = terms.get(key, words.get(key))
                if hit is not None:
                    return hit
                if key not in untranslated:
                    untranslated.append(key)
                return word

            text = WORD.sub(swap, segment.text)
            left += len(untranslated)
            # Keep id, timing and speaker unchanged.
            out.append(TranslatedSegment(segment=dataclasses.replace(segment, text=text), untranslated=untranslated))
        host.log(
            host.LogLevel.INFO,
            f"translated {len(segments)} segments {source}->{target}; {left} words left untranslated",
        )
        return out
