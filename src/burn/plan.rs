//! The burn plan (R8): which long-term footage goes on which disc, as a pure function of the
//! eligible files, the medium and the reserved overhead.
//!
//! Rules, in order:
//! - a file whose cost is larger than a disc's usable room is refused, with a message saying
//!   so; no file is ever split across discs;
//! - a group (a case, or a recording without a case) that fits on one disc goes on one disc;
//! - a group too large for one disc fills whole discs of its own, files in path order, and
//!   every disc it spans carries a continuation note (part n of m, on which discs);
//! - groups that fit are placed largest first, each on the first disc with room (first-fit
//!   decreasing), so the tails of split groups are filled too.
//!
//! A file's cost is its size rounded up to the 2048-byte block of ISO 9660 plus a reserve per
//! file; a disc's usable room is its capacity less a reserve per disc (see [`Reserve`]).
//!
//! Must never: do I/O or read a clock; exceed a disc's capacity; drop or repeat a file.

use std::collections::BTreeMap;

/// ISO 9660 logical block size: every file occupies whole blocks.
pub const BLOCK: u64 = 2048;

/// A recordable medium and its capacity in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Name as given: `bd25`, `bd50`, `bd100`, `dvd`, `custom:BYTES`.
    pub name: String,
    /// Bytes a blank disc of this kind holds (the smallest of the common variants).
    pub capacity: u64,
}

impl Media {
    /// Parses a medium name: `bd25` (single-layer BD-R, 12,219,392 blocks of 2048 bytes),
    /// `bd50` (dual-layer, 24,438,784 blocks), `bd100` (BDXL triple-layer, 48,878,592 blocks),
    /// `dvd` (single-layer DVD±R, 2,295,104 blocks, the DVD+R figure, smaller than DVD-R's),
    /// or `custom:BYTES`.
    ///
    /// # Errors
    /// A message naming the value and the names allowed.
    pub fn parse(s: &str) -> Result<Media, String> {
        let capacity = match s {
            "bd25" => 12_219_392 * BLOCK,
            "bd50" => 24_438_784 * BLOCK,
            "bd100" => 48_878_592 * BLOCK,
            "dvd" => 2_295_104 * BLOCK,
            other => match other.strip_prefix("custom:") {
                Some(n) => n.replace('_', "").parse::<u64>().ok().filter(|n| *n >= 1 << 20).ok_or_else(|| {
                    format!("media {other:?}: custom:BYTES needs a whole number of bytes, at least 1048576")
                })?,
                None => {
                    return Err(format!("media {other:?}: expected bd25, bd50, bd100, dvd or custom:BYTES"));
                }
            },
        };
        Ok(Media { name: s.to_string(), capacity })
    }
}

/// Room kept free for what is not footage. Configured in `[burn]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserve {
    /// Per file: ISO 9660, Rock Ridge and Joliet directory records, the MD5 array entry, and
    /// the file's lines in the bag's manifests.
    pub per_file: u64,
    /// Per disc: system area and volume descriptors, path tables, padding, the session MD5
    /// tags, the bag's tag files, README, and the custody files.
    pub per_disc: u64,
}

/// Which footage belongs together on a disc.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// A case, by number.
    Case(String),
    /// A recording filed into no case (kept long-term by a flag), by recording id.
    Recording(String),
}

impl Group {
    /// Shown in tables and notes: the case number, or `recording SERIAL/SESSION`.
    pub fn label(&self) -> String {
        match self {
            Group::Case(c) => c.clone(),
            Group::Recording(r) => format!("recording {r}"),
        }
    }
}

/// A file eligible for a disc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Catalogue file id.
    pub file_id: i64,
    /// Path relative to the archive root (`YYYY/MM/DD/<case>/<serial>/<name>`).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3 recorded at ingest, hex.
    pub blake3: String,
    /// The group it is kept with.
    pub group: Group,
}

/// The room a file takes on a disc.
pub fn cost(size: u64, reserve: &Reserve) -> u64 {
    size.div_ceil(BLOCK).saturating_mul(BLOCK).saturating_add(reserve.per_file)
}

/// A group's place on one disc of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPart {
    /// The group.
    pub group: Group,
    /// Which part this disc holds (1-based).
    pub part: usize,
    /// Of how many parts.
    pub of: usize,
    /// The discs (1-based) holding every part, in order.
    pub discs: Vec<usize>,
}

impl GroupPart {
    /// The continuation note, in Chinese and English, or `None` when the group is whole here.
    pub fn note(&self) -> Option<String> {
        (self.of > 1).then(|| {
            let list: Vec<String> = self.discs.iter().map(|d| d.to_string()).collect();
            format!(
                "{}: 第{}部分，共{}部分，见第{}张光盘 / part {} of {}, on discs {}",
                self.group.label(),
                self.part,
                self.of,
                list.join("、"),
                self.part,
                self.of,
                list.join(", ")
            )
        })
    }
}

/// One disc of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscPlan {
    /// Its number in the plan, 1-based.
    pub number: usize,
    /// Files, in path order.
    pub files: Vec<Candidate>,
    /// Room used: the costs of its files plus the per-disc reserve.
    pub used: u64,
    /// The groups on it.
    pub groups: Vec<GroupPart>,
}

impl DiscPlan {
    /// Bytes of footage.
    pub fn payload(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// A file that cannot go on this medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The file.
    pub file: Candidate,
    /// Its cost on a disc.
    pub cost: u64,
    /// The room a disc has.
    pub room: u64,
    /// The medium's name.
    pub media: String,
}

impl Refused {
    /// Why, in Chinese and English.
    pub fn message(&self) -> String {
        format!(
            "{} ({} bytes) is larger than one disc can hold ({} bytes usable on {}): it is not split; \
             use a larger medium / 文件大于单张光盘可用容量，不拆分文件，请选用更大容量的光盘",
            self.file.path, self.file.size, self.room, self.media
        )
    }
}

/// The plan: discs and refused files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The medium.
    pub media: Media,
    /// The reserve used.
    pub reserve: Reserve,
    /// The discs, in order.
    pub discs: Vec<DiscPlan>,
    /// Files larger than a disc.
    pub refused: Vec<Refused>,
}

impl Plan {
    /// Usable room on one disc.
    pub fn room(&self) -> u64 {
        self.media.capacity.saturating_sub(self.reserve.per_disc)
    }
}

/// Packs `candidates` onto discs of `media` (see the module documentation). Deterministic:
/// the same input in any order gives the same plan.
pub fn plan(candidates: &[Candidate], media: &Media, reserve: Reserve) -> Plan {
    let room = media.capacity.saturating_sub(reserve.per_disc);
    let mut groups: BTreeMap<Group, Vec<Candidate>> = BTreeMap::new();
    let mut refused = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| (&a.path, a.file_id).cmp(&(&b.path, b.file_id)));
    for c in sorted {
        if !seen.insert(c.file_id) {
            continue; // one file, one place: a file listed twice is planned once
        }
        let k = cost(c.size, &reserve);
        if k > room {
            refused.push(Refused { file: c.clone(), cost: k, room, media: media.name.clone() });
        } else {
            groups.entry(c.group.clone()).or_default().push(c.clone());
        }
    }

    struct Open {
        used: u64,
        files: Vec<Candidate>,
    }
    let mut discs: Vec<Open> = Vec::new();
    let total = |files: &[Candidate]| files.iter().map(|f| cost(f.size, &reserve)).sum::<u64>();
    let (mut large, mut fitting): (Vec<_>, Vec<_>) = groups.into_iter().partition(|(_, files)| total(files) > room);

    // Groups too large for one disc: whole discs of their own, files in path order.
    large.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, files) in large {
        let mut current: Option<usize> = None;
        for f in files {
            let k = cost(f.size, &reserve);
            let fits = current.is_some_and(|i| discs[i].used + k <= room);
            if !fits {
                discs.push(Open { used: 0, files: Vec::new() });
                current = Some(discs.len() - 1);
            }
            let i = current.unwrap_or_default();
            discs[i].used += k;
            discs[i].files.push(f);
        }
    }
    // Groups that fit: largest first, first disc with room.
    fitting.sort_by(|a, b| total(&b.1).cmp(&total(&a.1)).then_with(|| a.0.cmp(&b.0)));
    for (_, files) in fitting {
        let need = total(&files);
        let at = discs.iter().position(|d| d.used + need <= room);
        let i = match at {
            Some(i) => i,
            None => {
                discs.push(Open { used: 0, files: Vec::new() });
                discs.len() - 1
            }
        };
        discs[i].used += need;
        discs[i].files.extend(files);
    }

    // Continuation notes: for every group, the discs it is on.
    let mut spans: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
    for (i, d) in discs.iter().enumerate() {
        for f in &d.files {
            let s = spans.entry(f.group.clone()).or_default();
            if s.last() != Some(&(i + 1)) {
                s.push(i + 1);
            }
        }
    }
    let discs = discs
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            d.files.sort_by(|a, b| a.path.cmp(&b.path));
            let mut groups: Vec<GroupPart> = Vec::new();
            for f in &d.files {
                if groups.iter().any(|g| g.group == f.group) {
                    continue;
                }
                let on = &spans[&f.group];
                groups.push(GroupPart {
                    group: f.group.clone(),
                    part: on.iter().position(|n| *n == i + 1).unwrap_or(0) + 1,
                    of: on.len(),
                    discs: on.clone(),
                });
            }
            groups.sort_by(|a, b| a.group.cmp(&b.group));
            DiscPlan { number: i + 1, files: d.files, used: d.used + reserve.per_disc, groups }
        })
        .collect();
    Plan { media: media.clone(), reserve, discs, refused }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const R: Reserve = Reserve { per_file: 4096, per_disc: 1 << 20 };

    fn media(capacity: u64) -> Media {
        Media { name: format!("custom:{capacity}"), capacity }
    }

    fn file(id: i64, size: u64, group: &str) -> Candidate {
        Candidate {
            file_id: id,
            path: format!("2026/01/02/{group}/A1/f{id:04}.MP4"),
            size,
            blake3: format!("{id:064x}"),
            group: Group::Case(group.to_string()),
        }
    }

    fn ids(d: &DiscPlan) -> Vec<i64> {
        d.files.iter().map(|f| f.file_id).collect()
    }

    #[test]
    fn media_names() {
        assert_eq!(Media::parse("bd25").unwrap().capacity, 25_025_314_816);
        assert_eq!(Media::parse("dvd").unwrap().capacity, 4_700_372_992);
        assert_eq!(Media::parse("custom:10_000_000").unwrap().capacity, 10_000_000);
        assert!(Media::parse("cd").unwrap_err().contains("expected bd25"));
        assert!(Media::parse("custom:12").unwrap_err().contains("at least"));
    }

    #[test]
    fn an_exact_fit_uses_one_disc() {
        // Two files of exactly 10 blocks each: cost 2 × (20480 + 4096), plus the disc reserve.
        let capacity = 2 * (20_480 + 4096) + (1 << 20);
        let p = plan(&[file(1, 20_480, "甲"), file(2, 20_480, "甲")], &media(capacity), R);
        assert_eq!(p.discs.len(), 1);
        assert_eq!(p.discs[0].used, capacity);
        // One byte more does not fit: the case is split, with notes on both discs.
        let p = plan(&[file(1, 20_480, "甲"), file(2, 20_481, "甲")], &media(capacity), R);
        assert_eq!(p.discs.len(), 2);
        assert_eq!(
            p.discs[0].groups[0].note().unwrap(),
            "甲: 第1部分，共2部分，见第1、2张光盘 / part 1 of 2, on discs 1, 2"
        );
        assert_eq!(p.discs[1].groups[0].part, 2);
    }

    #[test]
    fn a_file_larger_than_a_disc_is_refused_and_named() {
        let m = media(10 << 20);
        let p = plan(&[file(1, 8 << 20, "甲"), file(2, 20 << 20, "乙")], &m, R);
        assert_eq!(p.discs.len(), 1);
        assert_eq!(ids(&p.discs[0]), [1]);
        assert_eq!(p.refused.len(), 1);
        let msg = p.refused[0].message();
        assert!(msg.contains("2026/01/02/乙/A1/f0002.MP4") && msg.contains("not split"), "{msg}");
    }

    #[test]
    fn a_case_that_fits_stays_on_one_disc() {
        // Disc room 4 MiB: case A (3 MiB) and case B (3 MiB) cannot share; C (1 MiB) joins one.
        let m = media(5 << 20);
        let files = [
            file(1, 1 << 20, "A"),
            file(2, 1 << 20, "A"),
            file(3, 1 << 20, "A"),
            file(4, 3 << 20, "B"),
            file(5, 512 << 10, "C"),
            file(6, 256 << 10, "C"),
        ];
        let p = plan(&files, &m, R);
        assert_eq!(p.discs.len(), 2);
        for d in &p.discs {
            assert!(d.groups.iter().all(|g| g.of == 1), "no case split: {:?}", d.groups);
        }
        let a = p.discs.iter().find(|d| ids(d).contains(&1)).unwrap();
        assert!(ids(a).contains(&2) && ids(a).contains(&3));
    }

    #[test]
    fn many_small_files_fill_discs_in_order() {
        let m = media(2 << 20);
        let files: Vec<Candidate> = (1..=1000).map(|i| file(i, 1000 + i as u64, "大案")).collect();
        let p = plan(&files, &m, R);
        let room = p.room();
        let per_disc = room / cost(2000, &R);
        assert!(p.discs.len() as u64 >= 1000 / (per_disc + 1), "{} discs", p.discs.len());
        let mut all: Vec<i64> = p.discs.iter().flat_map(ids).collect();
        assert_eq!(all, (1..=1000).collect::<Vec<_>>(), "path order kept across discs");
        all.dedup();
        assert_eq!(all.len(), 1000);
        assert!(p.discs.iter().all(|d| d.used <= m.capacity));
        let n = p.discs.len();
        assert!(p.discs.iter().all(|d| d.groups[0].of == n));
    }

    #[test]
    fn a_listed_twice_file_is_planned_once() {
        let p = plan(&[file(1, 10, "A"), file(1, 10, "A")], &media(2 << 20), R);
        assert_eq!(ids(&p.discs[0]), [1]);
    }

    fn arb_candidates() -> impl Strategy<Value = Vec<Candidate>> {
        prop::collection::vec((0u64..6_000_000, 0usize..6, any::<bool>()), 0..60).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (size, g, rec))| Candidate {
                    file_id: i as i64 + 1,
                    path: format!("2026/01/0{}/g{g}/A1/f{i:03}", g % 3 + 1),
                    size,
                    blake3: String::new(),
                    group: if rec { Group::Recording(format!("A1/s{g}")) } else { Group::Case(format!("案{g}")) },
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// A plan never exceeds capacity and holds every eligible file exactly once; a file is
        /// refused only when it alone exceeds a disc.
        #[test]
        fn plans_never_exceed_capacity_and_hold_every_file_once(
            files in arb_candidates(),
            capacity in (2u64 << 20)..(16 << 20),
            per_file in 0u64..10_000,
        ) {
            let reserve = Reserve { per_file, per_disc: 1 << 20 };
            let p = plan(&files, &media(capacity), reserve);
            let mut placed: Vec<i64> = Vec::new();
            for d in &p.discs {
                prop_assert!(d.used <= capacity, "disc {} uses {} of {}", d.number, d.used, capacity);
                let sum: u64 = d.files.iter().map(|f| cost(f.size, &reserve)).sum::<u64>() + reserve.per_disc;
                prop_assert_eq!(sum, d.used);
                prop_assert!(!d.files.is_empty());
                placed.extend(ids(d));
            }
            for r in &p.refused {
                prop_assert!(cost(r.file.size, &reserve) > p.room());
                placed.push(r.file.file_id);
            }
            placed.sort_unstable();
            let mut want: Vec<i64> = files.iter().map(|f| f.file_id).collect();
            want.sort_unstable();
            prop_assert_eq!(placed, want);
            // A group that fits on one disc is on one disc.
            let mut by_group: BTreeMap<Group, u64> = BTreeMap::new();
            for f in &files {
                if cost(f.size, &reserve) <= p.room() {
                    *by_group.entry(f.group.clone()).or_default() += cost(f.size, &reserve);
                }
            }
            for d in &p.discs {
                for g in &d.groups {
                    if by_group[&g.group] <= p.room() {
                        prop_assert_eq!(g.of, 1, "{:?} fits on one disc but was split", g.group);
                    }
                }
            }
        }
    }
}
