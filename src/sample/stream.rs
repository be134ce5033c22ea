//! Counter-based seeding: which random stream a batch of draws comes from.
//!
//! A run must print the same numbers on every machine, for every thread
//! count and every future Rust release, or an audit that passed yesterday
//! could fail today for no reason in the mathematics. So a stream is named,
//! not drawn: the user's seed and the strings that identify what is being
//! sampled (file, claim, scenario, side) are hashed into a [`StreamKey`],
//! and batch `b` of that key is seeded from the key and `b` alone. Nothing
//! depends on which thread runs a batch or in which order.
//!
//! Both mixing functions are written out here rather than borrowed: std's
//! `DefaultHasher` is explicitly allowed to change between releases, and a
//! crate's `seed_from_u64` is an implementation detail it may revise.
//! FNV-1a and SplitMix64 are fixed, published algorithms with published
//! test vectors.

use crate::model::law::{LANES, Lanes};

/// A stable 64-bit name for one random stream family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamKey(pub u64);

impl StreamKey {
    /// A stable 64-bit key from a user seed and the parts that name a
    /// stream (file, claim id, scenario, ...).
    ///
    /// Each part is hashed after its length, so `["ab", "c"]` and
    /// `["a", "bc"]` name different streams. The FNV-1a digest is then run
    /// through the SplitMix64 finaliser, because FNV's low bits are weak and
    /// the key seeds generators directly.
    pub fn new(seed: u64, parts: &[&str]) -> StreamKey {
        let mut h = Fnv1a::new();
        h.write(&seed.to_le_bytes());
        for part in parts {
            h.write(&(part.len() as u64).to_le_bytes());
            h.write(part.as_bytes());
        }
        StreamKey(mix64(h.finish()))
    }

    /// The generator for batch (or network draw) `batch` of this key:
    /// eight xoshiro256++ lanes ([`Lanes`]), lane j's 256-bit state the
    /// four words 4j..4j+3 of a SplitMix64 sequence started at a state
    /// that mixes the key with the batch number. The 32 words are
    /// SplitMix64's output at 32 consecutive counters, and its output
    /// function is a bijection, so they are distinct: no lane starts in the
    /// forbidden all-zero state and no two lanes start in the same one.
    /// Distinct starts of a generator of period 2^256 - 1 are independent
    /// streams in practice, for lanes as for batches: two would overlap
    /// within a run's words only by a coincidence of order words^2 / 2^256.
    pub fn lanes(self, batch: u64) -> Lanes {
        let mut sm = SplitMix64(self.0 ^ mix64(batch));
        let states: [[u64; 4]; LANES] = std::array::from_fn(|_| std::array::from_fn(|_| sm.next()));
        Lanes::new(states)
    }
}

/// 64-bit FNV-1a (Fowler, Noll, Vo).
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Fnv1a {
        Fnv1a(Fnv1a::OFFSET)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Fnv1a::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Vigna's SplitMix64 generator (splitmix64.c).
struct SplitMix64(u64);

impl SplitMix64 {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(SplitMix64::GAMMA);
        finalise(self.0)
    }
}

/// SplitMix64's output function: a bijection on u64 with full avalanche.
fn finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One SplitMix64 step from state `x`: used to mix a counter into a key.
fn mix64(x: u64) -> u64 {
    finalise(x.wrapping_add(SplitMix64::GAMMA))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn fnv(bytes: &[u8]) -> u64 {
        let mut h = Fnv1a::new();
        h.write(bytes);
        h.finish()
    }

    #[test]
    fn fnv1a_matches_published_vectors() {
        // From the FNV reference test suite (Landon Curt Noll's fnv_test).
        assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn splitmix64_matches_an_independent_implementation() {
        // rand_xoshiro's SplitMix64 is tested there against Vigna's C code;
        // ours must agree with it word for word.
        for seed in [0u64, 1, 1_477_776_061_723_855_037, u64::MAX] {
            let mut ours = SplitMix64(seed);
            let mut theirs = rand_xoshiro::SplitMix64::seed_from_u64(seed);
            for _ in 0..20 {
                assert_eq!(ours.next(), theirs.next_u64());
            }
        }
        // and the first words of the reference output (splitmix64.c)
        let mut ours = SplitMix64(1_477_776_061_723_855_037);
        assert_eq!(ours.next(), 1_985_237_415_132_408_290);
        assert_eq!(ours.next(), 2_979_275_885_539_914_483);
    }

    #[test]
    fn keys_separate_parts_and_seeds() {
        let k = |seed, parts: &[&str]| StreamKey::new(seed, parts).0;
        assert_eq!(k(7, &["f", "c"]), k(7, &["f", "c"]));
        assert_ne!(k(7, &["ab", "c"]), k(7, &["a", "bc"]));
        assert_ne!(k(7, &["f", "c"]), k(8, &["f", "c"]));
        assert_ne!(k(7, &["f", "c"]), k(7, &["f", "c", ""]));
    }

    #[test]
    fn lanes_are_xoshiro_from_distinct_splitmix_words() {
        // Each lane is rand_xoshiro's generator started from its four
        // SplitMix64 words, and the 32 words are distinct.
        let key = StreamKey::new(3, &["lanes"]);
        for b in [0, 1, 77] {
            let mut sm = SplitMix64(key.0 ^ mix64(b));
            let words: Vec<u64> = (0..4 * LANES).map(|_| sm.next()).collect();
            let mut singles: Vec<Xoshiro256PlusPlus> = words
                .chunks_exact(4)
                .map(|s| {
                    let mut seed = [0u8; 32];
                    for (bytes, w) in seed.chunks_exact_mut(8).zip(s) {
                        bytes.copy_from_slice(&w.to_le_bytes());
                    }
                    Xoshiro256PlusPlus::from_seed(seed)
                })
                .collect();
            let mut lanes = key.lanes(b);
            for _ in 0..3 {
                for single in &mut singles {
                    assert_eq!(lanes.next_u64(), single.next_u64());
                }
            }
            let mut sorted = words.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 4 * LANES, "distinct lane seeds");
        }
    }

    #[test]
    fn batch_streams_are_fixed_and_distinct() {
        let key = StreamKey::new(1, &["x"]);
        let first: Vec<u64> = (0..4).map(|b| key.lanes(b).next_u64()).collect();
        let again: Vec<u64> = (0..4).map(|b| key.lanes(b).next_u64()).collect();
        assert_eq!(first, again);
        for i in 0..4 {
            for j in 0..i {
                assert_ne!(first[i], first[j]);
            }
        }
    }
}
