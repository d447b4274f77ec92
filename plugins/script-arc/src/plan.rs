//! The arrangements: which beats a script has, and in what order.
//!
//! An arrangement is a template of slots, each with a drop rank. Planning a
//! script for a scene count deals out the facts, drops the highest-ranked
//! slots while there are too many and pads with "moment" beats while there
//! are too few, then closes on the call to action, always.

use crate::compose::MOMENT_COUNT;

/// A way of ordering a script's beats; each script follows one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    /// Opens on the audience's problem, then the product, its facts and proof.
    ProblemFirst,
    /// Opens on an attention hook, then the problem, the product and its facts.
    HookFirst,
    /// Introduces the product, then states its facts one numbered beat at a time.
    FactStack,
    /// Opens on someone from the audience stating a fact, then product and proof.
    TestimonialProof,
    /// Opens and closes on the call to action, with the reasons in between.
    CtaBookend,
}

/// One scene's content, before it is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Grabs attention and names the brand.
    Hook,
    /// Names what the audience puts up with.
    Problem,
    /// Introduces the product.
    Reveal,
    /// States the fact at this index of the brief's facts, numbered in a fact stack.
    Fact { fact: usize, number: Option<usize> },
    /// Backs the story with the fact at this index.
    Proof(usize),
    /// Shows the product working, without a claim (variant ordinal).
    Demo(usize),
    /// Someone from the audience speaks, stating the fact at this index if any.
    Testimonial(Option<usize>),
    /// A padding beat for long targets: a claim-free moment (variant ordinal).
    Moment(usize),
    /// Announces the call to action up front (the cta-bookend's opening).
    CtaTease,
    /// The call to action, intact; always the last scene.
    Cta,
}

/// A beat in a template, before facts are dealt out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Hook,
    Problem,
    Reveal,
    Fact,
    Proof,
    Testimonial,
    CtaTease,
    Moment,
}

/// A template entry: one step, or the brief's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    One(Step),
    /// The first fact not already spoken for; kept longer than the rest.
    LeadFact,
    /// Every remaining fact, one step each.
    MoreFacts,
}

/// A slot and its drop rank: the highest rank goes first when the target is
/// too short for everything (the latest slot first, among equals); rank 0 is
/// the arrangement's signature opening and always stays.
type Entry = (Slot, u8);

impl Arrangement {
    /// Every arrangement, in the order ties are ranked.
    pub const ALL: [Self; 5] = [
        Self::ProblemFirst,
        Self::HookFirst,
        Self::FactStack,
        Self::TestimonialProof,
        Self::CtaBookend,
    ];

    /// The arrangement's name, as a script's `variation`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ProblemFirst => "problem-first",
            Self::HookFirst => "hook-first",
            Self::FactStack => "fact-stack",
            Self::TestimonialProof => "testimonial-proof",
            Self::CtaBookend => "cta-bookend",
        }
    }

    /// How the music serves this arrangement, for the script's music notes.
    /// In a music video nobody speaks but the call to action, so the track
    /// never ducks under a voice.
    pub(crate) fn music_note(self, music_video: bool) -> &'static str {
        match self {
            Self::ProblemFirst => {
                "start sparse under the problem and lift when the product appears"
            }
            Self::HookFirst => "open on a hit to land the hook",
            Self::FactStack => "a percussive accent under each fact",
            Self::TestimonialProof if music_video => "a breakdown under the testimonial shot",
            Self::TestimonialProof => "keep the bed low under the testimonial voice",
            Self::CtaBookend => "the same sting on the first and the last scene",
        }
    }

    fn template(self) -> &'static [Entry] {
        use Slot::{LeadFact, MoreFacts, One};
        match self {
            Self::ProblemFirst => &[
                (One(Step::Problem), 0),
                (One(Step::Reveal), 1),
                (LeadFact, 2),
                (MoreFacts, 3),
                (One(Step::Proof), 4),
            ],
            Self::HookFirst => &[
                (One(Step::Hook), 0),
                (One(Step::Problem), 3),
                (One(Step::Reveal), 1),
                (LeadFact, 2),
                (MoreFacts, 4),
                (One(Step::Proof), 5),
            ],
            Self::FactStack => &[
                (One(Step::Reveal), 0),
                (LeadFact, 1),
                (MoreFacts, 2),
                (One(Step::Proof), 3),
            ],
            Self::TestimonialProof => &[
                (One(Step::Testimonial), 0),
                (One(Step::Problem), 4),
                (One(Step::Reveal), 1),
                (LeadFact, 3),
                (MoreFacts, 5),
                (One(Step::Proof), 2),
            ],
            Self::CtaBookend => &[
                (One(Step::CtaTease), 0),
                (One(Step::Reveal), 1),
                (LeadFact, 2),
                (MoreFacts, 4),
                (One(Step::Proof), 3),
            ],
        }
    }

    /// The beats of a script with (at most) `scenes` scenes for a brief with
    /// `fact_count` facts. The last beat is always [`Beat::Cta`]. Fewer
    /// scenes come back only when the arrangement runs out of distinct beats.
    pub(crate) fn plan(self, fact_count: usize, scenes: usize) -> Vec<Beat> {
        let mut steps = self.expand(fact_count);
        let body = scenes
            .saturating_sub(1)
            .min(steps.len() + MOMENT_COUNT)
            .max(1);
        drop_to(&mut steps, body);
        // Padding goes last before the call to action: life with the product,
        // right before the viewer is asked to act.
        steps.resize(steps.len().max(body), (Step::Moment, u8::MAX));
        let steps: Vec<Step> = steps.into_iter().map(|(step, _)| step).collect();
        let mut beats = resolve(&steps, fact_count, self == Self::FactStack);
        beats.push(Beat::Cta);
        beats
    }

    /// The template with its fact slots expanded to one step per fact, each
    /// keeping its slot's rank. A testimonial claims its fact first, so the
    /// fact slots get one fewer.
    fn expand(self, fact_count: usize) -> Vec<(Step, u8)> {
        let template = self.template();
        let testimonials = template
            .iter()
            .filter(|(slot, _)| *slot == Slot::One(Step::Testimonial))
            .count();
        let mut free_facts = fact_count.saturating_sub(testimonials);
        let mut steps = Vec::new();
        for &(slot, rank) in template {
            let (step, copies) = match slot {
                Slot::One(step) => (step, 1),
                Slot::LeadFact => (Step::Fact, free_facts.min(1)),
                Slot::MoreFacts => (Step::Fact, free_facts),
            };
            if step == Step::Fact {
                free_facts -= copies;
            }
            steps.extend(std::iter::repeat_n((step, rank), copies));
        }
        steps
    }
}

/// Removes entries, highest rank and latest first, until `len` are left.
/// Rank 0 survives; should only rank-0 entries be left, the list is cut.
fn drop_to(steps: &mut Vec<(Step, u8)>, len: usize) {
    while steps.len() > len {
        let victim = steps
            .iter()
            .enumerate()
            .filter(|(_, (_, rank))| *rank > 0)
            .max_by_key(|(i, (_, rank))| (*rank, *i))
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                steps.remove(i);
            }
            None => steps.truncate(len),
        }
    }
}

/// Turns steps into beats, dealing out the facts in playing order so each
/// fact is stated at most once; steps that want a fact when none is left fall
/// back to claim-free beats.
fn resolve(steps: &[Step], fact_count: usize, numbered: bool) -> Vec<Beat> {
    let mut facts = 0..fact_count;
    let (mut demos, mut moments, mut numbers) = (0, 0, 0);
    steps
        .iter()
        .map(|step| match step {
            Step::Hook => Beat::Hook,
            Step::Problem => Beat::Problem,
            Step::Reveal => Beat::Reveal,
            Step::CtaTease => Beat::CtaTease,
            Step::Testimonial => Beat::Testimonial(facts.next()),
            Step::Proof => match facts.next() {
                Some(fact) => Beat::Proof(fact),
                None => Beat::Demo(bump(&mut demos)),
            },
            Step::Fact => match facts.next() {
                Some(fact) => Beat::Fact {
                    fact,
                    number: numbered.then(|| bump(&mut numbers) + 1),
                },
                None => Beat::Moment(bump(&mut moments)),
            },
            Step::Moment => Beat::Moment(bump(&mut moments)),
        })
        .collect()
}

/// Returns `counter` and advances it: the ordinal of the next variant.
fn bump(counter: &mut usize) -> usize {
    *counter += 1;
    *counter - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_plans_keep_the_signature_opening_and_a_fact() {
        assert_eq!(
            Arrangement::HookFirst.plan(3, 4),
            [
                Beat::Hook,
                Beat::Reveal,
                Beat::Fact {
                    fact: 0,
                    number: None
                },
                Beat::Cta
            ]
        );
        assert_eq!(
            Arrangement::TestimonialProof.plan(3, 4),
            [
                Beat::Testimonial(Some(0)),
                Beat::Reveal,
                Beat::Proof(1),
                Beat::Cta
            ]
        );
    }

    #[test]
    fn long_plans_pad_with_distinct_moments() {
        let beats = Arrangement::FactStack.plan(2, 12);
        assert_eq!(beats.len(), 12);
        assert_eq!(
            beats[1],
            Beat::Fact {
                fact: 0,
                number: Some(1)
            }
        );
        assert_eq!(
            beats[2],
            Beat::Fact {
                fact: 1,
                number: Some(2)
            }
        );
        assert_eq!(beats[3], Beat::Demo(0));
        let moments: Vec<_> = beats
            .iter()
            .filter(|b| matches!(b, Beat::Moment(_)))
            .collect();
        assert_eq!(moments.len(), 7);
        assert_eq!(beats.last(), Some(&Beat::Cta));
    }

    #[test]
    fn plans_stop_growing_when_beats_run_out() {
        let beats = Arrangement::FactStack.plan(0, 40);
        assert_eq!(beats.len(), 2 + MOMENT_COUNT + 1);
    }
}
