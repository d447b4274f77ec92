// A Kino translator: translates transcript segments word by word from a
// small built-in phrasebook, passing unknown words through.
//
// This module is the component's `translator` world
// (kino:stage/translator@0.1.0, see wit/worlds.wit). How WIT maps to JS here
// (componentize-js):
//   - the world's exports are named exports in camelCase:
//     `supported-pairs` -> `supportedPairs`, `max-batch-size` -> `maxBatchSize`;
//   - records are plain objects with camelCase fields (`start-ms` -> `startMs`);
//   - variants are `{ tag: 'case-name', val: payload }`; enums are strings;
//   - option<T> is the value or `undefined`; list<T> is an array;
//   - result<T, E>: return T for ok; THROW the E value for err, e.g.
//     `throw { tag: 'invalid-input', val: 'why' }`. Throwing a plain `Error`
//     traps the call instead.
//   - the host interface is imported from 'kino:stage/host@0.1.0'.
import { log, config } from 'kino:stage/host@0.1.0';

/** The most segments one `translate` call accepts. */
const MAX_BATCH_SIZE = 64;

/** source -> target -> word -> translation. Replace with your own backend. */
const PHRASEBOOK = {
  es: {
    en: { hola: 'hello', a: 'to', todos: 'everyone', gracias: 'thanks', por: 'for', venir: 'coming', y: 'and', buenos: 'good', 'días': 'morning' },
  },
  en: {
    es: { hello: 'hola', world: 'mundo', coffee: 'café', morning: 'mañana', good: 'buen', the: 'el', and: 'y' },
    fr: { hello: 'bonjour', world: 'monde', coffee: 'café', morning: 'matin', good: 'bon', the: 'le', and: 'et' },
  },
};

/** `en-US` -> `en`: tags are compared by their primary subtag. */
const primary = (tag) => tag.split('-')[0].toLowerCase();

/** Tenant terms from the `glossary` config key: `source = target; ...`. */
function glossary() {
  const terms = new Map();
  for (const entry of (config('glossary') ?? '').split(/[;\n]/)) {
    const [from, to] = entry.split('=').map((s) => s.trim());
    if (from && to) terms.set(from.toLowerCase(), to);
  }
  return terms;
}

export function supportedPairs() {
  return Object.entries(PHRASEBOOK).flatMap(([source, targets]) =>
    Object.keys(targets).map((target) => ({ source, target })),
  );
}

export function maxBatchSize() {
  return MAX_BATCH_SIZE;
}

export function translate(source, target, segments) {
  const words = PHRASEBOOK[primary(source)]?.[primary(target)];
  if (words === undefined) {
    throw { tag: 'invalid-input', val: `unsupported language pair ${source}->${target}` };
  }
  if (segments.length > MAX_BATCH_SIZE) {
    throw { tag: 'invalid-input', val: `${segments.length} segments, more than ${MAX_BATCH_SIZE}` };
  }
  const terms = glossary();
  let left = 0;
  const out = segments.map((segment) => {
    const untranslated = [];
    // Words (Latin letters, digits, apostrophes) are looked up; the rest is
    // kept. (The engine has no Unicode property escapes such as \p{L}.)
    const text = segment.text.replace(/[A-Za-z0-9\u00C0-\u024F']+/g, (word) => {
      const key = word.toLowerCase();
      const hit = terms.get(key) ?? words[key];
      if (hit !== undefined) return hit;
      if (!untranslated.includes(key)) untranslated.push(key);
      return word;
    });
    left += untranslated.length;
    // Keep id, timing and speaker unchanged.
    return { segment: { ...segment, text }, untranslated };
  });
  log('info', `translated ${segments.length} segments ${source}->${target}; ${left} words left untranslated`);
  return out;
}
