//! Descriptions of footage (R4, R13; S2 §13, S4 §23): what a recording or a case shows, as
//! its officer or a filer wrote it: the party or object (执法对象), what was done (执法内容)
//! and where the evidence was taken (取证地点), with who wrote it and when. A new description
//! supersedes the last; every one stays, and each is a `footage_described` custody event in the
//! same transaction (INV-32).
//!
//! Owns: the `descriptions` table, the checks of a description's text ([`Text::new`]) and of
//! who may write it ([`Catalog::describe`]).
//! Must never: change or delete a description (a correction is a new one).

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use crate::custody::event::{Action, Role};

use super::store::{append, begin, sql, Catalog, CatalogError};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS descriptions (
    id          INTEGER PRIMARY KEY,
    target      TEXT NOT NULL,
    subject     TEXT,
    content     TEXT,
    place       TEXT,
    written_by  TEXT NOT NULL,
    officer     TEXT,
    written_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS descriptions_by_target ON descriptions (target, id);
"#;

/// Longest party or object (执法对象), in characters.
pub const MAX_SUBJECT: usize = 200;
/// Longest account of what was done (执法内容), in characters.
pub const MAX_CONTENT: usize = 2000;
/// Longest place (取证地点), in characters.
pub const MAX_PLACE: usize = 200;

/// What a description is about: `recording:SERIAL/SESSION` (or `SERIAL/file-ID`) or
/// `case:NUMBER`, as the custody log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One recording.
    Recording(String),
    /// A case.
    Case(String),
}

impl Target {
    /// The custody log's subject, also the table's `target`.
    pub fn subject(&self) -> String {
        match self {
            Target::Recording(r) => format!("recording:{r}"),
            Target::Case(c) => format!("case:{}", c.trim()),
        }
    }
}

/// A description's three fields, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text {
    /// 执法对象.
    pub subject: Option<String>,
    /// 执法内容.
    pub content: Option<String>,
    /// 取证地点.
    pub place: Option<String>,
}

fn field(value: Option<&str>, name: &str, name_zh: &str, max: usize) -> Result<Option<String>, CatalogError> {
    let Some(v) = value.map(str::trim) else { return Ok(None) };
    if v.is_empty() {
        return Ok(None);
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(CatalogError::Invalid(format!(
            "{name} holds a control character (U+{:04X}); write it on one line without tabs or control codes \
             / {name_zh}含有控制字符，请写成一行，不含制表符或控制码",
            c as u32
        )));
    }
    let n = v.chars().count();
    if n > max {
        return Err(CatalogError::Invalid(format!(
            "{name} is {n} characters long; at most {max} are kept / {name_zh}共 {n} 个字，最多 {max} 个字"
        )));
    }
    Ok(Some(v.to_string()))
}

impl Text {
    /// Checks the fields: each trimmed, one line without control characters, within its
    /// length (in Unicode characters, so Chinese counts one per character); at least one given.
    ///
    /// # Errors
    /// [`CatalogError::Invalid`], in Chinese and English, naming the field.
    pub fn new(subject: Option<&str>, content: Option<&str>, place: Option<&str>) -> Result<Text, CatalogError> {
        let t = Text {
            subject: field(subject, "the subject (--subject)", "执法对象", MAX_SUBJECT)?,
            content: field(content, "the content (--content)", "执法内容", MAX_CONTENT)?,
            place: field(place, "the place (--place)", "取证地点", MAX_PLACE)?,
        };
        if t.subject.is_none() && t.content.is_none() && t.place.is_none() {
            return Err(CatalogError::Invalid(
                "an empty description: give --subject, --content or --place / 说明为空：请填写执法对象、执法内容或取证地点"
                    .into(),
            ));
        }
        Ok(t)
    }
}

/// A description as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Row id.
    pub id: i64,
    /// `recording:...` or `case:...`.
    pub target: String,
    /// The text.
    pub text: Text,
    /// Operating-system user who wrote it.
    pub written_by: String,
    /// Their officer number, when they are an officer.
    pub officer: Option<String>,
    /// When (RFC 3339, UTC).
    pub written_at: String,
}

impl Description {
    /// One line per field, Chinese first, for labels and `case show`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let d = &self.text;
        for (zh, en, v) in
            [("执法对象", "Subject", &d.subject), ("执法内容", "Content", &d.content), ("取证地点", "Place", &d.place)]
        {
            if let Some(v) = v {
                out.push(format!("{zh} {en}: {v}"));
            }
        }
        out
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Description> {
    Ok(Description {
        id: r.get(0)?,
        target: r.get(1)?,
        text: Text { subject: r.get(2)?, content: r.get(3)?, place: r.get(4)? },
        written_by: r.get(5)?,
        officer: r.get(6)?,
        written_at: r.get(7)?,
    })
}

const COLUMNS: &str = "id, target, subject, content, place, written_by, officer, written_at";

/// Every description of `target` (a `recording:`/`case:` subject), oldest first.
///
/// # Errors
/// When the query fails.
pub fn history_of(conn: &rusqlite::Connection, target: &str) -> rusqlite::Result<Vec<Description>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM descriptions WHERE target = ?1 ORDER BY id"))?;
    let rows = st.query_map(params![target], row)?;
    rows.collect()
}

/// The description in force for `target`: the latest.
///
/// # Errors
/// When the query fails.
pub fn current_of(conn: &rusqlite::Connection, target: &str) -> rusqlite::Result<Option<Description>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM descriptions WHERE target = ?1 ORDER BY id DESC LIMIT 1"),
        params![target],
        row,
    )
    .optional()
}

impl Catalog {
    /// Records a description of `target` (R4, R13; S4 §23). A filer (custodian, archivist)
    /// may describe any footage; an officer (`[officers]` of the configuration) their own: a
    /// recording made on a recorder assigned to them then, or a case that names them as a
    /// handling officer. One transaction with its `footage_described` event (INV-32). Returns
    /// the new row's id.
    ///
    /// # Errors
    /// When the target does not exist, the caller may not describe it, or the write fails.
    pub fn describe(&mut self, target: &Target, text: &Text) -> Result<i64, CatalogError> {
        let filer = matches!(self.actor.role, Role::Custodian | Role::Archivist);
        let officer = self.actor.officer.clone();
        let (subject, owners): (String, Vec<String>) = match target {
            Target::Recording(id) => {
                let r = self.recording(id)?;
                (target.subject(), r.recording.officer.into_iter().collect())
            }
            Target::Case(number) => {
                let c = self.case(number)?;
                (target.subject(), c.label.officers)
            }
        };
        if !filer && !officer.as_ref().is_some_and(|o| owners.contains(o)) {
            return Err(CatalogError::Invalid(format!(
                "user {} may not describe {subject}: only its officer ({}) or a custodian or archivist may \
                 / 只有承办或摄录的执法人员本人、设备管理员或档案管理员可以填写说明",
                self.actor.user,
                if owners.is_empty() { "none recorded".to_string() } else { owners.join(", ") }
            )));
        }
        let now = Utc::now().to_rfc3339();
        let user = self.actor.user.clone();
        let tx = begin(&mut self.conn)?;
        let previous: Option<i64> = tx
            .query_row("SELECT MAX(id) FROM descriptions WHERE target = ?1", params![subject], |r| r.get(0))
            .map_err(sql("reading descriptions"))?;
        tx.execute(
            "INSERT INTO descriptions (target, subject, content, place, written_by, officer, written_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![subject, text.subject, text.content, text.place, user, officer, now],
        )
        .map_err(sql("recording a description"))?;
        let id = tx.last_insert_rowid();
        append(
            &self.actor,
            self.tz,
            &tx,
            Action::FootageDescribed,
            subject,
            json!({
                "description": id, "subject": text.subject, "content": text.content, "place": text.place,
                "written_by": user, "officer": officer, "written_at": now, "supersedes": previous,
            }),
        )?;
        tx.commit().map_err(sql("commit description"))?;
        Ok(id)
    }

    /// Every description of `target`, oldest first.
    ///
    /// # Errors
    /// When the query fails.
    pub fn descriptions(&self, target: &Target) -> Result<Vec<Description>, CatalogError> {
        history_of(&self.conn, &target.subject()).map_err(sql("reading descriptions"))
    }

    /// The description in force for `target`.
    ///
    /// # Errors
    /// When the query fails.
    pub fn description(&self, target: &Target) -> Result<Option<Description>, CatalogError> {
        current_of(&self.conn, &target.subject()).map_err(sql("reading descriptions"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S4 §23 (注明取证人员、取证时间、取证地点): Chinese text is kept as written, counted in
    /// characters; control characters, empty descriptions and overlong fields are refused in
    /// both languages.
    #[test]
    fn description_text_is_checked_in_characters_and_refused_bilingually() {
        let t =
            Text::new(Some(" 某某餐饮有限公司 "), Some("现场检查后厨卫生"), Some("东西湖区吴家山街 12 号")).unwrap();
        assert_eq!(t.subject.as_deref(), Some("某某餐饮有限公司"));
        // 200 Chinese characters are 600 bytes and still fit.
        assert!(Text::new(Some(&"店".repeat(MAX_SUBJECT)), None, None).is_ok());
        let e = Text::new(Some(&"店".repeat(MAX_SUBJECT + 1)), None, None).unwrap_err().to_string();
        assert!(e.contains("201 characters") && e.contains("最多 200 个字"), "{e}");
        for bad in ["a\nb", "a\tb", "a\u{1b}[31mb", "a\u{7f}"] {
            let e = Text::new(None, None, Some(bad)).unwrap_err().to_string();
            assert!(e.contains("control character") && e.contains("控制字符") && e.contains("place"), "{bad:?}: {e}");
        }
        let e = Text::new(Some("  "), None, Some("")).unwrap_err().to_string();
        assert!(e.contains("empty") && e.contains("说明为空"), "{e}");
        assert!(Text::new(None, Some(&"查".repeat(MAX_CONTENT + 1)), None).is_err());
    }
}
