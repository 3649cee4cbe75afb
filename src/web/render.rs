//! The pages as HTML text, Chinese first with English beside it (pure: values in, text out).
//! Every text that comes from a recorder, the catalogue or a person is escaped ([`esc`]).

use std::fmt::Write as _;

use crate::accounts::sessions::Session;
use crate::api::device::Device;
use crate::ingest::Snapshot;

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// [`esc`] for text shown in a `<pre>`: each line escaped, the line breaks kept.
pub fn esc_lines(text: &str) -> String {
    text.lines().map(esc).collect::<Vec<_>>().join("\n")
}

/// A whole page: `title` (already bilingual), the signed-in person's bar when there is one,
/// and `body`.
pub fn page(title: &str, who: Option<&Session>, body: &str) -> String {
    let bar = who.map_or_else(String::new, |s| {
        let roles: Vec<&str> = s.account.roles.iter().map(|r| r.label_zh()).collect();
        format!(
            "<header class=\"who\"><span>{name}（{roles}）</span>\
             <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" id=\"logout\">退出 Sign out</button></form></header>",
            name = esc(&s.account.display_name),
            roles = esc(&roles.join("、")),
            csrf = esc(&s.csrf),
        )
    });
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\
         <body>{bar}<main>{body}</main></body></html>",
        title = esc(title),
    )
}

/// The sign-in page: `notice` is a bilingual message (a failure), `pre` the pre-session CSRF
/// token its form carries back.
pub fn sign_in(notice: Option<&str>, pre: &str) -> String {
    let notice = notice.map_or_else(String::new, |n| format!("<p class=\"notice\" id=\"notice\">{}</p>", esc(n)));
    page(
        "登录 Sign in · evidock",
        None,
        &format!(
            "<h1>执法记录仪工作站<br><small>Body-recorder docking station</small></h1>{notice}\
             <form method=\"post\" action=\"/login\" class=\"signin\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{pre}\">\
             <label>警号或账户名 <small>Badge number or account</small>\
             <input name=\"name\" id=\"name\" autocomplete=\"username\" required autofocus></label>\
             <label>密码 <small>Password</small>\
             <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\" id=\"signin\">登录 Sign in</button></form>",
            pre = esc(pre),
        ),
    )
}

/// A message page (a refusal).
pub fn message(title: &str, text: &str) -> String {
    page(
        title,
        None,
        &format!(
            "<h1>{}</h1><p class=\"notice\" id=\"notice\">{}</p><p><a href=\"/\">返回 Back</a></p>",
            esc(title),
            esc(text)
        ),
    )
}

/// Seconds as `m:ss` or `h:mm:ss`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The bay screen's live part: one panel per bay, the undock sign in big letters. Sent again,
/// whole, by the server-sent events as bays change.
pub fn bays(snaps: &[Snapshot]) -> String {
    if snaps.is_empty() {
        return "<p class=\"empty\" id=\"no-bays\">没有接入的记录仪<br><small>No recorder docked</small></p>".into();
    }
    let mut out = String::new();
    for s in snaps {
        let _ = write!(out, "{}", bay(s));
    }
    out
}

fn bay(s: &Snapshot) -> String {
    let name = s.serial.as_deref().unwrap_or(&s.volume);
    let (class, sign) = if s.safe_to_undock {
        ("safe", "可以拔出<br><small>safe to undock</small>")
    } else if s.phase.is_final() {
        ("alarm", "请勿拔出，请联系设备管理员<br><small>do not undock: see the custodian</small>")
    } else {
        ("busy", "正在导入，请勿拔出<br><small>ingesting: do not undock</small>")
    };
    let officer = s.officer.as_deref().map_or_else(|| "—".to_string(), esc);
    let pct = s
        .bytes_done
        .saturating_mul(100)
        .checked_div(s.bytes_total)
        .unwrap_or(if s.phase.is_final() { 100 } else { 0 })
        .min(100);
    let eta = crate::daemon::status::eta_s(s)
        .map_or_else(String::new, |e| format!("<span class=\"eta\">剩余 {} <small>left</small></span>", duration(e)));
    let mut verdicts = String::new();
    for (v, n) in &s.verdicts {
        let _ = write!(verdicts, "<li class=\"verdict-{v}\">{} {n}</li>", esc(&verdict_label(v)));
    }
    let mut alarms = String::new();
    if s.stalled {
        alarms.push_str("<li>存档磁盘无响应 <small>archive disk not responding</small></li>");
    }
    if s.contradictions > 0 {
        let _ = write!(alarms, "<li>记录矛盾 {} 处 <small>contradictions</small></li>", s.contradictions);
    }
    if s.unexplained_gaps > 0 {
        let _ = write!(alarms, "<li>未说明的中断 {} 处 <small>unexplained gaps</small></li>", s.unexplained_gaps);
    }
    if s.clock_unreliable {
        alarms.push_str("<li>记录仪时钟偏差过大 <small>recorder clock unreliable</small></li>");
    }
    if let Some(note) = &s.registry_note {
        let _ = write!(alarms, "<li>{}</li>", esc(note));
    }
    let alarms = if alarms.is_empty() { String::new() } else { format!("<ul class=\"alarms\">{alarms}</ul>") };
    let message =
        if s.message.is_empty() { String::new() } else { format!("<p class=\"message\">{}</p>", esc(&s.message)) };
    format!(
        "<section class=\"bay {class}\" id=\"bay-{vol}\" data-phase=\"{phase}\">\
         <h2>{name}</h2><p class=\"sign\" id=\"sign-{vol}\">{sign}</p><p class=\"officer\">警员 <small>Officer</small> {officer}</p>\
         <p class=\"phase\">{phase_zh} <small>{phase}</small></p>\
         <div class=\"bar\"><div style=\"width:{pct}%\"></div></div>\
         <p class=\"counts\">{done} / {total} 个文件 <small>files</small> {eta}</p>\
         <ul class=\"verdicts\">{verdicts}</ul>{alarms}{message}</section>",
        vol = esc(&s.volume),
        name = esc(name),
        phase = s.phase.as_str(),
        phase_zh = s.phase.label_zh(),
        done = s.files_done,
        total = s.files_total,
    )
}

/// A verdict's words, Chinese first.
pub(super) fn verdict_label(v: &str) -> String {
    let zh = match v {
        "verified" => "已校验",
        "altered" => "被修改",
        "missing" => "缺失",
        "inserted" => "插入",
        "reordered" => "顺序错乱",
        "truncated" => "被截断",
        "unchained" => "无链记录",
        "sealed" => "已封存",
        _ => "",
    };
    if zh.is_empty() {
        v.to_string()
    } else {
        format!("{zh} {v}")
    }
}

/// Whether the account's roles may call `op`, by the station API's rule table (a form or link
/// is offered only then; the API decides again when it is used).
pub fn may(who: &Session, op: crate::api::Op) -> bool {
    op.roles().iter().any(|r| who.account.roles.contains(r))
}

/// Links to the pages the account may use: those whose operation the station API's rule table
/// grants one of its roles (the table decides; the link only saves a refused visit). `central`:
/// whether the station keeps a central copy (the page of a station without one is left out).
pub fn pages(who: &Session, central: bool) -> String {
    use crate::api::Op;
    let may_any = |ops: &[Op]| ops.iter().any(|op| may(who, *op));
    let mut links = String::new();
    for (ops, href, id, zh, en) in [
        (&[Op::FootageMine][..], "/mine", "to-mine", "我的录像", "My footage"),
        (&[Op::AccessList], "/access", "to-access", "调阅申请", "Access requests"),
        (&[Op::DeviceList], "/devices", "to-devices", "记录仪登记", "Devices"),
        (&[Op::DutyOut, Op::DutyApprove, Op::DutyReport], "/duty", "to-duty", "领用与归队", "Duty"),
        (&[Op::GapReview, Op::GapExempt, Op::GapExemptApprove], "/gaps", "to-gaps", "录像中断", "Gaps"),
        (&[Op::CaseList], "/cases", "to-cases", "案件", "Cases"),
        (&[Op::RetentionDue], "/retention", "to-retention", "保存期限", "Retention"),
        (&[Op::Status], "/alarms", "to-alarms", "警报与状态", "Alarms"),
        (if central { &[Op::ReplicateStatus][..] } else { &[] }, "/central", "to-central", "中心存储", "Central copy"),
        (&[Op::LogQuery], "/log", "to-log", "保管日志", "Custody log"),
        (&[Op::ReportCompliance], "/reports", "to-reports", "报告", "Reports"),
        (&[Op::DiscList], "/discs", "to-discs", "光盘", "Discs"),
        (&[Op::AccountList], "/accounts", "to-accounts", "工作站账户", "Accounts"),
    ] {
        if may_any(ops) {
            let _ = write!(links, "<a href=\"{href}\" id=\"{id}\">{zh} <small>{en}</small></a>");
        }
    }
    if links.is_empty() {
        String::new()
    } else {
        format!("<nav class=\"pages\">{links}</nav>")
    }
}

/// The bay screen: the live part, and the script that keeps it live.
pub fn bay_screen(who: &Session, snaps: &[Snapshot], central: bool) -> String {
    page(
        "接入状态 Bays · evidock",
        Some(who),
        &format!(
            "<h1>接入状态 <small>Bays</small></h1>{}<div id=\"bays\" class=\"bays\">{}</div>\
             <p class=\"live\" id=\"live\">实时更新 <small>live</small></p><script src=\"/static/bays.js\"></script>",
            pages(who, central),
            bays(snaps)
        ),
    )
}

/// The custodian's device registry (R1): every registered recorder, its officer and unit, its
/// USB bindings, and whether it is retired. Times are as the registry gives them.
pub fn devices(who: &Session, devices: &[Device], notice: Option<&str>, forms: &str) -> String {
    let mut rows = String::new();
    for d in devices {
        let _ = write!(
            rows,
            "<tr><td class=\"serial\">{serial}</td><td>{model}</td><td>{name} ({officer})</td><td>{unit}</td>\
             <td>{usb}</td><td>{state}</td></tr>",
            serial = esc(&d.serial),
            model = esc(d.model.as_deref().unwrap_or("—")),
            name = esc(d.officer_name.as_deref().unwrap_or("—")),
            officer = esc(&d.officer_id),
            unit = esc(d.unit.as_deref().unwrap_or("—")),
            usb = esc(&d.usb.join(", ")),
            state = match &d.retired {
                Some(at) => format!("已停用 retired {}", esc(at)),
                None => "在用 in service".to_string(),
            },
        );
    }
    if devices.is_empty() {
        rows.push_str("<tr><td colspan=\"6\">尚无登记的记录仪 / no recorder registered</td></tr>");
    }
    page(
        "记录仪登记 Device registry · evidock",
        Some(who),
        &format!(
            "<h1>记录仪登记 <small>Device registry</small></h1>{notice}\
             <table id=\"devices\"><thead><tr><th>编号 Serial</th><th>型号 Model</th><th>执法人员 Officer</th>\
             <th>单位 Unit</th><th>USB</th><th>状态 State</th></tr></thead><tbody>{rows}</tbody></table>{forms}\
             <p><a href=\"/\">返回 Back</a></p>",
            notice = notice.map_or_else(String::new, |n| format!("<p class=\"done\" id=\"done\">{}</p>", esc(n))),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Phase;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<b a=\"x\">&'\n"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39; ");
        // In a <pre>, the line breaks stay and nothing else passes unescaped.
        assert_eq!(esc_lines("案件 <1>\n当事人: \"甲\"\u{7}\n"), "案件 &lt;1&gt;\n当事人: &quot;甲&quot; ");
        let s = Snapshot {
            volume: "<script>".into(),
            officer: Some("012345 <img>".into()),
            phase: Phase::Copying,
            ..Snapshot::default()
        };
        let html = bays(&[s]);
        assert!(!html.contains("<script>") && !html.contains("<img>"), "{html}");
        assert!(html.contains("012345 &lt;img&gt;"));
    }

    #[test]
    fn the_undock_sign_follows_the_bay() {
        let mut s = Snapshot { volume: "A100001".into(), phase: Phase::Copying, ..Snapshot::default() };
        assert!(bays(std::slice::from_ref(&s)).contains("正在导入，请勿拔出"));
        s.phase = Phase::Attention;
        assert!(bays(std::slice::from_ref(&s)).contains("请联系设备管理员"));
        s.phase = Phase::Done;
        s.safe_to_undock = true;
        s.verdicts.insert("verified".into(), 3);
        let html = bays(&[s]);
        assert!(html.contains("可以拔出<br><small>safe to undock</small>"), "{html}");
        assert!(html.contains("已校验 verified 3"));
        assert!(bays(&[]).contains("没有接入的记录仪"));
        assert_eq!(duration(61), "1:01");
        assert_eq!(duration(3_725), "1:02:05");
    }
}
