//! Word error rate, the accuracy measure of speech recognition (and, with a
//! known text spoken by a voice, of that voice's intelligibility).

/// Words as scored: lowercase, punctuation stripped (inner apostrophes kept).
pub fn words(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect();
    cleaned
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate: the word-level Levenshtein distance (substitutions,
/// insertions, deletions) over the reference's word count.
pub fn wer(reference: &str, hypothesis: &str) -> f32 {
    let (r, h) = (words(reference), words(hypothesis));
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut row = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(rw != hw))
                .min(prev[j + 1] + 1)
                .min(row[j] + 1);
        }
        prev = row;
    }
    prev[h.len()] as f32 / r.len().max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_substitutions_insertions_and_deletions() {
        assert_eq!(wer("The cat sat.", "the cat sat"), 0.0);
        assert_eq!(wer("the cat sat", "the bat sat"), 1.0 / 3.0);
        assert_eq!(wer("the cat sat", "the cat sat down"), 1.0 / 3.0);
        assert_eq!(wer("the cat sat", "cat"), 2.0 / 3.0);
    }
}
