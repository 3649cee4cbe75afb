//! What a vendor recorder's file names say: a small pattern language for the names a model
//! writes (device serial, badge, start time, sequence number) and the "important" marks
//! (pre-record, one-key marking) some models put in a name or a folder.
//!
//! Owns: compiling a model's `name_pattern` and reading names with it. Pure: no I/O, no clock.
//! Must never: guess. A name that does not match, or whose time is not a real time, says
//! nothing; the caller falls back to the file system's time and marks it unattested.
//!
//! A pattern describes a file's name without its extension (the text before the last `.`).
//! Placeholders: `{serial}` and `{badge}` (one or more of `0-9 A-Z a-z`), `{YYYY}` (4 digits),
//! `{MM}`, `{DD}`, `{hh}`, `{mm}`, `{ss}` (2 digits each), `{seq}` (one or more digits) and
//! `{*}` (any text, possibly none). Everything else is literal text, matched exactly; `{{`
//! and `}}` stand for a brace. The first way a name matches is the one read: `{serial}`,
//! `{badge}` and `{seq}` take as many characters as they can, `{*}` as few.

use chrono::{NaiveDate, NaiveDateTime};

/// A compiled file-name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Serial,
    Badge,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Seq,
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<char>),
    Field(Field),
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "serial" => Field::Serial,
            "badge" => Field::Badge,
            "YYYY" => Field::Year,
            "MM" => Field::Month,
            "DD" => Field::Day,
            "hh" => Field::Hour,
            "mm" => Field::Minute,
            "ss" => Field::Second,
            "seq" => Field::Seq,
            "*" => Field::Any,
            _ => return None,
        })
    }

    /// Fixed width in characters, for the time fields.
    fn width(self) -> Option<usize> {
        match self {
            Field::Year => Some(4),
            Field::Month | Field::Day | Field::Hour | Field::Minute | Field::Second => Some(2),
            _ => None,
        }
    }

    fn accepts(self, c: char) -> bool {
        match self {
            Field::Serial | Field::Badge => c.is_ascii_alphanumeric(),
            Field::Any => true,
            _ => c.is_ascii_digit(),
        }
    }
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(String);

/// What a name says, where the pattern matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameFacts {
    /// Device serial written in the name.
    pub serial: Option<String>,
    /// Officer badge written in the name.
    pub badge: Option<String>,
    /// Start of the recording on the recorder's clock (needs at least year, month and day;
    /// missing hours, minutes or seconds count as 0).
    pub start: Option<NaiveDateTime>,
    /// Sequence number.
    pub seq: Option<u64>,
}

impl NamePattern {
    /// Compiles a pattern.
    ///
    /// # Errors
    /// On an unknown placeholder, an unbalanced brace, a field given twice, or an empty
    /// pattern.
    pub fn parse(text: &str) -> Result<NamePattern, PatternError> {
        if text.trim().is_empty() {
            return Err(PatternError("the pattern is empty".into()));
        }
        if text.len() > 200 {
            return Err(PatternError("the pattern is longer than 200 bytes".into()));
        }
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut chars = text.chars().peekable();
        let mut seen: Vec<Field> = Vec::new();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if name.len() < 16 => name.push(c),
                            _ => return Err(PatternError(format!("unclosed placeholder {{{name} in {text:?}"))),
                        }
                    }
                    let field = Field::parse(&name).ok_or_else(|| {
                        PatternError(format!(
                            "unknown placeholder {{{name}}}: use {{serial}}, {{badge}}, {{YYYY}}, {{MM}}, {{DD}}, \
                             {{hh}}, {{mm}}, {{ss}}, {{seq}} or {{*}}"
                        ))
                    })?;
                    if field != Field::Any && seen.contains(&field) {
                        return Err(PatternError(format!("{{{name}}} is given twice")));
                    }
                    seen.push(field);
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(field));
                }
                '}' => return Err(PatternError(format!("a lone }} in {text:?} (write }}}} for a brace)"))),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let has = |f| seen.contains(&f);
        let time_fields = [Field::Year, Field::Month, Field::Day, Field::Hour, Field::Minute, Field::Second];
        if time_fields.iter().any(|f| has(*f)) && !(has(Field::Year) && has(Field::Month) && has(Field::Day)) {
            return Err(PatternError("a time in the name needs at least {YYYY}, {MM} and {DD}".into()));
        }
        Ok(NamePattern { text: text.to_string(), parts })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Reads a file name (with its extension, which the pattern does not cover). `None` when
    /// the name does not match.
    pub fn read(&self, file_name: &str) -> Option<NameFacts> {
        let stem = match file_name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => file_name,
        };
        let chars: Vec<char> = stem.chars().collect();
        if chars.len() > 255 {
            return None;
        }
        let mut spans = vec![(0usize, 0usize); self.parts.len()];
        // Failed (part, position) pairs: no capture changes what can match after them.
        let mut failed = vec![false; (self.parts.len() + 1) * (chars.len() + 1)];
        if !self.matches(&chars, 0, 0, &mut spans, &mut failed) {
            return None;
        }
        let mut facts = NameFacts::default();
        let mut time = [None::<u32>; 6];
        for (part, &(a, b)) in self.parts.iter().zip(&spans) {
            let Part::Field(f) = part else { continue };
            let text: String = chars[a..b].iter().collect();
            match f {
                Field::Serial => facts.serial = Some(text),
                Field::Badge => facts.badge = Some(text),
                Field::Seq => facts.seq = text.parse().ok(),
                Field::Any => {}
                Field::Year => time[0] = text.parse().ok(),
                Field::Month => time[1] = text.parse().ok(),
                Field::Day => time[2] = text.parse().ok(),
                Field::Hour => time[3] = text.parse().ok(),
                Field::Minute => time[4] = text.parse().ok(),
                Field::Second => time[5] = text.parse().ok(),
            }
        }
        if let [Some(y), Some(mo), Some(d), h, mi, s] = time {
            facts.start = NaiveDate::from_ymd_opt(y as i32, mo, d)
                .and_then(|date| date.and_hms_opt(h.unwrap_or(0), mi.unwrap_or(0), s.unwrap_or(0)));
        }
        Some(facts)
    }

    fn matches(
        &self,
        chars: &[char],
        part: usize,
        pos: usize,
        spans: &mut [(usize, usize)],
        failed: &mut [bool],
    ) -> bool {
        let Some(p) = self.parts.get(part) else { return pos == chars.len() };
        let memo = part * (chars.len() + 1) + pos;
        if failed[memo] {
            return false;
        }
        let ok = match p {
            Part::Literal(lit) => {
                chars.get(pos..pos + lit.len()) == Some(lit.as_slice()) && {
                    spans[part] = (pos, pos + lit.len());
                    self.matches(chars, part + 1, pos + lit.len(), spans, failed)
                }
            }
            Part::Field(f) => {
                let (min, max) = match f.width() {
                    Some(w) => (w, w),
                    None if *f == Field::Any => (0, chars.len() - pos),
                    None => (1, chars.len() - pos),
                };
                // The longest run the field accepts; `{*}` tries the shortest text first, the
                // other fields the longest.
                let run = chars[pos..].iter().take(max).take_while(|c| f.accepts(**c)).count();
                let lens: Vec<usize> =
                    if *f == Field::Any { (min..=run).collect() } else { (min..=run).rev().collect() };
                let mut ok = false;
                for len in lens {
                    let end = pos + len;
                    spans[part] = (pos, end);
                    if self.matches(chars, part + 1, end, spans, failed) {
                        ok = true;
                        break;
                    }
                }
                ok
            }
        };
        if !ok {
            failed[memo] = true;
        }
        ok
    }
}

/// Where an "important" mark was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportantMark {
    /// The mark as configured.
    pub mark: String,
    /// Where: `file name` or `folder <name>`.
    pub place: String,
}

/// The first of `marks` that a path marks: a word of the file name (the name without its
/// extension, split at `_`, `-`, `.`, `@`, `+` and spaces) or a whole folder name equal to a
/// mark, compared without regard to ASCII case.
pub fn important_mark(rel: &str, marks: &[String]) -> Option<ImportantMark> {
    let mut parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let name = parts.pop()?;
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| if s.is_empty() { name } else { s });
    let words: Vec<&str> = stem.split(['_', '-', '.', '@', '+', ' ']).filter(|w| !w.is_empty()).collect();
    for mark in marks {
        if words.iter().any(|w| w.eq_ignore_ascii_case(mark)) {
            return Some(ImportantMark { mark: mark.clone(), place: "file name".into() });
        }
        if let Some(folder) = parts.iter().find(|f| f.eq_ignore_ascii_case(mark)) {
            return Some(ImportantMark { mark: mark.clone(), place: format!("folder {folder}") });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn reads_serial_badge_time_and_sequence() {
        let p = NamePattern::parse("{serial}_{badge}_{YYYY}{MM}{DD}{hh}{mm}{ss}_{seq}{*}").unwrap();
        let f = p.read("A100001_012345_20240501093015_0042_IMP.MP4").unwrap();
        assert_eq!(f.serial.as_deref(), Some("A100001"));
        assert_eq!(f.badge.as_deref(), Some("012345"));
        assert_eq!(f.start, Some(t("2024-05-01T09:30:15")));
        assert_eq!(f.seq, Some(42));
        // Without the optional tail.
        assert_eq!(p.read("A100001_012345_20240501093015_0043.MP4").unwrap().seq, Some(43));
        // Not this model's name.
        assert_eq!(p.read("holiday.jpg"), None);
        // Matches, but no such day: no start, never a guessed one.
        assert_eq!(p.read("A100001_012345_20240231093015_0001.MP4").unwrap().start, None);
    }

    #[test]
    fn separated_date_and_time_with_literal_text() {
        let p = NamePattern::parse("{serial}_{badge}_{YYYY}_{MM}{DD}_{hh}{mm}{ss}_{seq}{*}").unwrap();
        let f = p.read("A9SN001_012345_2024_0501_235959_007.MP4").unwrap();
        assert_eq!(f.start, Some(t("2024-05-01T23:59:59")));
        assert_eq!(f.seq, Some(7));
        let p = NamePattern::parse("REC{{{YYYY}-{MM}-{DD}}}").unwrap();
        assert_eq!(p.read("REC{2024-05-01}.WAV").unwrap().start, Some(t("2024-05-01T00:00:00")));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        for (bad, why) in [
            ("", "empty"),
            ("{serial}_{when}", "unknown placeholder {when}"),
            ("{serial", "unclosed"),
            ("x}y", "lone }"),
            ("{seq}_{seq}", "given twice"),
            ("{hh}{mm}", "needs at least"),
        ] {
            let e = NamePattern::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn important_marks_are_words_or_folders() {
        let marks = vec!["IMP".to_string(), "EMR".to_string()];
        let m = important_mark("DCIM/20240501/A100001_012345_20240501093015_0042_IMP.MP4", &marks).unwrap();
        assert_eq!((m.mark.as_str(), m.place.as_str()), ("IMP", "file name"));
        let m = important_mark("DCIM/emr/FILE0001.MP4", &marks).unwrap();
        assert_eq!(m.place, "folder emr");
        // A mark inside a longer word, or only in the extension, is no mark.
        assert_eq!(important_mark("DCIM/100MEDIA/IMPORT_0001.MP4", &marks), None);
        assert_eq!(important_mark("DCIM/100MEDIA/FILE0001.IMP", &marks), None);
        assert_eq!(important_mark("DCIM/100MEDIA/FILE0001.MP4", &[]), None);
    }
}

#[cfg(test)]
mod hostile_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Any pattern text compiles or is refused; any name is read or not: never a panic,
        /// and a start time read is always one the name spells out.
        #[test]
        fn patterns_and_names_never_panic(
            pattern in "([{}_*@.-]|\\{(serial|badge|YYYY|MM|DD|hh|mm|ss|seq|\\*|x)\\}|[A-Za-z0-9]{1,3}){0,12}",
            name in "[A-Za-z0-9_.@{}录像-]{0,60}",
        ) {
            if let Ok(p) = NamePattern::parse(&pattern) {
                if let Some(f) = p.read(&name) {
                    if let Some(start) = f.start {
                        let year = start.format("%Y").to_string();
                        prop_assert!(name.contains(&year), "{} from {}", start, name);
                    }
                }
            }
            let _ = important_mark(&name, &["IMP".to_string()]);
        }

        /// Many variable-width fields against a long name that almost matches: answered quickly
        /// (the failed positions are remembered), without a panic.
        #[test]
        fn backtracking_is_bounded(n in 1usize..200) {
            let p = NamePattern::parse("{*}_{*}_{*}_{*}_{*}_{*}_Z").unwrap();
            let name = "_".repeat(n);
            prop_assert!(p.read(&name).is_none());
        }
    }
}
