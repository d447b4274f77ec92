//! Scene counts and timing marks.
//!
//! Every function here keeps one invariant: the durations it returns add up
//! exactly to the total it was given, so the scenes tile the timeline.

/// The shortest scene the writer produces: anything shorter is a flash that
/// a viewer cannot read or a voice cannot fill.
pub(crate) const MIN_SCENE_MS: u32 = 1500;

/// The most scenes one script gets, however long the target: beyond this the
/// arc runs out of distinct beats and scenes just get longer.
const MAX_SCENES: usize = 24;

/// How many scenes a script of `target_ms` should have: 3 for the shortest
/// spots, 4 at 15 s, 5 at 30 s, 8 at 60 s, then one more per extra 15 s
/// (12 at 120 s), never so many that a scene drops under [`MIN_SCENE_MS`].
pub(crate) fn scene_count(target_ms: u32) -> usize {
    let target_s = target_ms / 1000;
    let by_length = match target_s {
        0..=9 => 3,
        10..=22 => 4,
        23..=39 => 5,
        40..=49 => 6,
        50..=59 => 7,
        _ => 8 + ((target_s - 60) / 15) as usize,
    };
    let fitting = (target_ms / MIN_SCENE_MS) as usize;
    by_length.min(MAX_SCENES).min(fitting).max(1)
}

/// Splits `total_ms` over scenes in proportion to `weights`, giving every
/// scene at least `min_ms` (or an equal share, if `total_ms` cannot give that
/// much to all). The result adds up to exactly `total_ms`.
///
/// Scenes whose proportional share would fall under the minimum are pinned
/// to it and the rest share what is left; pinning lowers everyone else's
/// share, so this repeats until no share falls under. Integer rounding hands
/// the last few milliseconds to the largest remainders, earliest first, so
/// the split is deterministic.
pub(crate) fn split(total_ms: u32, weights: &[u32], min_ms: u32) -> Vec<u32> {
    let count = weights.len();
    if count == 0 {
        return Vec::new();
    }
    let total = u64::from(total_ms);
    let min = u64::from(min_ms).min(total / count as u64);
    let weights: Vec<u64> = weights.iter().map(|&w| u64::from(w.max(1))).collect();

    let mut pinned = vec![false; count];
    loop {
        let (free_total, free_weight) = free_share(total, min, &weights, &pinned);
        let mut changed = false;
        for (i, weight) in weights.iter().enumerate() {
            // share = free_total * weight / free_weight < min, without dividing.
            if !pinned[i] && free_total * weight < min * free_weight {
                pinned[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    let (free_total, free_weight) = free_share(total, min, &weights, &pinned);
    let mut durations = vec![min; count];
    if free_weight == 0 {
        // Unreachable while total >= count * min, but keep the sum exact anyway.
        durations[count - 1] += total - min * count as u64;
        return to_u32(durations);
    }
    let mut remainders = Vec::new();
    let mut assigned = 0;
    for (i, weight) in weights.iter().enumerate().filter(|(i, _)| !pinned[*i]) {
        let share = free_total * weight;
        durations[i] = share / free_weight;
        assigned += durations[i];
        remainders.push((share % free_weight, i));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let leftover = (free_total - assigned) as usize;
    for &(_, i) in remainders.iter().take(leftover) {
        durations[i] += 1;
    }
    to_u32(durations)
}

/// The time not taken by pinned scenes, and the weight of the scenes sharing it.
fn free_share(total: u64, min: u64, weights: &[u64], pinned: &[bool]) -> (u64, u64) {
    let pinned_count = pinned.iter().filter(|p| **p).count() as u64;
    let free_weight = weights
        .iter()
        .zip(pinned)
        .filter(|(_, p)| !**p)
        .map(|(w, _)| w)
        .sum();
    (total - min * pinned_count, free_weight)
}

/// Narrows durations back to `u32`: each is at most the `u32` total they split.
fn to_u32(durations: Vec<u64>) -> Vec<u32> {
    durations
        .into_iter()
        .map(|d| u32::try_from(d).unwrap_or(u32::MAX))
        .collect()
}

/// Moves every scene boundary to the nearest beat of a `beat_ms` grid, so a
/// music video cuts on the beat. The total is unchanged (the last scene ends
/// where the piece ends). Returns `None` when snapping would push a scene
/// under `min_ms`; the caller then keeps the unsnapped durations.
pub(crate) fn snap_to_beat(durations: &[u32], beat_ms: u32, min_ms: u32) -> Option<Vec<u32>> {
    let (last, inner) = durations.split_last()?;
    if beat_ms == 0 || inner.is_empty() {
        return None;
    }
    let beat = u64::from(beat_ms);
    let min = u64::from(min_ms);
    let total: u64 = inner.iter().map(|&d| u64::from(d)).sum::<u64>() + u64::from(*last);
    let mut snapped_durations = Vec::with_capacity(durations.len());
    let (mut boundary, mut previous) = (0u64, 0u64);
    for &duration in inner {
        boundary += u64::from(duration);
        let snapped = (boundary + beat / 2) / beat * beat;
        // The scene before this boundary, and the time left after it, must both fit.
        if snapped < previous + min || snapped + min > total {
            return None;
        }
        snapped_durations.push(snapped - previous);
        previous = snapped;
    }
    snapped_durations.push(total - previous);
    Some(to_u32(snapped_durations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_counts_grow_with_length() {
        assert_eq!(scene_count(5_000), 3);
        assert_eq!(scene_count(15_000), 4);
        assert_eq!(scene_count(30_000), 5);
        assert_eq!(scene_count(60_000), 8);
        assert_eq!(scene_count(120_000), 12);
        assert_eq!(scene_count(3_600_000), MAX_SCENES);
    }

    #[test]
    fn split_is_proportional_exact_and_respects_the_minimum() {
        let durations = split(30_000, &[10, 10, 20, 1, 5], MIN_SCENE_MS);
        assert_eq!(durations.iter().sum::<u32>(), 30_000);
        assert!(
            durations.iter().all(|&d| d >= MIN_SCENE_MS),
            "{durations:?}"
        );
        assert_eq!(durations[3], MIN_SCENE_MS);
        assert!(durations[2] > durations[0] && durations[0] > durations[4]);
    }

    #[test]
    fn split_handles_a_total_below_the_minimums() {
        let durations = split(4_000, &[1, 1, 1], MIN_SCENE_MS);
        assert_eq!(durations.iter().sum::<u32>(), 4_000);
    }

    #[test]
    fn snapping_keeps_the_total_and_lands_on_beats() {
        let snapped = snap_to_beat(&[7_100, 7_900, 15_000], 625, MIN_SCENE_MS);
        assert_eq!(snapped, Some(vec![6_875, 8_125, 15_000]));
        assert_eq!(snap_to_beat(&[1_600, 1_600], 2_000, MIN_SCENE_MS), None);
    }
}
