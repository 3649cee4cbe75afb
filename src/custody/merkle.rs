//! The Merkle tree over the custody log, exactly as RFC 9162 §2.1 defines it, with SHA-256:
//! tree hashes, inclusion proofs and consistency proofs (R11).
//!
//! Owns: the leaf and node hashing, the streaming tree head ([`TreeBuilder`], O(log n)
//! memory), proof generation from a stream of leaf hashes, and proof verification that
//! rejects every malformed or forged proof with a [`ProofError`] saying why.
//! Must never: do I/O, read a clock, or hold the whole log in memory.
//!
//! The leaf data of event `s` (leaf index `s - 1`) is the event's canonical encoding,
//! [`encode`] (docs/CUSTODY-LOG.md §3): the same bytes the BLAKE3 chain hashes, without the
//! previous hash. So the tree and the chain commit to the same events, and the tree needs
//! nothing that is not in the event itself.
//!
//! ```text
//! MTH({})       = SHA-256()
//! MTH({d0})     = SHA-256(0x00 || d0)                            leaf hash
//! MTH(D[n])     = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))    k: largest power of 2 < n
//! ```

use std::ops::Range;

use sha2::{Digest, Sha256};

use super::event::{encode, StoredEvent};

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of nothing.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Why a proof was refused, or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index (event seq − 1).
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old tree is larger than the new one: the log would have shrunk.
    #[error("old tree size {old} is larger than new tree size {new}: a log never shrinks")]
    OldSizeGreater {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("the proof has {got} hashes; a proof for these sizes has exactly {expected}")]
    WrongLength {
        /// How many the sizes call for.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// A proof element is not 32 bytes.
    #[error("proof hash {index} is {len} bytes, not 32")]
    ElementLength {
        /// Its position in the proof (0-based).
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The hashes do not lead to the expected root.
    #[error("the proof does not lead to the root: computed {computed}, expected {expected}")]
    RootMismatch {
        /// The root computed from the proof (hex).
        computed: String,
        /// The root it was checked against (hex).
        expected: String,
    },
    /// A consistency proof does not lead to the old root.
    #[error("the consistency proof does not lead to the old root: computed {computed}, expected {expected}")]
    OldRootMismatch {
        /// The root computed from the proof (hex).
        computed: String,
        /// The old root given (hex).
        expected: String,
    },
    /// Two trees of the same size with different roots: not the same log.
    #[error("trees of the same size {size} have different roots: they are not the same log")]
    SameSizeDifferentRoots {
        /// The size.
        size: u64,
    },
    /// The stream of leaves ended before the tree the proof is for.
    #[error("only {got} leaves were supplied; the proof needs {needed}")]
    TooFewLeaves {
        /// Leaves needed.
        needed: u64,
        /// Leaves given.
        got: u64,
    },
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The leaf hash of a custody event: [`leaf_hash`] of its canonical encoding.
pub fn event_leaf(ev: &StoredEvent) -> Hash {
    leaf_hash(&encode(ev))
}

/// The tree head of a growing list of leaves, in O(log n) memory: the roots of the perfect
/// subtrees the leaves so far make up (a compact range from 0), largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeBuilder {
    size: u64,
    stack: Vec<Hash>,
}

impl TreeBuilder {
    /// An empty tree.
    pub fn new() -> TreeBuilder {
        TreeBuilder::default()
    }

    /// Adds the next leaf by its leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            // `size` has one stack entry per set bit; a set low bit means a perfect subtree of
            // the same height waits on the left.
            let Some(left) = self.stack.pop() else { break };
            h = node_hash(&left, &h);
            s >>= 1;
        }
        self.stack.push(h);
        self.size += 1;
    }

    /// Adds the next leaf by its data.
    pub fn push_data(&mut self, data: &[u8]) {
        self.push(leaf_hash(data));
    }

    /// How many leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The Merkle tree hash of the leaves so far ([`EMPTY_ROOT`] for none).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => EMPTY_ROOT,
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// The Merkle tree hash of `leaves` (leaf hashes, in order).
pub fn root(leaves: impl IntoIterator<Item = Hash>) -> Hash {
    let mut t = TreeBuilder::new();
    leaves.into_iter().for_each(|l| t.push(l));
    t.root()
}

/// The largest power of two below `n` (`n` ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The leaf ranges whose tree hashes make the inclusion proof of leaf `index` in a tree of
/// `size` leaves, in proof order (RFC 9162 §2.1.3.1, `PATH(m, D[n])`): the sibling nearest
/// the leaf first.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] when `index >= size`.
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    // Walk down from the root, remembering each sibling; the proof lists them bottom-up.
    let (mut lo, mut hi, m) = (0u64, size, index);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if m < lo + k {
            out.push(lo + k..hi);
            hi = lo + k;
        } else {
            out.push(lo..lo + k);
            lo += k;
        }
    }
    out.reverse();
    Ok(out)
}

/// The leaf ranges whose tree hashes make the consistency proof from a tree of `old` leaves to
/// a tree of `new` leaves, in proof order (RFC 9162 §2.1.4.1, `PROOF(m, D[n])`). Empty when
/// `old` is 0 or equal to `new`.
///
/// # Errors
/// [`ProofError::OldSizeGreater`] when `old > new`.
pub fn consistency_ranges(old: u64, new: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if old > new {
        return Err(ProofError::OldSizeGreater { old, new });
    }
    let mut out = Vec::new();
    if old == 0 || old == new {
        return Ok(out);
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled: each level adds one range after the deeper ones.
    let (mut lo, mut hi, mut m, mut whole) = (0u64, new, old, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole {
                out.push(lo..hi);
            }
            break;
        }
        let k = split(n);
        if m <= k {
            out.push(lo + k..hi);
            hi = lo + k;
        } else {
            out.push(lo..lo + k);
            lo += k;
            m -= k;
            whole = false;
        }
    }
    out.reverse();
    Ok(out)
}

/// Computes the tree hashes of disjoint leaf ranges from the leaves streamed in order from
/// leaf 0, holding one compact range at a time.
#[derive(Debug, Clone)]
pub struct SubtreeHasher {
    /// `(range, position in the output)`, by start.
    ranges: Vec<(Range<u64>, usize)>,
    out: Vec<Option<Hash>>,
    next: usize,
    current: TreeBuilder,
    seen: u64,
}

impl SubtreeHasher {
    /// A hasher for `ranges` (disjoint, non-empty).
    pub fn new(ranges: &[Range<u64>]) -> SubtreeHasher {
        let mut sorted: Vec<(Range<u64>, usize)> = ranges.iter().cloned().zip(0..).collect();
        sorted.sort_by_key(|(r, _)| r.start);
        SubtreeHasher { out: vec![None; sorted.len()], ranges: sorted, next: 0, current: TreeBuilder::new(), seen: 0 }
    }

    /// How many leaves it needs: the end of the last range.
    pub fn needed(&self) -> u64 {
        self.ranges.iter().map(|(r, _)| r.end).max().unwrap_or(0)
    }

    /// Whether every range is hashed (later leaves are not needed).
    pub fn done(&self) -> bool {
        self.next >= self.ranges.len()
    }

    /// Takes the next leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let i = self.seen;
        self.seen += 1;
        let Some((range, slot)) = self.ranges.get(self.next) else { return };
        if range.contains(&i) {
            self.current.push(leaf);
            if i + 1 == range.end {
                self.out[*slot] = Some(self.current.root());
                self.current = TreeBuilder::new();
                self.next += 1;
            }
        }
    }

    /// The tree hash of each range, in the order the ranges were given.
    ///
    /// # Errors
    /// [`ProofError::TooFewLeaves`] when the leaves ended before the last range did.
    pub fn finish(self) -> Result<Vec<Hash>, ProofError> {
        let needed = self.needed();
        let got = self.seen;
        self.out.into_iter().map(|h| h.ok_or(ProofError::TooFewLeaves { needed, got })).collect()
    }
}

fn hash_ranges(ranges: &[Range<u64>], leaves: impl IntoIterator<Item = Hash>) -> Result<Vec<Hash>, ProofError> {
    let mut h = SubtreeHasher::new(ranges);
    for leaf in leaves {
        if h.done() {
            break;
        }
        h.push(leaf);
    }
    h.finish()
}

/// Many inclusion proofs over one list of leaves held in memory (a custody extract): subtree
/// hashes of 64 leaves or more are computed once and reused across proofs, so k proofs cost
/// about one pass over the tree instead of k.
#[derive(Debug, Clone)]
pub struct ProofCache {
    leaves: Vec<Hash>,
    memo: std::collections::HashMap<(u64, u64), Hash>,
}

impl ProofCache {
    /// A cache over `leaves`, leaf 0 first.
    pub fn new(leaves: Vec<Hash>) -> ProofCache {
        ProofCache { leaves, memo: std::collections::HashMap::new() }
    }

    /// The tree hash of leaves `range` (a range an RFC 9162 proof names).
    fn subtree(&mut self, range: Range<u64>) -> Hash {
        let n = range.end - range.start;
        if n == 1 {
            return self.leaves[range.start as usize];
        }
        if let Some(h) = self.memo.get(&(range.start, range.end)) {
            return *h;
        }
        let k = split(n);
        let left = self.subtree(range.start..range.start + k);
        let right = self.subtree(range.start + k..range.end);
        let h = node_hash(&left, &right);
        if n >= 64 {
            self.memo.insert((range.start, range.end), h);
        }
        h
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    ///
    /// # Errors
    /// When `index >= size` or fewer than `size` leaves are held.
    pub fn inclusion(&mut self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        let got = self.leaves.len() as u64;
        if size > got {
            return Err(ProofError::TooFewLeaves { needed: size, got });
        }
        Ok(inclusion_ranges(index, size)?.into_iter().map(|r| self.subtree(r)).collect())
    }

    /// The root of the first `size` leaves.
    ///
    /// # Errors
    /// When fewer than `size` leaves are held.
    pub fn root(&mut self, size: u64) -> Result<Hash, ProofError> {
        let got = self.leaves.len() as u64;
        if size > got {
            return Err(ProofError::TooFewLeaves { needed: size, got });
        }
        Ok(if size == 0 { root(std::iter::empty()) } else { self.subtree(0..size) })
    }
}

/// The inclusion proof of leaf `index` in the tree of the first `size` of `leaves`.
///
/// # Errors
/// When `index >= size`, or `leaves` holds fewer than `size` leaves.
pub fn inclusion_proof(index: u64, size: u64, leaves: impl IntoIterator<Item = Hash>) -> Result<Vec<Hash>, ProofError> {
    let ranges = inclusion_ranges(index, size)?;
    let proof = hash_ranges(&ranges, leaves.into_iter().take(usize::try_from(size).unwrap_or(usize::MAX)))?;
    Ok(proof)
}

/// The consistency proof from the tree of the first `old` of `leaves` to the tree of the first
/// `new`.
///
/// # Errors
/// When `old > new`, or `leaves` holds fewer than `new` leaves.
pub fn consistency_proof(old: u64, new: u64, leaves: impl IntoIterator<Item = Hash>) -> Result<Vec<Hash>, ProofError> {
    let ranges = consistency_ranges(old, new)?;
    hash_ranges(&ranges, leaves.into_iter().take(usize::try_from(new).unwrap_or(usize::MAX)))
}

/// Reads proof elements from bytes, refusing any that is not 32 bytes long.
///
/// # Errors
/// [`ProofError::ElementLength`] naming the first element of the wrong length.
pub fn proof_from_bytes<B: AsRef<[u8]>>(elements: &[B]) -> Result<Vec<Hash>, ProofError> {
    elements
        .iter()
        .enumerate()
        .map(|(index, e)| {
            <Hash>::try_from(e.as_ref()).map_err(|_| ProofError::ElementLength { index, len: e.as_ref().len() })
        })
        .collect()
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2, steps 1-4, with the final check
/// that the path was used up exactly), after checking the proof's length.
///
/// # Errors
/// When `index >= size` or the proof has the wrong number of hashes.
pub fn root_from_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Result<Hash, ProofError> {
    let expected = inclusion_ranges(index, size)?.len();
    let wrong = ProofError::WrongLength { expected, got: proof.len() };
    if proof.len() != expected {
        return Err(wrong);
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(wrong);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(wrong);
    }
    Ok(r)
}

/// Verifies that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves with root
/// `root` (RFC 9162 §2.1.3.2).
///
/// # Errors
/// Why the proof is refused: index out of range, wrong length, or the root it leads to is not
/// `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    let computed = root_from_inclusion(index, size, leaf, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch { computed: hex(&computed), expected: hex(root) });
    }
    Ok(())
}

/// Verifies that the tree of `new` leaves with root `new_root` extends the tree of `old` leaves
/// with root `old_root` (RFC 9162 §2.1.4.2).
///
/// Beyond the RFC's `0 < old < new`: equal sizes need an empty proof and equal roots; old size
/// 0 needs an empty proof and `old_root` = [`EMPTY_ROOT`] (the empty tree is a prefix of every
/// tree). Every other proof must have exactly the length the sizes call for, must be used up
/// with the size counter at 0 (without that check one proof is accepted for several tree
/// sizes), and must lead to both roots.
///
/// # Errors
/// Why the proof is refused.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let expected = consistency_ranges(old, new)?.len();
    let wrong = ProofError::WrongLength { expected, got: proof.len() };
    if old == new {
        if !proof.is_empty() {
            return Err(wrong);
        }
        if old_root != new_root {
            return Err(ProofError::SameSizeDifferentRoots { size: old });
        }
        return Ok(());
    }
    if old == 0 {
        if !proof.is_empty() {
            return Err(wrong);
        }
        if *old_root != EMPTY_ROOT {
            return Err(ProofError::OldRootMismatch { computed: hex(&EMPTY_ROOT), expected: hex(old_root) });
        }
        return Ok(());
    }
    if proof.is_empty() || proof.len() != expected {
        return Err(wrong);
    }
    // Step 2: when the old tree is a perfect subtree its root is the first node of the path.
    let mut path = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(wrong);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(wrong);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch { computed: hex(&fr), expected: hex(old_root) });
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch { computed: hex(&sr), expected: hex(new_root) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hash {
        let b: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect();
        <Hash>::try_from(b.as_slice()).expect("32 bytes")
    }

    fn b64(s: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(s).expect("base64")
    }

    #[test]
    fn merkle_module_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("merkle.rs"));
    }

    // The RFC 6962 test vectors published with the transparency-dev/merkle verifier tests
    // (`proof/verify_test.go`): eight leaves, the roots of every prefix, and known proofs.
    const LEAVES: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    /// `(leaf number, 1-based; tree size; proof)`.
    const INCLUSION: [(u64, u64, &[&str]); 5] = [
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (3, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            2,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (1, 1, &[]),
    ];
    /// `(old size, new size, proof)`.
    const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    /// `(what, index, size, leaf hash, proof, root)`.
    type InclusionProbe = (&'static str, u64, u64, Hash, Vec<Hash>, Hash);
    /// `(what, old size, new size, old root, new root, proof)`.
    type ConsistencyProbe = (&'static str, u64, u64, Hash, Hash, Vec<Hash>);
    const SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

    fn leaf_hashes() -> Vec<Hash> {
        LEAVES.iter().map(|l| leaf_hash(l)).collect()
    }

    fn proof(p: &[&str]) -> Vec<Hash> {
        p.iter().map(|s| h(s)).collect()
    }

    #[test]
    fn empty_tree_and_roots_of_every_prefix() {
        let sha_empty: Hash = Sha256::digest(b"").into();
        assert_eq!(EMPTY_ROOT, sha_empty);
        assert_eq!(root([]), EMPTY_ROOT);
        let mut t = TreeBuilder::new();
        for (i, l) in LEAVES.iter().enumerate() {
            t.push_data(l);
            assert_eq!(t.root(), h(ROOTS[i]), "root of the first {} leaves", i + 1);
            assert_eq!(t.size(), i as u64 + 1);
        }
    }

    #[test]
    fn pinned_inclusion_proofs_are_generated_and_verified() {
        let leaves = leaf_hashes();
        for (leaf, size, p) in INCLUSION {
            let want = proof(p);
            let got = inclusion_proof(leaf - 1, size, leaves.iter().copied()).expect("generates");
            assert_eq!(got, want, "proof of leaf {leaf} in {size}");
            let r = h(ROOTS[size as usize - 1]);
            verify_inclusion(leaf - 1, size, &leaves[leaf as usize - 1], &want, &r).expect("verifies");
        }
    }

    #[test]
    fn pinned_consistency_proofs_are_generated_and_verified() {
        let leaves = leaf_hashes();
        for (old, new, p) in CONSISTENCY {
            let want = proof(p);
            assert_eq!(consistency_proof(old, new, leaves.iter().copied()).expect("generates"), want, "{old} -> {new}");
            let (r1, r2) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
            verify_consistency(old, new, &r1, &r2, &want).expect("verifies");
        }
    }

    /// The corruptions the public test vectors apply to every known-good inclusion proof; each
    /// must be refused.
    #[test]
    fn corrupted_inclusion_proofs_are_refused() {
        let leaves = leaf_hashes();
        for (leaf, size, p) in INCLUSION.into_iter().filter(|(_, s, _)| *s > 1) {
            let (i, pr, r, l) = (leaf - 1, proof(p), h(ROOTS[size as usize - 1]), leaves[leaf as usize - 1]);
            let mut probes: Vec<InclusionProbe> = vec![
                ("index - 1", i.wrapping_sub(1), size, l, pr.clone(), r),
                ("index + 1", i + 1, size, l, pr.clone(), r),
                ("index ^ 2", i ^ 2, size, l, pr.clone(), r),
                ("size * 2", i, size * 2, l, pr.clone(), r),
                ("size / 2", i, size / 2, l, pr.clone(), r),
                ("wrong leaf", i, size, leaf_hash(b"WrongLeaf"), pr.clone(), r),
                ("empty root", i, size, l, pr.clone(), EMPTY_ROOT),
                ("random root", i, size, l, pr.clone(), h(SOME_HASH)),
                ("trailing root", i, size, l, [pr.clone(), vec![r]].concat(), r),
                ("preceding root", i, size, l, [vec![r], pr.clone()].concat(), r),
            ];
            for k in 0..pr.len() {
                let mut bad = pr.clone();
                bad[k][0] ^= 8;
                probes.push(("modified element", i, size, l, bad, r));
            }
            if !pr.is_empty() {
                probes.push(("removed component", i, size, l, pr[..pr.len() - 1].to_vec(), r));
            }
            if pr.len() > 1 {
                let inserted = [vec![pr[0], h(SOME_HASH)], pr[1..].to_vec()].concat();
                probes.push(("inserted component", i, size, l, inserted, r));
            }
            for (what, i, size, l, pr, r) in probes {
                assert!(verify_inclusion(i, size, &l, &pr, &r).is_err(), "{what}: leaf {leaf} of {size}");
            }
            // An empty element before or after (garbage) is refused when the proof is read.
            let mut garbage: Vec<Vec<u8>> = p.iter().map(|s| h(s).to_vec()).collect();
            garbage.push(Vec::new());
            assert_eq!(proof_from_bytes(&garbage), Err(ProofError::ElementLength { index: p.len(), len: 0 }));
        }
        // Out-of-range indices, with and without plausible roots.
        for (index, size) in [(0, 0), (1, 0), (2, 1), (1, 1)] {
            let err = verify_inclusion(index, size, &h(SOME_HASH), &[], &EMPTY_ROOT).expect_err("refused");
            assert_eq!(err, ProofError::IndexOutOfRange { index, size });
        }
        // A one-leaf tree: the leaf hash is the root and the proof is empty.
        let one = leaf_hash(b"data");
        verify_inclusion(0, 1, &one, &[], &one).expect("verifies");
        assert!(verify_inclusion(0, 1, &one, &[], &EMPTY_ROOT).is_err());
    }

    /// The corruptions the public test vectors apply to every known-good consistency proof.
    #[test]
    fn corrupted_consistency_proofs_are_refused() {
        for (s1, s2, p) in CONSISTENCY.into_iter().filter(|(_, _, p)| !p.is_empty()) {
            let pr = proof(p);
            let (r1, r2) = (h(ROOTS[s1 as usize - 1]), h(ROOTS[s2 as usize - 1]));
            let wrong = h(SOME_HASH);
            let mut probes: Vec<ConsistencyProbe> = vec![
                ("size1 - 1", s1 - 1, s2, r1, r2, pr.clone()),
                ("size1 + 1", s1 + 1, s2, r1, r2, pr.clone()),
                ("size1 ^ 2", s1 ^ 2, s2, r1, r2, pr.clone()),
                ("size2 * 2", s1, s2 * 2, r1, r2, pr.clone()),
                ("size2 / 2", s1, s2 / 2, r1, r2, pr.clone()),
                ("wrong root1", s1, s2, wrong, r2, pr.clone()),
                ("wrong root2", s1, s2, r1, wrong, pr.clone()),
                ("swapped roots", s1, s2, r2, r1, pr.clone()),
                ("empty proof", s1, s2, r1, r2, Vec::new()),
                ("trailing root1", s1, s2, r1, r2, [pr.clone(), vec![r1]].concat()),
                ("trailing root2", s1, s2, r1, r2, [pr.clone(), vec![r2]].concat()),
                ("preceding root1", s1, s2, r1, r2, [vec![r1], pr.clone()].concat()),
                ("preceding root2", s1, s2, r1, r2, [vec![r2], pr.clone()].concat()),
                ("preceding proof[0]", s1, s2, r1, r2, [vec![pr[0]], pr.clone()].concat()),
                ("truncated proof", s1, s2, r1, r2, pr[..pr.len() - 1].to_vec()),
            ];
            for k in 0..pr.len() {
                let mut bad = pr.clone();
                bad[k][0] ^= 16;
                probes.push(("modified element", s1, s2, r1, r2, bad));
            }
            for (what, s1, s2, r1, r2, pr) in probes {
                assert!(verify_consistency(s1, s2, &r1, &r2, &pr).is_err(), "{what}: {s1} -> {s2}");
            }
        }
        // Edge sizes (the transparency-dev verifier's table, made strict about the empty tree).
        let (a, b) = (h(SOME_HASH), h(ROOTS[0]));
        let cases: [(u64, u64, Hash, Hash, Vec<Hash>, bool); 12] = [
            (0, 0, a, b, vec![], false),
            (1, 1, a, b, vec![], false),
            (0, 0, EMPTY_ROOT, EMPTY_ROOT, vec![], true),
            (0, 1, EMPTY_ROOT, b, vec![], true),
            (0, 1, a, b, vec![], false),
            (1, 1, b, b, vec![], true),
            (1, 0, a, b, vec![], false),
            (2, 1, a, b, vec![], false),
            (1, 2, a, b, vec![], false),
            (0, 0, EMPTY_ROOT, EMPTY_ROOT, vec![EMPTY_ROOT], false),
            (0, 1, EMPTY_ROOT, b, vec![EMPTY_ROOT], false),
            (1, 1, b, b, vec![EMPTY_ROOT], false),
        ];
        for (s1, s2, r1, r2, pr, ok) in cases {
            assert_eq!(verify_consistency(s1, s2, &r1, &r2, &pr).is_ok(), ok, "{s1} -> {s2} {pr:?}");
        }
        assert_eq!(verify_consistency(2, 1, &a, &b, &[]), Err(ProofError::OldSizeGreater { old: 2, new: 1 }));
    }

    /// The public JSON vectors (transparency-dev/merkle `testdata/consistency/1/`): sizes 1 -> 8
    /// with base64 roots; the happy path verifies and an empty leading element is refused.
    #[test]
    fn published_json_consistency_vector() {
        let r1 = <Hash>::try_from(b64("bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=").as_slice()).expect("32");
        let r2 = <Hash>::try_from(b64("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=").as_slice()).expect("32");
        let elements: Vec<Vec<u8>> = [
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ]
        .iter()
        .map(|s| b64(s))
        .collect();
        let pr = proof_from_bytes(&elements).expect("32-byte elements");
        verify_consistency(1, 8, &r1, &r2, &pr).expect("happy path");
        let garbage = [vec![Vec::new()], elements].concat();
        assert_eq!(proof_from_bytes(&garbage), Err(ProofError::ElementLength { index: 0, len: 0 }));
    }

    /// RFC 9162's recursive definitions, written directly: the oracle for the streaming code.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => EMPTY_ROOT,
            1 => d[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return Vec::new();
        }
        let k = split(d.len() as u64) as usize;
        if m < k {
            [path(m, &d[..k]), vec![mth(&d[k..])]].concat()
        } else {
            [path(m - k, &d[k..]), vec![mth(&d[..k])]].concat()
        }
    }

    fn subproof(m: usize, d: &[Hash], whole: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if whole { Vec::new() } else { vec![mth(d)] };
        }
        let k = split(n as u64) as usize;
        if m <= k {
            [subproof(m, &d[..k], whole), vec![mth(&d[k..])]].concat()
        } else {
            [subproof(m - k, &d[k..], false), vec![mth(&d[..k])]].concat()
        }
    }

    fn leaves(n: usize, salt: u64) -> Vec<Hash> {
        (0..n as u64).map(|i| leaf_hash(&[i.to_be_bytes(), salt.to_be_bytes()].concat())).collect()
    }

    #[test]
    fn small_trees_match_the_recursive_definitions_exhaustively() {
        let d = leaves(40, 9);
        for n in 0..=d.len() {
            assert_eq!(root(d[..n].iter().copied()), mth(&d[..n]), "root of {n}");
            for m in 0..n {
                let p = inclusion_proof(m as u64, n as u64, d.iter().copied()).expect("proof");
                assert_eq!(p, path(m, &d[..n]), "path({m}, {n})");
                verify_inclusion(m as u64, n as u64, &d[m], &p, &mth(&d[..n])).expect("verifies");
            }
            for m in 1..n {
                let p = consistency_proof(m as u64, n as u64, d.iter().copied()).expect("proof");
                assert_eq!(p, subproof(m, &d[..n], true), "proof({m}, {n})");
                verify_consistency(m as u64, n as u64, &mth(&d[..m]), &mth(&d[..n]), &p).expect("verifies");
            }
        }
    }

    #[test]
    fn too_few_leaves_is_an_error() {
        let d = leaves(5, 1);
        assert_eq!(inclusion_proof(1, 8, d.iter().copied()), Err(ProofError::TooFewLeaves { needed: 8, got: 5 }));
        assert_eq!(consistency_proof(6, 5, d.iter().copied()), Err(ProofError::OldSizeGreater { old: 6, new: 5 }));
    }

    fn accepts_inclusion(d: &[Hash], i: u64, n: u64, leaf: &Hash, p: &[Hash]) -> bool {
        n as usize <= d.len() && verify_inclusion(i, n, leaf, p, &mth(&d[..n as usize])).is_ok()
    }

    fn accepts_consistency(d: &[Hash], m: u64, n: u64, p: &[Hash]) -> bool {
        n as usize <= d.len()
            && m <= n
            && verify_consistency(m, n, &mth(&d[..m as usize]), &mth(&d[..n as usize]), p).is_ok()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Every generated inclusion proof verifies, and any one altered byte, element, index
        /// or size makes it fail (an altered size or index is checked against the true root
        /// for it, and may pass only where the true proof for it is the same proof).
        #[test]
        fn inclusion_proofs_verify_and_alterations_fail(
            (n, i) in (1u64..300).prop_flat_map(|n| (Just(n), 0..n)),
            salt in any::<u64>(),
            byte in 0usize..32,
            bit in 0u8..8,
            pick in any::<prop::sample::Index>(),
            other in 0u64..600,
        ) {
            let d = leaves(600, salt);
            let p = inclusion_proof(i, n, d.iter().copied()).expect("proof");
            let r = mth(&d[..n as usize]);
            prop_assert_eq!(verify_inclusion(i, n, &d[i as usize], &p, &r), Ok(()));
            if !p.is_empty() {
                let k = pick.index(p.len());
                let mut bad = p.clone();
                bad[k][byte] ^= 1 << bit;
                prop_assert!(verify_inclusion(i, n, &d[i as usize], &bad, &r).is_err());
                let mut dropped = p.clone();
                dropped.remove(k);
                prop_assert!(verify_inclusion(i, n, &d[i as usize], &dropped, &r).is_err());
                let mut dup = p.clone();
                dup.insert(k, p[k]);
                prop_assert!(verify_inclusion(i, n, &d[i as usize], &dup, &r).is_err());
            }
            let mut extra = p.clone();
            extra.push(r);
            prop_assert!(verify_inclusion(i, n, &d[i as usize], &extra, &r).is_err());
            let mut leaf = d[i as usize];
            leaf[byte] ^= 1 << bit;
            prop_assert!(verify_inclusion(i, n, &leaf, &p, &r).is_err());
            let mut root = r;
            root[byte] ^= 1 << bit;
            prop_assert!(verify_inclusion(i, n, &d[i as usize], &p, &root).is_err());
            // Another index (the leaf at i claimed to be elsewhere) never verifies.
            if other < n && other != i {
                prop_assert!(!accepts_inclusion(&d, other, n, &d[i as usize], &p));
            }
            // Another size verifies only where its own proof for leaf i is this very proof.
            if other > i && other != n {
                let same = inclusion_proof(i, other, d.iter().copied()).expect("proof") == p;
                prop_assert_eq!(accepts_inclusion(&d, i, other, &d[i as usize], &p), same);
            }
        }

        /// Every generated consistency proof verifies, and any one altered byte, element or
        /// size makes it fail.
        #[test]
        fn consistency_proofs_verify_and_alterations_fail(
            (n, m) in (1u64..300).prop_flat_map(|n| (Just(n), 0..=n)),
            salt in any::<u64>(),
            byte in 0usize..32,
            bit in 0u8..8,
            pick in any::<prop::sample::Index>(),
            other in 0u64..600,
        ) {
            let d = leaves(600, salt);
            let p = consistency_proof(m, n, d.iter().copied()).expect("proof");
            let (r1, r2) = (mth(&d[..m as usize]), mth(&d[..n as usize]));
            prop_assert_eq!(verify_consistency(m, n, &r1, &r2, &p), Ok(()));
            if !p.is_empty() {
                let k = pick.index(p.len());
                let mut bad = p.clone();
                bad[k][byte] ^= 1 << bit;
                prop_assert!(verify_consistency(m, n, &r1, &r2, &bad).is_err());
                let mut dropped = p.clone();
                dropped.remove(k);
                prop_assert!(verify_consistency(m, n, &r1, &r2, &dropped).is_err());
                let mut dup = p.clone();
                dup.insert(k, p[k]);
                prop_assert!(verify_consistency(m, n, &r1, &r2, &dup).is_err());
            }
            let mut extra = p.clone();
            extra.push(r2);
            prop_assert!(verify_consistency(m, n, &r1, &r2, &extra).is_err());
            // (Every tree extends the empty tree, whatever its root.)
            for (which, root) in [(0, r1), (1, r2)].into_iter().filter(|&(w, _)| m > 0 || w == 0) {
                let mut bad = root;
                bad[byte] ^= 1 << bit;
                let (a, b) = if which == 0 { (bad, r2) } else { (r1, bad) };
                prop_assert!(verify_consistency(m, n, &a, &b, &p).is_err());
            }
            // Other sizes, checked against their true roots: accepted only where their own proof
            // is this very proof.
            if other != m {
                let same = other <= n && consistency_proof(other, n, d.iter().copied()).expect("proof") == p;
                prop_assert_eq!(accepts_consistency(&d, other, n, &p), same, "old {} -> {}", other, n);
            }
            if other != n && other >= m {
                let same = consistency_proof(m, other, d.iter().copied()).expect("proof") == p;
                prop_assert_eq!(accepts_consistency(&d, m, other, &p), same, "{} -> new {}", m, other);
            }
        }
    }

    #[test]
    fn the_proof_cache_gives_the_same_proofs_and_roots() {
        let leaves: Vec<Hash> = (0u32..300).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut cache = ProofCache::new(leaves.clone());
        for size in [1u64, 2, 3, 64, 65, 129, 300] {
            assert_eq!(cache.root(size).unwrap(), root(leaves[..size as usize].iter().copied()));
            for index in [0, size / 2, size - 1] {
                let direct = inclusion_proof(index, size, leaves.iter().copied()).unwrap();
                assert_eq!(cache.inclusion(index, size).unwrap(), direct, "index {index} size {size}");
            }
        }
        assert!(cache.inclusion(0, 301).is_err());
        assert!(cache.inclusion(300, 300).is_err());
    }
}
