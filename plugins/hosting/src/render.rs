//! The panel's HTML. Every value from the billing system is escaped.

use std::fmt::Write;

use oxidesk_plugin::{escape, PanelHtml};

use crate::whmcs::Summary;

pub fn summary(s: &Summary, admin_url: Option<&str>) -> PanelHtml {
    let mut h = String::from("<section class=\"plugin-hosting\">");
    let who = if s.client.company.is_empty() {
        s.client.name.clone()
    } else {
        format!("{} ({})", s.client.name, s.client.company)
    };
    let _ = write!(
        h,
        "<p class=\"client\">Client #{} · {} · <span class=\"status\">{}</span>",
        s.client.id,
        escape(&who),
        escape(&s.client.status)
    );
    if let Some(url) = admin_url {
        let _ = write!(
            h,
            " · <a href=\"{}/clientssummary.php?userid={}\" rel=\"noopener\" target=\"_blank\">open in billing</a>",
            escape(url),
            s.client.id
        );
    }
    h.push_str("</p>");

    let _ = write!(h, "<h4>Services ({})</h4>", s.services.len());
    if s.services.is_empty() {
        h.push_str("<p class=\"empty\">None active.</p>");
    } else {
        h.push_str("<ul class=\"services\">");
        for svc in &s.services {
            let _ = write!(h, "<li><strong>{}</strong>", escape(&svc.name));
            if !svc.domain.is_empty() {
                let _ = write!(h, " {}", escape(&svc.domain));
            }
            let _ = write!(
                h,
                " · <span class=\"status\">{}</span>",
                escape(&svc.status)
            );
            if !svc.next_due.is_empty() {
                let _ = write!(h, " · due {}", escape(&svc.next_due));
            }
            if !svc.billing_cycle.is_empty() {
                let _ = write!(h, " ({})", escape(&svc.billing_cycle));
            }
            h.push_str("</li>");
        }
        h.push_str("</ul>");
    }

    let _ = write!(h, "<h4>Domains ({})</h4>", s.domains.len());
    if s.domains.is_empty() {
        h.push_str("<p class=\"empty\">None active.</p>");
    } else {
        h.push_str("<ul class=\"domains\">");
        for d in &s.domains {
            let _ = write!(
                h,
                "<li><strong dir=\"ltr\">{}</strong> · <span class=\"status\">{}</span>",
                escape(&d.name),
                escape(&d.status)
            );
            if !d.expires.is_empty() {
                let _ = write!(h, " · expires {}", escape(&d.expires));
            }
            h.push_str("</li>");
        }
        h.push_str("</ul>");
    }

    let u = &s.unpaid;
    let amount = format!(
        "{}{}{}.{:02}{}",
        if u.total_cents < 0 { "-" } else { "" },
        u.currency_prefix,
        (u.total_cents / 100).abs(),
        (u.total_cents % 100).abs(),
        u.currency_suffix
    );
    let _ = write!(
        h,
        "<p class=\"unpaid{}\">Unpaid invoices: {} · total {}</p>",
        if u.count > 0 { " owing" } else { "" },
        u.count,
        escape(&amount)
    );
    h.push_str("</section>");
    PanelHtml::from_markup(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whmcs::{Client, Service, Unpaid};

    #[test]
    fn escapes_everything_from_the_api() {
        let s = Summary {
            client: Client {
                id: 3,
                name: "<script>x</script>".into(),
                company: String::new(),
                status: "Active".into(),
            },
            services: vec![Service {
                name: "VPS \"big\"".into(),
                domain: "a.example".into(),
                status: "Active".into(),
                next_due: "2026-01-01".into(),
                billing_cycle: "Monthly".into(),
            }],
            domains: vec![],
            unpaid: Unpaid {
                count: 1,
                total_cents: 1999,
                currency_prefix: "$".into(),
                currency_suffix: " USD".into(),
            },
        };
        let html = summary(&s, Some("https://b.example/admin")).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("VPS &quot;big&quot;"));
        assert!(html.contains("total $19.99 USD"), "{html}");
        assert!(html.contains("clientssummary.php?userid=3"));
    }
}
