//! Export onto a removable drive from the page (R9): an archivist or custodian exports the
//! footage of an approved copy or export request onto a drive mounted under `[web]
//! export_root` (each folder directly under it one drive), through the station API's `export`
//! (`api::export`), which holds the approval again, checks every file against the custody log,
//! copies, reads back, and writes the manifests and the custody extract.
//!
//! Owns: the list of drives, and the export's own folder on the drive: made as
//! `.evidock-export-N.partial/`, sent to `export` as an open folder, renamed to
//! `evidock-export-N` once the station answers, removed when it did not (as the command line
//! does, `api::export::PreparedExport`).
//! Must never: write anywhere but into a folder directly under `export_root` that it listed
//! itself (a drive named in a form is matched against that list, never joined as a path), or
//! copy footage itself.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{api_error_page, caller, see_other_to, Shared};
use crate::api::{self, ApiError};

/// The drives mounted under `root`: the folders directly under it, by name, hidden ones and
/// anything but a folder left out. Empty when `root` cannot be read.
pub fn drives(root: &std::path::Path) -> Vec<String> {
    let Ok(listed) = std::fs::read_dir(root) else { return Vec::new() };
    let mut out: Vec<String> = listed
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// The export form, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: i64,
    #[serde(default)]
    drive: String,
}

/// `POST /access/export`: the request's footage onto the drive chosen.
pub(super) async fn export(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ExportForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "export").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(root) = w.config.web.export_root.clone() else {
        return api_error_page(&ApiError::invalid(
            "this station exports from the page only with [web] export_root set / 本工作站未配置移动存储导出目录",
        ));
    };
    let config = w.config.clone();
    let who = caller(&session);
    let done = tokio::task::spawn_blocking(move || {
        // The drive named must be one listed now: never a path the form made up.
        let Some(drive) = drives(&root).into_iter().find(|d| *d == f.drive) else {
            return Err(ApiError::invalid(format!(
                "no drive {:?} is mounted under {}; plug it in, then reload the page / 未找到所选移动存储",
                f.drive,
                root.display()
            )));
        };
        let to = root.join(&drive);
        let prepared = api::export::PreparedExport::make(&to, f.id, None)
            .map_err(|e| ApiError::failed(format!("{e:#} / 无法在移动存储上建立导出文件夹")))?;
        let dir = match std::fs::File::open(prepared.folder()) {
            Ok(d) => d,
            Err(e) => {
                prepared.abandon();
                return Err(ApiError::failed(format!("opening the export's folder: {e} / 无法打开导出文件夹")));
            }
        };
        let name = to.display().to_string();
        let request = api::Request::Export(api::export::ExportArgs { request: f.id, folder: name.clone() });
        match api::call(&config, &who, request, vec![(name, dir.into())]) {
            Ok(api::Reply::Export(e)) => {
                prepared.finish().map_err(|e| ApiError::failed(format!("{e:#} / 导出文件夹未能就位")))?;
                Ok(e)
            }
            Ok(other) => {
                prepared.abandon();
                Err(ApiError::failed(format!("unexpected reply {:?}", other.op())))
            }
            Err(e) => {
                prepared.abandon();
                Err(e)
            }
        }
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::failed(format!("the export stopped: {e} / 导出意外中止"))));
    match done {
        Ok(e) => see_other_to(&format!("/access?done=exported&id={}", e.request)),
        Err(e) => api_error_page(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drives_are_the_visible_folders_directly_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("U盘-KINGSTON")).unwrap();
        std::fs::create_dir(root.path().join("SANDISK")).unwrap();
        std::fs::create_dir(root.path().join(".hidden")).unwrap();
        std::fs::write(root.path().join("a-file"), b"x").unwrap();
        assert_eq!(drives(root.path()), ["SANDISK", "U盘-KINGSTON"]);
        assert!(drives(&root.path().join("absent")).is_empty());
    }
}
