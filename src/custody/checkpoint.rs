//! Signed checkpoints of the custody log's Merkle tree: the C2SP `tlog-checkpoint` body in a
//! C2SP `signed-note`, signed with Ed25519 (R11).
//!
//! Owns: the checkpoint text, the signed-note wire format, the station's key in the
//! signed-note key formats (verifier key `<name>+<id>+<key>`, signer key
//! `PRIVATE+KEY+<name>+<id>+<key>`), signing, and opening a note against a verifier key with a
//! reason for every refusal.
//! Must never: do I/O, read a clock or make randomness (a new key's seed is given to it), or
//! accept a note that no signature of the expected key verifies.
//!
//! ```text
//! evidock/station-1                     origin (= the key name)
//! 1000                                  tree size, decimal
//! 3q2+7w...=                            root hash, base64
//!                                       blank line
//! — evidock/station-1 AbCdEf...==       em dash, space, key name, space, base64(key id ‖ signature)
//! ```

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The signed-note signature type of Ed25519.
pub const ALG_ED25519: u8 = 0x01;

/// What starts every signature line: an em dash (U+2014) and a space.
pub const SIG_PREFIX: &str = "\u{2014} ";

/// The most signature lines a note may carry before it is refused.
pub const MAX_SIGNATURES: usize = 100;

const SKEY_PREFIX: &str = "PRIVATE+KEY+";

/// Why a checkpoint, note or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name breaks the rules: non-empty, no spaces, no `+`.
    #[error("key name {name:?} is not allowed: it must be non-empty, without spaces or '+'")]
    BadKeyName {
        /// The name.
        name: String,
    },
    /// A verifier key (`<name>+<id>+<key>`) could not be read.
    #[error("verifier key is malformed: {reason}")]
    BadVerifierKey {
        /// What is wrong.
        reason: String,
    },
    /// A signer key (`PRIVATE+KEY+<name>+<id>+<key>`) could not be read.
    #[error("signing key is malformed: {reason}")]
    BadSignerKey {
        /// What is wrong.
        reason: String,
    },
    /// The note is not a well-formed signed note.
    #[error("not a well-formed signed note: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// No signature line is from the expected key.
    #[error("not signed by {expected}: {}", describe_found(found))]
    NotSignedByKey {
        /// The expected key, as `name+id`.
        expected: String,
        /// The keys that did sign, as `name+id`.
        found: Vec<String>,
    },
    /// The expected key's signature does not verify: the text was changed after signing, or
    /// the signature was made up.
    #[error("the signature of {key} does not verify: the checkpoint was altered or forged")]
    BadSignature {
        /// The key, as `name+id`.
        key: String,
    },
    /// The signed text is not a checkpoint.
    #[error("not a checkpoint: {reason}")]
    NotCheckpoint {
        /// What is wrong.
        reason: String,
    },
}

fn describe_found(found: &[String]) -> String {
    if found.is_empty() {
        "it carries no signature".to_string()
    } else {
        format!("it is signed only by {}", found.join(", "))
    }
}

fn malformed(reason: impl Into<String>) -> NoteError {
    NoteError::Malformed { reason: reason.into() }
}

/// Whether `name` may be a key name: non-empty, no Unicode white space, no `+`, no control
/// characters.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The key name (and checkpoint origin) for a station named `station`: `evidock/` and the
/// name, with white space, `+`, `/` and control characters replaced by `-`. Chinese names
/// stay as written.
pub fn key_name(station: &str) -> String {
    let cleaned: String = station
        .trim()
        .chars()
        .map(|c| if c.is_whitespace() || c == '+' || c == '/' || c.is_control() { '-' } else { c })
        .collect();
    format!("evidock/{}", if cleaned.is_empty() { "station" } else { &cleaned })
}

/// The signed-note key ID: the first four bytes, big-endian, of
/// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`.
pub fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn parse_id(hex: &str) -> Option<u32> {
    if hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        None
    }
}

/// Decodes base64 and refuses anything that does not encode back to the same text.
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let bytes = B64.decode(s).ok()?;
    (B64.encode(&bytes) == s).then_some(bytes)
}

/// A public key that verifies notes: a name, its key ID and an Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl NoteVerifier {
    /// Reads a verifier key `<name>+<8 hex digits of key ID>+<base64(0x01 ‖ 32-byte key)>`
    /// (surrounding white space ignored).
    ///
    /// # Errors
    /// When any part is malformed, the type is not Ed25519, the key is not a valid point, or
    /// the key ID does not match the name and key.
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let bad = |reason: &str| NoteError::BadVerifierKey { reason: reason.to_string() };
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<key id>+<key>"));
        };
        if !valid_key_name(name) {
            return Err(bad("the name is empty or holds a space"));
        }
        let id = parse_id(id).ok_or_else(|| bad("the key ID is not 8 hex digits"))?;
        let bytes = decode_b64(key).ok_or_else(|| bad("the key is not canonical base64"))?;
        let (alg, public) = bytes.split_first().ok_or_else(|| bad("the key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(bad(&format!("signature type {alg:#04x} is not Ed25519 (0x01)")));
        }
        let public = <[u8; 32]>::try_from(public).map_err(|_| bad("an Ed25519 key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 public key"))?;
        if key_id(name, &public) != id {
            return Err(bad("the key ID does not match the name and key"));
        }
        Ok(NoteVerifier { name: name.to_string(), id, key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// `name+id`, how messages name the key.
    pub fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// The verifier key text `<name>+<id>+<base64(0x01 ‖ key)>`.
    pub fn encode(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(bytes))
    }
}

/// A private key that signs notes. Its `Debug` shows only the public half.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({})", self.verifier().encode())
    }
}

impl NoteSigner {
    /// The signer for Ed25519 `seed` (32 random bytes) named `name`.
    ///
    /// # Errors
    /// [`NoteError::BadKeyName`] when the name is not allowed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<NoteSigner, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::BadKeyName { name: name.to_string() });
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(NoteSigner { name: name.to_string(), id, key })
    }

    /// Reads a signer key `PRIVATE+KEY+<name>+<id>+<base64(0x01 ‖ 32-byte seed)>`.
    ///
    /// # Errors
    /// When it is malformed or its key ID does not match its key.
    pub fn parse(skey: &str) -> Result<NoteSigner, NoteError> {
        let bad = |reason: &str| NoteError::BadSignerKey { reason: reason.to_string() };
        let rest = skey.trim().strip_prefix(SKEY_PREFIX).ok_or_else(|| bad("it does not start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected PRIVATE+KEY+<name>+<key id>+<key>"));
        };
        let id = parse_id(id).ok_or_else(|| bad("the key ID is not 8 hex digits"))?;
        let bytes = decode_b64(key).ok_or_else(|| bad("the key is not canonical base64"))?;
        let (alg, seed) = bytes.split_first().ok_or_else(|| bad("the key is empty"))?;
        if *alg != ALG_ED25519 {
            return Err(bad("the signature type is not Ed25519 (0x01)"));
        }
        let seed = <[u8; 32]>::try_from(seed).map_err(|_| bad("an Ed25519 seed is 32 bytes"))?;
        let signer = NoteSigner::from_seed(name, seed).map_err(|_| bad("the name is empty or holds a space"))?;
        if signer.id != id {
            return Err(bad("the key ID does not match the name and key"));
        }
        Ok(signer)
    }

    /// The signer key text, for the private key file.
    pub fn encode(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{SKEY_PREFIX}{}+{:08x}+{}", self.name, self.id, B64.encode(bytes))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    /// Signs `text` (which must end in a newline) and returns the signed note: the text, a
    /// blank line, and one signature line.
    ///
    /// # Errors
    /// When the text is empty, does not end in a newline, holds a blank line or a control
    /// character: it would not open again.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob)))
    }
}

fn check_chars(s: &str) -> Result<(), NoteError> {
    match s.chars().find(|&c| c != '\n' && (c as u32) < 0x20) {
        Some(c) => Err(malformed(format!("it holds the control character U+{:04X}", c as u32))),
        None => Ok(()),
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    check_chars(text)?;
    if text.is_empty() || !text.ends_with('\n') {
        return Err(malformed("the text must end with a newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(malformed("the text holds an empty line"));
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

/// Splits a signed note into its text (with the final newline) and its signatures, checking
/// the format but no signature.
///
/// # Errors
/// [`NoteError::Malformed`] naming what is wrong.
pub fn split_note(note: &str) -> Result<(&str, Vec<NoteSignature>), NoteError> {
    check_chars(note)?;
    let at = note.rfind("\n\n").ok_or_else(|| malformed("no blank line before the signatures"))?;
    let (text, sigs) = (&note[..=at], &note[at + 2..]);
    if sigs.is_empty() {
        return Err(malformed("no signature lines"));
    }
    if !sigs.ends_with('\n') {
        return Err(malformed("the last signature line does not end with a newline"));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(malformed(format!("more than {MAX_SIGNATURES} signatures")));
    }
    let mut out = Vec::with_capacity(lines.len());
    for (n, line) in lines.iter().enumerate() {
        let bad = |what: &str| malformed(format!("signature line {}: {what}", n + 1));
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| bad("does not start with an em dash and a space"))?;
        let (name, blob) = rest.split_once(' ').ok_or_else(|| bad("no space between key name and signature"))?;
        if !valid_key_name(name) {
            return Err(bad("the key name is empty or holds a space"));
        }
        let blob = decode_b64(blob).ok_or_else(|| bad("the signature is not canonical base64"))?;
        if blob.len() < 5 {
            return Err(bad("the signature is shorter than a key ID and one byte"));
        }
        let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        out.push(NoteSignature { name: name.to_string(), id, signature: blob[4..].to_vec() });
    }
    Ok((text, out))
}

/// Opens a signed note with `verifier`: returns its text when a signature of that key (same
/// name and key ID) verifies. Signatures of other keys are ignored; a failing signature of
/// the key refuses the note.
///
/// # Errors
/// Malformed note, no signature of the key, or a signature of the key that does not verify.
pub fn open<'n>(note: &'n str, verifier: &NoteVerifier) -> Result<&'n str, NoteError> {
    let (text, sigs) = split_note(note)?;
    let mut verified = false;
    for s in &sigs {
        if s.name != verifier.name || s.id != verifier.id {
            continue;
        }
        let bad = || NoteError::BadSignature { key: verifier.label() };
        let sig = <[u8; 64]>::try_from(s.signature.as_slice()).map_err(|_| bad())?;
        verifier.key.verify_strict(text.as_bytes(), &Signature::from_bytes(&sig)).map_err(|_| bad())?;
        verified = true;
    }
    if !verified {
        return Err(NoteError::NotSignedByKey {
            expected: verifier.label(),
            found: sigs.iter().map(|s| format!("{}+{:08x}", s.name, s.id)).collect(),
        });
    }
    Ok(text)
}

/// A checkpoint: the log's origin, its tree size and the Merkle tree root at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Who made it (the key name).
    pub origin: String,
    /// The number of events (leaves) it covers.
    pub size: u64,
    /// The RFC 9162 tree hash of the first `size` events.
    pub root: Hash,
    /// Extension lines (evidock writes none; kept when reading others').
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint text: origin, size, base64 root, extension lines, each ending in a newline.
    pub fn body(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Reads a checkpoint text.
    ///
    /// # Errors
    /// [`NoteError::NotCheckpoint`] naming the bad line.
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |reason: &str| NoteError::NotCheckpoint { reason: reason.to_string() };
        let body = text.strip_suffix('\n').ok_or_else(|| bad("the text does not end with a newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(bad("fewer than three lines (origin, tree size, root hash)"));
        }
        if lines.iter().any(|l| l.is_empty()) {
            return Err(bad("an empty line"));
        }
        let size_ok = lines[1].bytes().all(|b| b.is_ascii_digit()) && (lines[1] == "0" || !lines[1].starts_with('0'));
        let size = lines[1]
            .parse::<u64>()
            .ok()
            .filter(|_| size_ok)
            .ok_or_else(|| bad("the tree size is not a decimal number without leading zeros"))?;
        let root = decode_b64(lines[2])
            .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
            .ok_or_else(|| bad("the root hash is not 32 bytes of canonical base64"))?;
        Ok(Checkpoint {
            origin: lines[0].to_string(),
            size,
            root,
            extensions: lines[3..].iter().map(|l| l.to_string()).collect(),
        })
    }

    /// Signs the checkpoint: the whole signed note.
    ///
    /// # Errors
    /// When the origin or an extension line would break the note (a control character).
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, NoteError> {
        if self.origin.is_empty() || self.extensions.iter().any(String::is_empty) {
            return Err(bad_checkpoint("an empty origin or extension line"));
        }
        signer.sign(&self.body())
    }

    /// Opens a signed checkpoint note with `verifier` and reads its checkpoint.
    ///
    /// # Errors
    /// Why the note is refused: malformed, not signed by the key, a signature that does not
    /// verify (altered or forged), or not a checkpoint.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse(open(note, verifier)?)
    }
}

fn bad_checkpoint(reason: &str) -> NoteError {
    NoteError::NotCheckpoint { reason: reason.to_string() }
}

/// Splits a file of signed notes (the side file: notes one after another, separated by a
/// blank line) into the notes. Text that is not a well-formed note comes out as it is, so that
/// opening it says what is wrong.
pub fn split_notes(text: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let mut cur = String::new();
    let mut in_sigs = false;
    for line in text.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        if in_sigs {
            if bare.starts_with(SIG_PREFIX) {
                cur.push_str(line);
                continue;
            }
            notes.push(std::mem::take(&mut cur));
            in_sigs = false;
            if bare.is_empty() {
                continue;
            }
        }
        if bare.is_empty() {
            if !cur.is_empty() {
                cur.push_str(line);
                in_sigs = true;
            }
        } else {
            cur.push_str(line);
        }
    }
    if !cur.is_empty() {
        notes.push(cur);
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    // The reference key pair and note of the Go signed-note implementation
    // (golang.org/x/mod/sumdb/note, note_test.go), used by every conforming implementation.
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn note() -> String {
        format!("{TEXT}\n{SIG}")
    }

    fn seeded(name: &str, b: u8) -> NoteSigner {
        NoteSigner::from_seed(name, [b; 32]).expect("signer")
    }

    #[test]
    fn checkpoint_module_is_pure() {
        crate::custody::chain::tests::assert_pure(include_str!("checkpoint.rs"));
    }

    #[test]
    fn reference_keys_and_note() {
        let v = NoteVerifier::parse(VKEY).expect("vkey");
        assert_eq!((v.name(), v.id()), ("PeterNeumann", 0xc74f20a3));
        assert_eq!(v.encode(), VKEY);
        let s = NoteSigner::parse(SKEY).expect("skey");
        assert_eq!(s.encode(), SKEY);
        assert_eq!(s.verifier(), v);
        // Ed25519 is deterministic: signing reproduces the published note byte for byte.
        assert_eq!(s.sign(TEXT).expect("signs"), note());
        assert_eq!(open(&note(), &v), Ok(TEXT));
        let altered = note().replace("cryptography", "cryptographY");
        assert_eq!(open(&altered, &v), Err(NoteError::BadSignature { key: "PeterNeumann+c74f20a3".into() }));
    }

    #[test]
    fn mangled_verifier_keys_are_refused() {
        let b = VKEY.as_bytes();
        // Every proper substring, and every single-byte change.
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    let s = String::from_utf8_lossy(&b[i..j]);
                    assert!(NoteVerifier::parse(&s).is_err(), "{s}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            let s = String::from_utf8_lossy(&m);
            assert!(NoteVerifier::parse(&s).is_err(), "{s}");
        }
        // A key of the wrong length, and an unknown signature type, each with its key ID
        // recomputed (from the reference tests).
        assert!(
            NoteVerifier::parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==").is_err()
        );
        assert!(NoteVerifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").is_err());
        assert!(NoteSigner::parse(&SKEY.replace("c74f20a3", "c74f20a4")).is_err());
        assert!(NoteSigner::parse(VKEY).is_err());
    }

    #[test]
    fn malformed_notes_are_refused_with_a_reason() {
        let v = NoteVerifier::parse(VKEY).expect("vkey");
        let cases: Vec<(String, &str)> = vec![
            (TEXT.to_string(), "no blank line"),
            (format!("{TEXT}\n"), "no signature lines"),
            (format!("{TEXT}\n{}", SIG.trim_end()), "does not end with a newline"),
            (format!("{TEXT}\n{}", SIG.replace('\u{2014}', "-")), "em dash"),
            (format!("{TEXT}\n{}", SIG.replace("PeterNeumann ", "PeterNeumann")), "no space"),
            (format!("{TEXT}\n{}", SIG.replace("AM=\n", "AM\n")), "canonical base64"),
            (format!("{TEXT}\n\u{2014} PeterNeumann AAAA\n"), "shorter than a key ID"),
            (format!("{TEXT}\n{}", SIG.repeat(101)), "more than 100"),
            (note().replace("answer", "answer\u{7}"), "control character U+0007"),
        ];
        for (n, want) in cases {
            match open(&n, &v) {
                Err(NoteError::Malformed { reason }) => assert!(reason.contains(want), "{reason} / {want}"),
                other => panic!("{n:?}: {other:?}"),
            }
        }
        // The text is split from the signatures at the last blank line: a blank line in the
        // text makes it a different (unsigned) text.
        let two = format!("a\n\nb\n\n{SIG}");
        assert!(matches!(open(&two, &v), Err(NoteError::BadSignature { .. })));
    }

    #[test]
    fn signatures_of_other_keys_are_ignored_and_a_bad_known_one_refuses() {
        let ours = seeded("evidock/站点一", 1);
        let theirs = seeded("evidock/站点一", 2);
        let cp = Checkpoint { origin: ours.name().into(), size: 3, root: [7; 32], extensions: vec![] };
        let by_them = cp.sign(&theirs).expect("signs");
        match Checkpoint::open(&by_them, &ours.verifier()) {
            Err(e @ NoteError::NotSignedByKey { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&ours.verifier().label()) && msg.contains(&theirs.verifier().label()), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        // Both signatures, in either order: ours verifies, theirs is ignored.
        let by_us = cp.sign(&ours).expect("signs");
        let their_line = by_them.rsplit_once("\n\n").expect("split").1;
        let both = format!("{by_us}{their_line}");
        assert_eq!(Checkpoint::open(&both, &ours.verifier()), Ok(cp.clone()));
        let both = format!("{}\n{their_line}{}", cp.body(), by_us.rsplit_once("\n\n").expect("split").1);
        assert_eq!(Checkpoint::open(&both, &ours.verifier()), Ok(cp.clone()));
        // A second signature line of our key that does not verify refuses the note.
        let mut forged = by_us.clone();
        forged.push_str(&by_us.rsplit_once("\n\n").expect("split").1.replace('A', "B"));
        assert!(Checkpoint::open(&forged, &ours.verifier()).is_err());
    }

    #[test]
    fn checkpoint_text_round_trips_and_edits_are_caught() {
        let s = seeded("evidock/station-1", 9);
        let cp = Checkpoint { origin: s.name().into(), size: 1000, root: [0xab; 32], extensions: vec![] };
        assert_eq!(cp.body(), format!("evidock/station-1\n1000\n{}\n", B64.encode([0xab; 32])));
        let note = cp.sign(&s).expect("signs");
        assert_eq!(Checkpoint::open(&note, &s.verifier()), Ok(cp.clone()));
        for (from, to) in [("1000", "1001"), ("1000", "999"), ("evidock/station-1\n", "evidock/station-2\n")] {
            let edited = note.replacen(from, to, 1);
            assert!(matches!(Checkpoint::open(&edited, &s.verifier()), Err(NoteError::BadSignature { .. })), "{to}");
        }
        let root_edited = note.replacen(&B64.encode([0xab; 32]), &B64.encode([0xac; 32]), 1);
        assert!(matches!(Checkpoint::open(&root_edited, &s.verifier()), Err(NoteError::BadSignature { .. })));
    }

    #[test]
    fn checkpoint_bodies() {
        // The example body of the tlog-checkpoint specification.
        let spec = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cp = Checkpoint::parse(spec).expect("parses");
        assert_eq!((cp.origin.as_str(), cp.size), ("example.com/behind-the-sofa", 20852163));
        assert_eq!(cp.body(), spec);
        let r = B64.encode([1u8; 32]);
        for (text, ok) in [
            (format!("o\n0\n{r}\n"), true),
            (format!("o\n1\n{r}\next\n"), true),
            (format!("o\n01\n{r}\n"), false),
            (format!("o\n-1\n{r}\n"), false),
            (format!("o\n+1\n{r}\n"), false),
            (format!("o\n18446744073709551616\n{r}\n"), false),
            (format!("o\n1\n{r}"), false),
            (format!("o\n1\n{}\n", B64.encode([1u8; 31])), false),
            ("o\n1\n".to_string(), false),
            (format!("\n1\n{r}\n"), false),
        ] {
            assert_eq!(Checkpoint::parse(&text).is_ok(), ok, "{text:?}");
        }
    }

    #[test]
    fn key_names() {
        assert_eq!(key_name("Station 1"), "evidock/Station-1");
        assert_eq!(key_name("卫健执法 一号+站/2"), "evidock/卫健执法-一号-站-2");
        assert_eq!(key_name("  "), "evidock/station");
        assert!(valid_key_name(&key_name("a\tb")));
        assert!(NoteSigner::from_seed("a b", [0; 32]).is_err());
        assert!(NoteSigner::from_seed("", [0; 32]).is_err());
        assert!(NoteSigner::from_seed("a+b", [0; 32]).is_err());
        let s = seeded("evidock/卫健执法", 3);
        assert_eq!(NoteSigner::parse(&s.encode()).expect("round trip").encode(), s.encode());
        assert_eq!(NoteVerifier::parse(&s.verifier().encode()), Ok(s.verifier()));
        assert!(!format!("{s:?}").contains(&s.encode()), "Debug never shows the private key");
    }

    #[test]
    fn side_files_split_into_notes() {
        let s = seeded("evidock/x", 4);
        let notes: Vec<String> = (0..3)
            .map(|i| Checkpoint { origin: "evidock/x".into(), size: i, root: [i as u8; 32], extensions: vec![] })
            .map(|c| c.sign(&s).expect("signs"))
            .collect();
        let file = notes.iter().map(|n| format!("{n}\n")).collect::<String>();
        assert_eq!(split_notes(&file), notes);
        assert_eq!(split_notes(&notes.concat()), notes, "without blank separators too");
        // A damaged note comes out as it is and is refused when opened.
        let damaged = format!("{}\ngarbage\n\n{}", notes[0], notes[1]);
        let split = split_notes(&damaged);
        assert_eq!(split.len(), 3);
        assert!(Checkpoint::open(&split[1], &s.verifier()).is_err());
        assert!(split_notes("\n\n").is_empty());
    }
}

#[cfg(test)]
mod worked_example {
    use super::*;
    use crate::custody::event::{encode, seal, Action, Actor, NewEvent, Role, StoredEvent};
    use crate::custody::merkle::{
        consistency_proof, event_leaf, inclusion_proof, leaf_hash, node_hash, root, verify_consistency,
        verify_inclusion, EMPTY_ROOT,
    };
    use chrono::{TimeZone, Utc};

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// The two events of the worked example in docs/CUSTODY-LOG.md §8.
    fn events() -> [StoredEvent; 2] {
        let t1 = Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).single().expect("valid time")
            + chrono::Duration::milliseconds(125);
        let a = seal(
            None,
            &NewEvent::new(
                Actor { user: "zhangsan".into(), role: Role::Custodian, officer: Some("012345".into()) },
                Action::Docked,
                "device:A100001",
            )
            .detail("bay", 3)
            .detail("officer_name", "张三"),
            t1,
            chrono_tz::Asia::Shanghai,
        )
        .expect("seals");
        let t2 = Utc.with_ymd_and_hms(2024, 5, 1, 8, 41, 7).single().expect("valid time");
        let next = NewEvent::new(Actor::daemon("evidock"), Action::Undocked, "device:A100001");
        let b = seal(Some((a.seq, a.hash)), &next, t2, chrono_tz::Asia::Shanghai).expect("seals");
        [a, b]
    }

    /// The example key of the document: seed bytes 00 01 02 … 1f. Never a station's key.
    fn example_key() -> NoteSigner {
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        NoteSigner::from_seed("evidock/example-station", seed).expect("signer")
    }

    const LEAF_1: &str = "4f49fb79ee98936a6c423626c63e2db2f01e85c308f1dea27dfccfc485d0e35e";
    const LEAF_2: &str = "70b96ad2d9087290366906f4dbf307610d744b1e32e573f85d7924ec815239c5";
    const ROOT_2: &str = "ef3400f230f284a6dca877bb19a83ed05641aafd6b42d97ca291e18f9655d5f8";
    const VKEY: &str = "evidock/example-station+203896d4+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    const NOTE_1: &str = "evidock/example-station\n1\nT0n7ee6Yk2psQjYmxj4tsvAehcMI8d6iffzPxIXQ414=\n\n\u{2014} evidock/example-station IDiW1B4Vd8EuzX+lPflkROeEzig6Zez5M8POd/nHTY22lUcKgqMvE0krhdeAhEW8wUU5dF/GoEltfPt7IGR/U0GhTQE=\n";
    const NOTE_2: &str = "evidock/example-station\n2\n7zQA8jDyhKbcqHe7Gag+0FZBqv1rQtl8opHhj5ZV1fg=\n\n\u{2014} evidock/example-station IDiW1Kn9IFFk0pVe9cXlidO0vIPkR7XlXWiulK7zV6cRqrC8efmZ4JqhSzV9Jb3RI1sH+nLmg8bt3rg9iALrzyCfhwk=\n";

    /// Pins every value of the worked example in docs/CUSTODY-LOG.md §12.
    #[test]
    fn the_documented_worked_example() {
        let [a, b] = events();
        let (l1, l2) = (event_leaf(&a), event_leaf(&b));
        assert_eq!(l1, leaf_hash(&encode(&a)));
        assert_eq!((hex(&l1), hex(&l2)), (LEAF_1.to_string(), LEAF_2.to_string()));
        let r2 = root([l1, l2]);
        assert_eq!(r2, node_hash(&l1, &l2));
        assert_eq!(hex(&r2), ROOT_2);
        assert_eq!(B64.encode(r2), "7zQA8jDyhKbcqHe7Gag+0FZBqv1rQtl8opHhj5ZV1fg=");
        assert_eq!(hex(&root([])), hex(&EMPTY_ROOT));

        assert_eq!(inclusion_proof(0, 2, [l1, l2]), Ok(vec![l2]));
        assert_eq!(inclusion_proof(1, 2, [l1, l2]), Ok(vec![l1]));
        assert_eq!(consistency_proof(1, 2, [l1, l2]), Ok(vec![l2]));
        verify_inclusion(0, 2, &l1, &[l2], &r2).expect("event 1 in the tree of 2");
        verify_consistency(1, 2, &l1, &r2, &[l2]).expect("1 -> 2");

        let k = example_key();
        assert_eq!(k.verifier().encode(), VKEY);
        let v = NoteVerifier::parse(VKEY).expect("vkey");
        for (size, r, note) in [(1, l1, NOTE_1), (2, r2, NOTE_2)] {
            let cp = Checkpoint { origin: "evidock/example-station".into(), size, root: r, extensions: vec![] };
            assert_eq!(cp.sign(&k).expect("signs"), note);
            assert_eq!(Checkpoint::open(note, &v), Ok(cp));
        }
    }
}
