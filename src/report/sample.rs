//! The spot-check sample (R11): a reproducible random sample of recordings for a supervisor to
//! replay. The same seed and the same recordings give the same sample on every machine.

use super::{Period, RecordingFacts};

/// The sampling method, recorded with every sample so it can be repeated by hand.
pub const SAMPLE_METHOD: &str = "splitmix64-fisher-yates/1: recordings starting in the period, sorted by id \
     (byte order); SplitMix64 seeded with the seed; for i = 0..n, draw j uniformly in [i, count) by \
     rejection (draw r, reject r >= 2^64 - 2^64 mod (count - i), j = i + r mod (count - i)), swap positions i \
     and j; the first n positions are the sample, in draw order";

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-known generator whose output for a seed is
/// fixed by its definition, so a sample can be recomputed anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64-bit output.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..bound` (`bound > 0`), without modulo bias.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound <= 1 {
            return 0;
        }
        // Accept r < 2^64 - (2^64 mod bound), a whole number of copies of 0..bound.
        let last_ok = u64::MAX - (u64::MAX % bound + 1) % bound;
        loop {
            let r = self.next_u64();
            if r <= last_ok {
                return r % bound;
            }
        }
    }
}

/// A spot-check sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpotCheck {
    /// The period sampled.
    pub period: Period,
    /// The seed: recorded in the custody log with the sample.
    pub seed: u64,
    /// [`SAMPLE_METHOD`].
    pub method: &'static str,
    /// Recordings in the period.
    pub population: usize,
    /// Sample size asked for.
    pub requested: usize,
    /// The sampled recordings, in draw order (fewer than asked when the period holds fewer).
    pub picks: Vec<RecordingFacts>,
}

/// Draws `n` recordings starting in `period`, without replacement, reproducibly from `seed`.
/// The order of `recordings` does not matter.
pub fn spot_check(recordings: &[RecordingFacts], period: Period, n: usize, seed: u64) -> SpotCheck {
    let mut pool: Vec<&RecordingFacts> = recordings.iter().filter(|r| period.contains(r.start)).collect();
    pool.sort_by(|a, b| a.id.as_bytes().cmp(b.id.as_bytes()));
    pool.dedup_by(|a, b| a.id == b.id);
    let population = pool.len();
    let take = n.min(population);
    let mut rng = SplitMix64::new(seed);
    for i in 0..take {
        let j = i + rng.below((population - i) as u64) as usize;
        pool.swap(i, j);
    }
    SpotCheck {
        period,
        seed,
        method: SAMPLE_METHOD,
        population,
        requested: n,
        picks: pool.into_iter().take(take).cloned().collect(),
    }
}
