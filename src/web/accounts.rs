//! The station accounts (`/accounts`), for an administrator: every account with its roles and
//! state (`account_list`, never a hash), and the forms that add one, set a new password,
//! disable, enable and unlock (`account_add`, `account_password`, `account_disable`,
//! `account_enable`, `account_unlock`). A password typed here is hashed here (argon2id, off the
//! server's threads) and only its hash goes to the station, as the command line does (INV-42);
//! a new one is typed twice. Each change carries the session's CSRF token and answers 303 back.
//! Renders; holds no station logic.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::render::{esc, may, page};
use super::{api_error_page, see_other, see_other_to, Shared};
use crate::accounts::sessions::Session;
use crate::api::accounts::{AccountView, AddArgs, NameArgs, PasswordArgs};
use crate::api::{self, ApiError, NoArgs};
use crate::custody::event::Role;

/// The roles an account may be given, as the form offers them.
const ROLES: [(&str, &str); 6] = [
    ("officer", Role::Officer.label_zh()),
    ("custodian", Role::Custodian.label_zh()),
    ("archivist", Role::Archivist.label_zh()),
    ("approver", Role::Approver.label_zh()),
    ("supervisor", Role::Supervisor.label_zh()),
    ("admin", Role::Admin.label_zh()),
];

/// `GET /accounts`'s query: the notice of a change just made.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /accounts`.
pub(super) async fn accounts(State(w): State<Arc<Shared>>, headers: HeaderMap, Query(q): Query<Done>) -> Response {
    let Some((_, s)) = w.session(&headers).await else {
        return see_other("/login");
    };
    let notice = match q.done.as_str() {
        "created" => Some("账户已创建 / the account is created"),
        "password" => Some("密码已设置，失败次数与锁定已清除 / the password is set; failures and lockout cleared"),
        "disabled" => Some("账户已停用，其登录会话随即失效 / the account is disabled; its sessions end"),
        "enabled" => Some("账户已启用 / the account is enabled"),
        "unlocked" => Some("账户已解锁 / the account is unlocked"),
        _ => None,
    };
    match w.call(&s, api::Request::AccountList(NoArgs {})).await {
        Ok(api::Reply::AccountList(list)) => Html(render(&s, &list, notice)).into_response(),
        Ok(other) => super::unexpected(&other),
        Err(e) => api_error_page(&e),
    }
}

/// A change, as the browser sends it.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    /// `add`, `password`, `disable`, `enable` or `unlock`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    badge: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
    #[serde(default)]
    role_officer: Option<String>,
    #[serde(default)]
    role_custodian: Option<String>,
    #[serde(default)]
    role_archivist: Option<String>,
    #[serde(default)]
    role_approver: Option<String>,
    #[serde(default)]
    role_supervisor: Option<String>,
    #[serde(default)]
    role_admin: Option<String>,
}

impl ChangeForm {
    fn roles(&self) -> Vec<String> {
        let ticked = [
            &self.role_officer,
            &self.role_custodian,
            &self.role_archivist,
            &self.role_approver,
            &self.role_supervisor,
            &self.role_admin,
        ];
        ROLES.iter().zip(ticked).filter(|(_, t)| t.is_some()).map(|((r, _), _)| (*r).to_string()).collect()
    }
}

/// The hash of a password typed twice, made off the server's threads.
async fn hash_of(password: &str, again: &str) -> Result<String, ApiError> {
    if password != again {
        return Err(ApiError::invalid("the two passwords differ / 两次输入的密码不一致"));
    }
    let password = password.to_string();
    tokio::task::spawn_blocking(move || crate::accounts::hash_password(&password))
        .await
        .map_err(|e| ApiError::failed(format!("hashing the password stopped: {e}")))?
        .map_err(|e| ApiError::invalid(e.to_string()))
}

/// `POST /accounts/change`.
pub(super) async fn change(State(w): State<Arc<Shared>>, headers: HeaderMap, Form(f): Form<ChangeForm>) -> Response {
    let session = match w.changing(&headers, &f.csrf, "account").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Only for an administrator is a password hashed: anyone else's request goes without one,
    // and the station refuses and records it by the rule table.
    let allowed = may(&session, api::Op::AccountAdd);
    let name = f.name.trim().to_string();
    let (request, done) = match f.action.as_str() {
        "add" => {
            let hash = match allowed.then(|| hash_of(&f.password, &f.again)) {
                Some(hashing) => match hashing.await {
                    Ok(h) => h,
                    Err(e) => return api_error_page(&e),
                },
                None => String::new(),
            };
            let badge = Some(f.badge.trim().to_string()).filter(|b| !b.is_empty());
            let add =
                AddArgs { name, display_name: f.display_name.clone(), badge, roles: f.roles(), password_hash: hash };
            (api::Request::AccountAdd(add), "created")
        }
        "password" => {
            let hash = match allowed.then(|| hash_of(&f.password, &f.again)) {
                Some(hashing) => match hashing.await {
                    Ok(h) => h,
                    Err(e) => return api_error_page(&e),
                },
                None => String::new(),
            };
            (api::Request::AccountPassword(PasswordArgs { name, password_hash: hash }), "password")
        }
        "disable" => (api::Request::AccountDisable(NameArgs { name }), "disabled"),
        "enable" => (api::Request::AccountEnable(NameArgs { name }), "enabled"),
        "unlock" => (api::Request::AccountUnlock(NameArgs { name }), "unlocked"),
        other => return api_error_page(&ApiError::invalid(format!("action {other:?} / 操作不正确"))),
    };
    match w.call(&session, request).await {
        Ok(_) => see_other_to(&format!("/accounts?done={done}")),
        Err(e) => api_error_page(&e),
    }
}

/// The accounts page.
pub fn render(who: &Session, list: &[AccountView], notice: Option<&str>) -> String {
    let csrf = esc(&who.csrf);
    let hidden = |action: &str, name: &str| {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"action\" value=\"{action}\">\
             <input type=\"hidden\" name=\"name\" value=\"{}\">",
            esc(name)
        )
    };
    let mut body = String::from("<h1>工作站账户 <small>Station accounts</small></h1>");
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", esc(n));
    }
    body.push_str(
        "<table id=\"accounts\"><thead><tr><th>账户 Account</th><th>姓名 Name</th><th>警号 Badge</th><th>角色 Roles</th>\
         <th>状态 State</th><th></th></tr></thead><tbody>",
    );
    for a in list {
        let n = esc(&a.name);
        let mut forms = String::new();
        let (action, label) = if a.disabled { ("enable", "启用 Enable") } else { ("disable", "停用 Disable") };
        let _ = write!(
            forms,
            "<form method=\"post\" action=\"/accounts/change\" class=\"decide\">{h}\
             <button type=\"submit\" id=\"{action}-{n}\">{label}</button></form>",
            h = hidden(action, &a.name)
        );
        if a.state == "locked" || a.failures > 0 {
            let _ = write!(
                forms,
                "<form method=\"post\" action=\"/accounts/change\" class=\"decide\">{h}\
                 <button type=\"submit\" id=\"unlock-{n}\">解锁 Unlock</button></form>",
                h = hidden("unlock", &a.name)
            );
        }
        let _ = write!(
            forms,
            "<details class=\"password\"><summary id=\"change-password-{n}\">设置密码 <small>Set password</small></summary>\
             <form method=\"post\" action=\"/accounts/change\" class=\"change\">{h}\
             <label>新密码 <small>New password</small><input type=\"password\" name=\"password\" id=\"password-{n}\" \
             required minlength=\"10\" autocomplete=\"new-password\"></label>\
             <label>再次输入 <small>Again</small><input type=\"password\" name=\"again\" id=\"again-{n}\" required \
             minlength=\"10\" autocomplete=\"new-password\"></label>\
             <button type=\"submit\" id=\"set-password-{n}\">设置密码 Set password</button></form></details>",
            h = hidden("password", &a.name)
        );
        let _ = write!(
            body,
            "<tr id=\"account-{n}\"><td>{n}</td><td>{name}</td><td>{badge}</td><td>{roles}</td>\
             <td class=\"state\">{zh} <small>{state}</small>{failures}</td><td>{forms}</td></tr>",
            name = esc(&a.display_name),
            badge = esc(a.badge.as_deref().unwrap_or("—")),
            roles = a
                .roles
                .iter()
                .map(|r| match ROLES.iter().find(|(en, _)| en == r) {
                    Some((en, zh)) => format!("{zh} <small>{en}</small>"),
                    None => esc(r),
                })
                .collect::<Vec<_>>()
                .join("<br>"),
            zh = esc(&a.state_zh),
            state = esc(&a.state),
            failures = if a.failures > 0 {
                format!("<br><small>失败 {} 次 failures</small>", a.failures)
            } else {
                String::new()
            },
        );
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"6\">尚无工作站账户 / no station account</td></tr>");
    }
    body.push_str("</tbody></table>");
    let mut roles = String::new();
    for (r, zh) in ROLES {
        let _ = write!(
            roles,
            "<label class=\"check\"><input type=\"checkbox\" name=\"role_{r}\" value=\"1\" id=\"new-role-{r}\"> {zh} <small>{r}</small></label>"
        );
    }
    let _ = write!(
        body,
        "<h2>新建账户 <small>Add an account</small></h2>\
         <form method=\"post\" action=\"/accounts/change\" class=\"change\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"action\" value=\"add\">\
         <label>账户名 <small>Account (letters, digits, . _ -)</small><input name=\"name\" id=\"new-name\" required maxlength=\"32\"></label>\
         <label>姓名 <small>Name</small><input name=\"display_name\" id=\"new-display-name\" required maxlength=\"64\"></label>\
         <label>警号 <small>Badge (an officer's)</small><input name=\"badge\" id=\"new-badge\"></label>\
         <fieldset><legend>角色 <small>Roles</small></legend>{roles}</fieldset>\
         <label>密码 <small>Password, at least 10 characters</small><input type=\"password\" name=\"password\" id=\"new-password\" \
         required minlength=\"10\" autocomplete=\"new-password\"></label>\
         <label>再次输入 <small>Again</small><input type=\"password\" name=\"again\" id=\"new-again\" required minlength=\"10\" \
         autocomplete=\"new-password\"></label>\
         <button type=\"submit\" id=\"add-account\">创建 Add</button></form>\
         <p><a href=\"/\">返回 Back</a></p>"
    );
    page("工作站账户 Accounts · evidock", Some(who), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_ticked_are_sent_in_the_order_accounts_hold_them() {
        let f = ChangeForm { role_admin: Some("1".into()), role_officer: Some("1".into()), ..ChangeForm::default() };
        assert_eq!(f.roles(), ["officer", "admin"]);
        assert!(ChangeForm::default().roles().is_empty());
    }
}
